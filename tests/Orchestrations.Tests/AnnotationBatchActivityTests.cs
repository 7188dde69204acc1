using System.Text.Json;
using MathV2.Activities;
using MathV2.Core.Artifacts;
using MathV2.Core.Laps;
using MathV2.Core.Storage;
using MathV2.Tests;

namespace MathV2.Orchestrations.Tests;

/// <summary>CreateAnnotationBatch on Azurite: which samples a labelling batch takes.</summary>
public sealed class AnnotationBatchActivityTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    async Task<string> SamplesAsync(ArtifactStore store)
    {
        // 40 prompts with two proofs each, as a sample job writes them.
        string id = $"samples-{Guid.NewGuid():N}"[..24];
        var lines = from p in Enumerable.Range(0, 40)
                    from k in Enumerable.Range(0, 2)
                    select JsonSerializer.Serialize(new { id = $"q{p}", index = k, completion = $"## Solution\nProof {p}.{k}.\n## Self Evaluation\n\\boxed{{1}}", finishReason = "stop" });
        var w = store.Create(id, "samples", StorageNames.JobsContainer, $"test/{id}", new ArtifactProducer { Job = "j1", Attempt = 1 });
        await w.AddTextAsync("completions.jsonl", string.Join('\n', lines) + "\n");
        await w.CommitAsync();
        return id;
    }

    async Task<IReadOnlyList<string>> PickedAsync(string lapId, int seed, string samples)
    {
        var activity = new CreateAnnotationBatch(azurite.Storage, new ArtifactStore(azurite.Storage));
        var batch = await activity.ExecuteAsync(new CreateAnnotationBatchInput { LapId = lapId, Phase = "1a", InstanceId = lapId, Samples = samples, BatchSize = 10, Seed = seed });
        Assert.Equal($"{lapId}-1a-batch", batch.BatchId);
        var items = AnnotationValidation.ReadItems(await LapStore.ReadTextAsync(azurite.Storage, StorageNames.AnnotationsContainer, batch.ItemsPath));
        return items.Select(i => i.Proof).ToList();
    }

    static string NewLap() => $"lap-{Guid.NewGuid():N}"[..16];

    [Fact]
    public async Task Laps_with_the_same_seed_label_the_same_proofs_whatever_their_ids()
    {
        string samples = await SamplesAsync(new ArtifactStore(azurite.Storage));
        string lap1 = NewLap(), lap2 = NewLap(), lap3 = NewLap();
        var first = await PickedAsync(lap1, seed: 1, samples);
        Assert.Equal(10, first.Count);
        Assert.Equal(10, first.Distinct().Count());
        Assert.All(first, p => Assert.EndsWith(".0.", p));   // every prompt's first proof before any second
        Assert.Equal(first, await PickedAsync(lap2, seed: 1, samples));
        Assert.NotEqual(first, await PickedAsync(lap3, seed: 2, samples));
    }
}
