using System.Text.Json;
using Grpc.Core;
using MathV2.Activities;
using MathV2.Api;
using MathV2.Core.Artifacts;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using MathV2.Core.Storage;
using MathV2.Tests;
using Microsoft.DurableTask.Client;
using static MathV2.Tests.HttpTestKit;

namespace MathV2.Functions.Tests;

/// <summary>Labels for a phase that no longer waits: a 409 that says so, never a 500; nothing stored when it is known in time.</summary>
public sealed class AnnotationSubmitTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    readonly RecordingDurableTaskClient _client = new();

    async Task<(LapHandlers Handlers, AnnotationBatch Batch, string Labels)> BatchAsync()
    {
        var store = new ArtifactStore(azurite.Storage);
        string lap = $"lap-{Guid.NewGuid():N}"[..16], samples = $"samples-{Guid.NewGuid():N}"[..24];
        var w = store.Create(samples, "samples", StorageNames.JobsContainer, $"test/{samples}", new ArtifactProducer { Job = "j1", Attempt = 1 });
        await w.AddTextAsync("completions.jsonl", string.Concat(Enumerable.Range(0, 3).Select(p =>
            JsonSerializer.Serialize(new { id = $"q{p}", index = 0, completion = $"## Solution\nProof {p}.\n## Self Evaluation\n\\boxed{{1}}", finishReason = "stop" }) + "\n")));
        await w.CommitAsync();
        var batch = await new CreateAnnotationBatch(azurite.Storage, store).ExecuteAsync(new CreateAnnotationBatchInput
        {
            LapId = lap, Phase = "1a", InstanceId = $"{lap}-1a", Samples = samples, BatchSize = 3, Seed = 1,
        });
        var items = AnnotationValidation.ReadItems(await LapStore.ReadTextAsync(azurite.Storage, StorageNames.AnnotationsContainer, batch.ItemsPath));
        var handlers = new LapHandlers(azurite.Storage, store, new GpuJobClient(azurite.Storage), new GpuJobLimits());
        return (handlers, batch, string.Concat(items.Select(i => JsonSerializer.Serialize(new { itemId = i.ItemId, score = 1 }) + "\n")));
    }

    async Task<(int Status, JsonElement Body)> SubmitAsync(LapHandlers handlers, AnnotationBatch batch, string labels)
    {
        var ctx = Context("POST", $"/api/laps/{batch.LapId}/annotations/{batch.BatchId}", labels);
        var (status, _, body) = await Run(ctx, await handlers.SubmitAnnotationsAsync(ctx.Request, _client, batch.LapId, batch.BatchId));
        return (status, body);
    }

    async Task<bool> StoredAsync(AnnotationBatch batch) =>
        (await azurite.Storage.Container(StorageNames.AnnotationsContainer).GetBlobClient(batch.LabelsPath).ExistsAsync()).Value;

    [Fact]
    public async Task A_phase_that_stopped_waiting_answers_409_and_nothing_is_stored()
    {
        var (handlers, batch, labels) = await BatchAsync();
        _client.Add(batch.InstanceId, OrchestrationRuntimeStatus.Terminated);
        var (status, body) = await SubmitAsync(handlers, batch, labels);
        Assert.Equal(409, status);
        Assert.Contains("no longer waits", body.GetProperty("detail").GetString());
        Assert.False(await StoredAsync(batch));
        Assert.Empty(_client.Calls);
    }

    [Fact]
    public async Task A_phase_that_stops_while_the_labels_are_stored_answers_409_not_500()
    {
        var (handlers, batch, labels) = await BatchAsync();
        _client.Add(batch.InstanceId, OrchestrationRuntimeStatus.Running);
        // The Functions host's answer to an event for an instance that just finished.
        _client.RaiseFails = _ => new RpcException(new Status(StatusCode.FailedPrecondition, "The orchestration instance with the provided instance id is not running."));
        var (status, body) = await SubmitAsync(handlers, batch, labels);
        Assert.Equal(409, status);
        Assert.Contains("stopped waiting", body.GetProperty("detail").GetString());
        Assert.True(await StoredAsync(batch));   // kept, as the answer says
    }

    [Fact]
    public async Task A_waiting_phase_takes_the_labels()
    {
        var (handlers, batch, labels) = await BatchAsync();
        _client.Add(batch.InstanceId, OrchestrationRuntimeStatus.Running);
        var (status, body) = await SubmitAsync(handlers, batch, labels);
        Assert.Equal(202, status);
        Assert.Equal(3, body.GetProperty("labels").GetInt32());
        Assert.Equal([$"raise:{batch.InstanceId}:{AnnotationEvents.Submitted(batch.BatchId)}"], _client.Calls);
    }
}
