using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>
/// The GPU job protocol from the orchestrator's side (docs/protocol.md, steps 1, 2, 5 and 6): submit the job,
/// wait for its job-finished event with a timer, and on each timeout look at the record (GetJobStatus):
/// requeue a job whose heartbeat went stale (RequeueStaleGpuJob, which checks again), give up when no
/// worker claims it or it runs past its limit. Giving up is an
/// activity failure, so a rewind re-runs that activity, which then requeues the job.
/// </summary>
public sealed class RunGpuJob : TaskOrchestrator<GpuJobSpec, GpuJobOutcome>
{
    public override async Task<GpuJobOutcome> RunAsync(TaskOrchestrationContext context, GpuJobSpec spec)
    {
        var limits = spec.Limits;
        await context.CallActivityAsync<GpuJobRecord>(TaskNames.SubmitGpuJob, spec);
        DateTime since = context.CurrentUtcDateTime;
        int poll = limits.PollSeconds;
        while (true)
        {
            GpuJobOutcome? outcome = await WaitForEventAsync(context, spec.JobId, TimeSpan.FromSeconds(poll));
            if (outcome == null)
            {
                var record = await context.CallActivityAsync<GpuJobRecord>(TaskNames.GetJobStatus, spec.JobId);
                bool healthy = record.Status == GpuJobStatus.Running && !IsStale(record, context.CurrentUtcDateTime, limits);
                if (record.Status == GpuJobStatus.Running && !healthy)
                    record = await context.CallActivityAsync<GpuJobRecord>(TaskNames.RequeueStaleGpuJob, spec.JobId);
                poll = NextPoll(poll, record, healthy, context.CurrentUtcDateTime, limits);
                if (record.Status is GpuJobStatus.Succeeded or GpuJobStatus.Failed or GpuJobStatus.Cancelled)
                    outcome = GpuJobClient.OutcomeOf(record);
                else
                {
                    context.SetCustomStatus(new JobWaitStatus { JobId = spec.JobId, Status = record.Status, Attempt = record.Attempt, Worker = record.WorkerId });
                    DateTime now = context.CurrentUtcDateTime;
                    string? reason = null;
                    if (record.Status == GpuJobStatus.Queued && now - ToUtc(record.QueuedAt) > TimeSpan.FromSeconds(limits.ClaimTimeoutSeconds))
                        reason = $"no worker claimed job {spec.JobId} within {limits.ClaimTimeoutSeconds} s (are workers running? see `mathv2 status`)";
                    else if (now - since > TimeSpan.FromSeconds(limits.JobTimeoutSeconds))
                        reason = $"job {spec.JobId} did not finish within {limits.JobTimeoutSeconds} s";
                    if (reason == null) continue;
                    outcome = await GiveUpAsync(context, spec, reason);
                    if (outcome == null) { since = context.CurrentUtcDateTime; continue; }
                }
            }
            if (outcome.Status == GpuJobStatus.Succeeded) return outcome;
            // Cancelled with its lap: nothing to give up or retry (normally this instance was terminated with it).
            if (outcome.Status == GpuJobStatus.Cancelled) throw new InvalidOperationException($"job {spec.JobId} was {outcome.Error}");
            outcome = await GiveUpAsync(context, spec, outcome.Error ?? "job failed");
            if (outcome == null) { since = context.CurrentUtcDateTime; continue; }
            return outcome;
        }
    }

    /// <summary>Throws (failing the orchestration) unless this is a re-run after rewind; null means "requeued, wait again".</summary>
    static async Task<GpuJobOutcome?> GiveUpAsync(TaskOrchestrationContext context, GpuJobSpec spec, string reason)
    {
        var record = await context.CallActivityAsync<GpuJobRecord>(TaskNames.FailGpuJob, new FailGpuJobInput(spec.JobId, reason, spec.Limits.MaxAttempts));
        return record.Status == GpuJobStatus.Succeeded ? GpuJobClient.OutcomeOf(record) : null;
    }

    static async Task<GpuJobOutcome?> WaitForEventAsync(TaskOrchestrationContext context, string jobId, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource();
        Task<GpuJobOutcome> ev = context.WaitForExternalEvent<GpuJobOutcome>(GpuJobEvent.EventName, cts.Token);
        Task timer = context.CreateTimer(context.CurrentUtcDateTime.Add(timeout), cts.Token);
        Task winner = await Task.WhenAny(ev, timer);
        cts.Cancel();
        if (winner != ev) return null;
        GpuJobOutcome outcome = await ev;
        return outcome.JobId == jobId ? outcome : null;
    }

    static DateTime ToUtc(DateTimeOffset t) => t.UtcDateTime;

    /// <summary>
    /// Seconds to the next poll. While a worker heartbeats, and while the job waits for a claim, less and less often
    /// (doubling up to 8x pollSeconds): the event is what ends the wait, and a long job, or a long wait for workers,
    /// must not grow the history by one poll every few seconds. A queued job is still looked at within a second of
    /// its claim deadline. After a stale heartbeat (requeued), every pollSeconds.
    /// </summary>
    public static int NextPoll(int poll, GpuJobRecord record, bool healthy, DateTime now, GpuJobLimits limits)
    {
        bool queued = record.Status == GpuJobStatus.Queued;
        if (!healthy && !queued) return limits.PollSeconds;
        int next = Math.Min(poll * 2, limits.PollSeconds * 8);
        if (!queued) return next;
        double left = limits.ClaimTimeoutSeconds - (now - ToUtc(record.QueuedAt)).TotalSeconds;
        return (int)Math.Clamp(Math.Ceiling(left) + 1, limits.PollSeconds, next);
    }

    static bool IsStale(GpuJobRecord r, DateTime now, GpuJobLimits limits) =>
        r.HeartbeatAt is not { } hb || now - hb.UtcDateTime > TimeSpan.FromSeconds(limits.HeartbeatStaleSeconds);
}
