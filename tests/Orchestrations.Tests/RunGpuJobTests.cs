using System.Collections.Concurrent;
using MathV2.Core;
using MathV2.Core.Jobs;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;

namespace MathV2.Orchestrations.Tests;

/// <summary>
/// The orchestrator side of the job protocol, on the in-memory test engine with scripted activities
/// (the storage-backed activities and real processes are covered in Host.Tests).
/// </summary>
public sealed class RunGpuJobTests
{
    /// <summary>A scripted job record the activities read and change, and the calls they saw.</summary>
    sealed class Script
    {
        public GpuJobStatus Status = GpuJobStatus.Queued;
        public int Attempt;
        public DateTimeOffset QueuedAt = DateTimeOffset.UtcNow;
        public DateTimeOffset? HeartbeatAt;
        public bool FailureConfirmed;
        public ConcurrentQueue<string> Calls = new();

        public GpuJobRecord Record(string id) => new()
        {
            JobId = id, Kind = "probe", Status = Status, InstanceId = id, Attempt = Attempt, QueuedAt = QueuedAt, HeartbeatAt = HeartbeatAt,
            Error = Status == GpuJobStatus.Failed ? "boom" : null,
        };
    }

    static async Task<(DurableTaskTestHost Host, Script Script)> StartAsync(Func<Script, GpuJobRecord, GpuJobRecord>? onPoll = null)
    {
        var s = new Script();
        var host = await TestHosts.StartAsync(r =>
        {
            r.AddOrchestrator<RunGpuJob>();
            r.AddActivityFunc<GpuJobSpec, GpuJobRecord>(TaskNames.SubmitGpuJob, (_, spec) => { s.Calls.Enqueue("submit"); return s.Record(spec.JobId); });
            r.AddActivityFunc<string, GpuJobRecord>(TaskNames.GetJobStatus, (_, id) => { s.Calls.Enqueue("poll"); return onPoll?.Invoke(s, s.Record(id)) ?? s.Record(id); });
            r.AddActivityFunc<string, GpuJobRecord>(TaskNames.RequeueStaleGpuJob, (_, id) =>
            {
                s.Calls.Enqueue("requeue");
                (s.Status, s.QueuedAt) = (GpuJobStatus.Queued, DateTimeOffset.UtcNow);
                return s.Record(id);
            });
            r.AddActivityFunc<FailGpuJobInput, GpuJobRecord>(TaskNames.FailGpuJob, (_, input) =>
            {
                s.Calls.Enqueue("fail:" + input.Reason);
                if (!s.FailureConfirmed) { s.FailureConfirmed = true; s.Status = GpuJobStatus.Failed; throw new InvalidOperationException($"GPU job failed: {input.Reason}"); }
                s.FailureConfirmed = false;
                s.Status = GpuJobStatus.Queued;
                return s.Record(input.JobId);
            });
        });
        return (host, s);
    }

    static GpuJobSpec Spec(string id, int claimTimeout = 600) => new()
    {
        JobId = id, Kind = "probe", InstanceId = id,
        Limits = new GpuJobLimits { PollSeconds = 1, ClaimTimeoutSeconds = claimTimeout },
    };

    [Fact]
    public async Task The_job_finished_event_completes_the_wait_with_the_outcome()
    {
        var (host, script) = await StartAsync();
        await using var _ = host;
        string id = await host.Client.ScheduleNewOrchestrationInstanceAsync(nameof(RunGpuJob), Spec("job-a"), new StartOrchestrationOptions("job-a"));
        await host.Client.WaitForInstanceStartAsync(id);
        var outcome = new GpuJobOutcome { JobId = "job-a", Status = GpuJobStatus.Succeeded, Attempt = 1, ResultArtifactId = "job-a.attempt-1" };
        await host.Client.RaiseEventAsync(id, GpuJobEvent.EventName, new GpuJobOutcome { JobId = "other-job", Status = GpuJobStatus.Failed });
        await host.Client.RaiseEventAsync(id, GpuJobEvent.EventName, outcome);
        var meta = await host.Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, meta.RuntimeStatus);
        Assert.Equal("job-a.attempt-1", meta.ReadOutputAs<GpuJobOutcome>()!.ResultArtifactId);
        Assert.Equal("submit", script.Calls.First());
        Assert.DoesNotContain(script.Calls, c => c.StartsWith("fail"));
    }

    [Fact]
    public async Task A_missed_event_is_made_up_for_by_the_status_poll()
    {
        var (host, script) = await StartAsync((s, r) => { s.Status = GpuJobStatus.Succeeded; s.Attempt = 1; return s.Record(r.JobId); });
        await using var _ = host;
        string id = await host.Client.ScheduleNewOrchestrationInstanceAsync(nameof(RunGpuJob), Spec("job-b"), new StartOrchestrationOptions("job-b"));
        var meta = await host.Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, meta.RuntimeStatus);
        Assert.Equal(GpuJobStatus.Succeeded, meta.ReadOutputAs<GpuJobOutcome>()!.Status);
        Assert.Contains("poll", script.Calls);
    }

    [Fact]
    public async Task An_unclaimed_job_fails_the_orchestration_with_a_clear_reason()
    {
        var (host, script) = await StartAsync();
        await using var _ = host;
        script.QueuedAt = DateTimeOffset.UtcNow.AddMinutes(-5);
        string id = await host.Client.ScheduleNewOrchestrationInstanceAsync(nameof(RunGpuJob), Spec("job-c", claimTimeout: 2), new StartOrchestrationOptions("job-c"));
        var meta = await host.Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true);
        Assert.Equal(OrchestrationRuntimeStatus.Failed, meta.RuntimeStatus);
        Assert.Contains("no worker claimed job job-c within 2 s", meta.FailureDetails!.ErrorMessage);
        Assert.Single(script.Calls, c => c.StartsWith("fail:no worker claimed"));
    }

    [Fact]
    public async Task A_failed_job_event_fails_with_the_workers_error()
    {
        var (host, script) = await StartAsync();
        await using var _ = host;
        string id = await host.Client.ScheduleNewOrchestrationInstanceAsync(nameof(RunGpuJob), Spec("job-d"), new StartOrchestrationOptions("job-d"));
        await host.Client.WaitForInstanceStartAsync(id);
        await host.Client.RaiseEventAsync(id, GpuJobEvent.EventName,
            new GpuJobOutcome { JobId = "job-d", Status = GpuJobStatus.Failed, Error = "job failed after 3 attempt(s): CUDA out of memory" });
        var meta = await host.Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true);
        Assert.Equal(OrchestrationRuntimeStatus.Failed, meta.RuntimeStatus);
        Assert.Contains("CUDA out of memory", meta.FailureDetails!.ErrorMessage);
    }

    [Fact]
    public async Task Only_a_running_job_with_a_stale_heartbeat_is_requeued()
    {
        int polls = 0;
        var (host, script) = await StartAsync((s, r) =>
        {
            polls++;
            if (polls == 1) (s.Status, s.Attempt, s.HeartbeatAt) = (GpuJobStatus.Running, 1, DateTimeOffset.UtcNow);          // fresh
            else if (polls == 2) s.HeartbeatAt = DateTimeOffset.UtcNow.AddMinutes(-10);                                          // stale
            else (s.Status, s.Attempt) = (GpuJobStatus.Succeeded, 2);
            return s.Record(r.JobId);
        });
        await using var _ = host;
        string id = await host.Client.ScheduleNewOrchestrationInstanceAsync(nameof(RunGpuJob), Spec("job-e"), new StartOrchestrationOptions("job-e"));
        var meta = await host.Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, meta.RuntimeStatus);
        Assert.Equal(["submit", "poll", "poll", "requeue", "poll"], script.Calls.ToArray());
    }

    [Fact]
    public async Task Polls_back_off_while_the_worker_heartbeats()
    {
        var at = new List<DateTime>();
        var (host, _) = await StartAsync((s, r) =>
        {
            at.Add(DateTime.UtcNow);
            (s.Status, s.Attempt, s.HeartbeatAt) = at.Count < 4 ? (GpuJobStatus.Running, 1, DateTimeOffset.UtcNow) : (GpuJobStatus.Succeeded, 1, s.HeartbeatAt);
            return s.Record(r.JobId);
        });
        await using var _ = host;
        string id = await host.Client.ScheduleNewOrchestrationInstanceAsync(nameof(RunGpuJob), Spec("job-f"), new StartOrchestrationOptions("job-f"));
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await host.Client.WaitForInstanceCompletionAsync(id)).RuntimeStatus);
        var gaps = at.Zip(at.Skip(1), (a, b) => (b - a).TotalSeconds).ToList();
        Assert.Equal(3, gaps.Count);
        Assert.True(gaps[1] > gaps[0] * 1.5 && gaps[2] > gaps[1] * 1.5, $"gaps {string.Join(", ", gaps)}");
    }
}

public sealed class RunGpuJobPollTests
{
    static readonly GpuJobLimits Limits = new() { PollSeconds = 2, ClaimTimeoutSeconds = 60 };
    static readonly DateTime T0 = new(2026, 12, 1, 10, 0, 0, DateTimeKind.Utc);

    static GpuJobRecord Record(GpuJobStatus status) => new() { JobId = "j", Kind = "probe", Status = status, InstanceId = "j", QueuedAt = T0 };

    [Fact]
    public void A_job_waiting_for_a_claim_is_polled_less_and_less_often_but_not_past_its_claim_deadline()
    {
        var queued = Record(GpuJobStatus.Queued);
        Assert.Equal(4, RunGpuJob.NextPoll(2, queued, healthy: false, T0.AddSeconds(2), Limits));
        Assert.Equal(16, RunGpuJob.NextPoll(8, queued, healthy: false, T0.AddSeconds(14), Limits));
        Assert.Equal(16, RunGpuJob.NextPoll(16, queued, healthy: false, T0.AddSeconds(30), Limits));   // at most 8x
        Assert.Equal(11, RunGpuJob.NextPoll(16, queued, healthy: false, T0.AddSeconds(50), Limits));   // the deadline, and a second
        Assert.Equal(2, RunGpuJob.NextPoll(16, queued, healthy: false, T0.AddSeconds(70), Limits));    // past it: every pollSeconds
    }

    [Fact]
    public void A_heartbeating_job_backs_off_and_a_stale_one_is_polled_every_pollSeconds()
    {
        var running = Record(GpuJobStatus.Running);
        Assert.Equal(8, RunGpuJob.NextPoll(4, running, healthy: true, T0.AddSeconds(500), Limits));
        Assert.Equal(16, RunGpuJob.NextPoll(16, running, healthy: true, T0.AddSeconds(500), Limits));
        Assert.Equal(2, RunGpuJob.NextPoll(16, running, healthy: false, T0.AddSeconds(500), Limits));
    }
}
