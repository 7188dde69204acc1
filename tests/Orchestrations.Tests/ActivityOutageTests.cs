using Azure;
using MathV2.Activities;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;

namespace MathV2.Orchestrations.Tests;

/// <summary>
/// Activities whose storage is unavailable are run again in place, so the orchestration (which has no retry policy)
/// sees one attempt that succeeded; after the patience, or on any other failure, the activity fails.
/// </summary>
public sealed class ActivityOutageTests
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

    static readonly ActivityOutage Quick = new(TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(40));

    static async Task<(OrchestrationMetadata Meta, int Calls, List<string> Log)> RunAsync(Func<int, Exception?> fail)
    {
        var submit = new ScriptedSubmit(fail);
        var log = new ListLogger();
        await using var host = await TestHosts.StartAsync(r =>
        {
            r.AddOrchestrator<RunGpuJob>();
            r.AddActivity(new TaskName(TaskNames.SubmitGpuJob), _ => new StorageFaultGuard(submit, TaskNames.SubmitGpuJob, log, Quick));
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
        return (meta, submit.Calls, log.Lines);
    }

    sealed class ListLogger : Microsoft.Extensions.Logging.ILogger
    {
        public readonly List<string> Lines = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel level) => true;
        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel level, Microsoft.Extensions.Logging.EventId id, TState state, Exception? e, Func<TState, Exception?, string> format)
        {
            lock (Lines) Lines.Add(format(state, e));
        }
    }

    [Fact]
    public async Task An_activity_whose_storage_is_down_is_run_again_in_place_until_storage_is_back()
    {
        // The SDK's own retries gave up twice ("Retry failed after 4 tries"); the third call finds storage back.
        // RunGpuJob has no retry policy: it completes only because its one scheduled attempt succeeded.
        var (meta, calls, log) = await RunAsync(n => n <= 2 ? new AggregateException("Retry failed after 4 tries.", Refused, Refused) : null);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, meta.RuntimeStatus);
        Assert.Equal(3, calls);
        Assert.Equal("job-r.attempt-1", meta.ReadOutputAs<GpuJobOutcome>()!.ResultArtifactId);
        Assert.Equal(2, log.Count);
        Assert.StartsWith("activity SubmitGpuJob of job-r: storage unavailable (Connection refused (127.0.0.1:10000)); retrying for up to 3 s", log[0]);
        Assert.Equal("activity SubmitGpuJob of job-r: storage is back after 2 retries", log[1]);
    }

    [Fact]
    public async Task An_outage_longer_than_the_patience_fails_the_activity_naming_the_cause()
    {
        var (meta, calls, _) = await RunAsync(_ => Refused);
        Assert.Equal(OrchestrationRuntimeStatus.Failed, meta.RuntimeStatus);
        Assert.True(calls > 3, $"{calls} calls");
        Assert.Contains("storage unavailable: Connection refused (127.0.0.1:10000)", meta.FailureDetails!.ErrorMessage);
    }

    [Fact]
    public async Task Any_other_failure_fails_at_once()
    {
        var (meta, calls, _) = await RunAsync(_ => new RequestFailedException(404, "The specified container does not exist."));
        Assert.Equal(OrchestrationRuntimeStatus.Failed, meta.RuntimeStatus);
        Assert.Equal(1, calls);
        Assert.Contains("does not exist", meta.FailureDetails!.ErrorMessage);
        (meta, calls, _) = await RunAsync(_ => new InvalidOperationException("a bug"));
        Assert.Equal((OrchestrationRuntimeStatus.Failed, 1), (meta.RuntimeStatus, calls));
    }
}
