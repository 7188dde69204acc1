using Azure;
using MathV2.Activities;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;

namespace MathV2.Orchestrations.Tests;

/// <summary>Activities whose storage is unavailable are run again after a pause; other failures are not.</summary>
public sealed class ActivityRetryTests
{
    /// <summary>SubmitGpuJob scripted: it throws what <c>fail</c> gives for the n-th call (null: succeeds).</summary>
    sealed class ScriptedSubmit(Func<int, Exception?> fail) : TaskActivity<GpuJobSpec, GpuJobRecord>
    {
        public int Calls;

        public override Task<GpuJobRecord> RunAsync(TaskActivityContext context, GpuJobSpec spec) =>
            fail(++Calls) is { } e ? throw e
                : Task.FromResult(new GpuJobRecord { JobId = spec.JobId, Kind = "probe", Status = GpuJobStatus.Succeeded, InstanceId = spec.JobId, Attempt = 1, ResultArtifactId = $"{spec.JobId}.attempt-1" });
    }

    static readonly RequestFailedException Refused = new(0, "Connection refused", new HttpRequestException("Connection refused (127.0.0.1:10000)"));

    static async Task<(OrchestrationMetadata Meta, int Calls)> RunAsync(Func<int, Exception?> fail)
    {
        var submit = new ScriptedSubmit(fail);
        await using var host = await TestHosts.StartAsync(r =>
        {
            r.AddOrchestrator<RunGpuJob>();
            r.AddActivity(new TaskName(TaskNames.SubmitGpuJob), _ => new StorageFaultGuard(submit));
            // The record says Succeeded at the first poll: the job is done.
            r.AddActivityFunc<string, GpuJobRecord>(TaskNames.GetJobStatus, (_, id) => new GpuJobRecord
            {
                JobId = id, Kind = "probe", Status = GpuJobStatus.Succeeded, InstanceId = id, Attempt = 1, ResultArtifactId = $"{id}.attempt-1",
            });
        });
        var spec = new GpuJobSpec { JobId = "job-r", Kind = "probe", InstanceId = "job-r", Limits = new GpuJobLimits { PollSeconds = 1 } };
        string id = await host.Client.ScheduleNewOrchestrationInstanceAsync(nameof(RunGpuJob), spec, new StartOrchestrationOptions("job-r"));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var meta = await host.Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, cts.Token);
        return (meta, submit.Calls);
    }

    [Fact]
    public async Task An_activity_whose_storage_is_down_is_run_again_until_storage_is_back()
    {
        // The SDK's own retries gave up twice ("Retry failed after 4 tries"); the third call finds storage back.
        var (meta, calls) = await RunAsync(n => n <= 2 ? new AggregateException("Retry failed after 4 tries.", Refused, Refused) : null);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, meta.RuntimeStatus);
        Assert.Equal(3, calls);
        Assert.Equal("job-r.attempt-1", meta.ReadOutputAs<GpuJobOutcome>()!.ResultArtifactId);
    }

    [Fact]
    public async Task Any_other_failure_fails_at_once()
    {
        var (meta, calls) = await RunAsync(_ => new RequestFailedException(404, "The specified container does not exist."));
        Assert.Equal(OrchestrationRuntimeStatus.Failed, meta.RuntimeStatus);
        Assert.Equal(1, calls);
        Assert.Contains("does not exist", meta.FailureDetails!.ErrorMessage);
        (meta, calls) = await RunAsync(_ => new InvalidOperationException("a bug"));
        Assert.Equal((OrchestrationRuntimeStatus.Failed, 1), (meta.RuntimeStatus, calls));
    }

    [Fact]
    public void Only_a_storage_unavailable_failure_is_retried()
    {
        Assert.True(ActivityRetry.IsStorageUnavailable(new TaskFailureDetails(typeof(StorageUnavailableException).FullName!, "storage unavailable: Connection refused", null, null, null)));
        Assert.False(ActivityRetry.IsStorageUnavailable(new TaskFailureDetails("System.AggregateException", "Retry failed after 4 tries.", null, null, null)));
        Assert.False(ActivityRetry.IsStorageUnavailable(new TaskFailureDetails("System.InvalidOperationException", "GPU job failed", null, null, null)));
    }
}
