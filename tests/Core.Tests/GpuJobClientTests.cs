using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;
using MathV2.Tests;

namespace MathV2.Core.Tests;

/// <summary>The job protocol's record and queue rules, on a real Azurite.</summary>
public sealed class GpuJobClientTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    readonly ManualTimeProvider _clock = new(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));
    GpuJobClient Jobs => new(azurite.Storage, _clock);

    static GpuJobSpec Spec(string id, int maxAttempts = 3) => new()
    {
        JobId = id, Kind = GpuJobKinds.Probe, InstanceId = id,
        Limits = new GpuJobLimits { MaxAttempts = maxAttempts, HeartbeatStaleSeconds = 10 },
    };

    static string NewId() => "t-" + Guid.NewGuid().ToString("N")[..10];

    async Task<int> MessagesFor(string queue, string jobId)
    {
        var msgs = (await azurite.Storage.Queue(queue).PeekMessagesAsync(32)).Value;
        return msgs.Count(m => m.Body.ToString().Contains(jobId));
    }

    [Fact]
    public async Task Submitting_the_same_job_twice_enqueues_it_once()
    {
        string id = NewId();
        var first = await Jobs.SubmitAsync(Spec(id));
        var second = await Jobs.SubmitAsync(Spec(id));
        Assert.Equal(GpuJobStatus.Queued, first.Status);
        Assert.Equal(first.CreatedAt, second.CreatedAt);
        Assert.Equal(1, await MessagesFor(StorageNames.GpuJobsQueue, id));
        Assert.NotNull(await Jobs.GetSpecAsync(id));
    }

    [Fact]
    public async Task A_live_claim_blocks_others_and_a_stale_one_is_taken_over_as_the_next_attempt()
    {
        string id = NewId();
        await Jobs.SubmitAsync(Spec(id));
        var a = await Jobs.ClaimAsync(id, "w1");
        Assert.Equal(ClaimKind.Claimed, a.Kind);
        Assert.Equal(1, a.Attempt);
        Assert.Equal(ClaimKind.HeldByLiveWorker, (await Jobs.ClaimAsync(id, "w2")).Kind);

        _clock.Advance(TimeSpan.FromSeconds(11));
        var b = await Jobs.ClaimAsync(id, "w2");
        Assert.Equal(ClaimKind.Claimed, b.Kind);
        Assert.Equal(2, b.Attempt);

        // The first worker has lost the job: its heartbeat and its result are refused.
        Assert.False(await Jobs.HeartbeatAsync(id, 1, null));
        Assert.False(await Jobs.CompleteAsync(id, 1, "x", null));
        Assert.True(await Jobs.CompleteAsync(id, 2, $"{id}.attempt-2", null));

        var record = (await Jobs.GetAsync(id))!;
        Assert.Equal(GpuJobStatus.Succeeded, record.Status);
        Assert.Equal(["lost", "succeeded"], record.Attempts.Select(x => x.State));
        Assert.Equal(1, await MessagesFor(StorageNames.JobEventsQueue, id));
        Assert.Equal(ClaimKind.AlreadyFinished, (await Jobs.ClaimAsync(id, "w3")).Kind);
    }

    [Fact]
    public async Task Failed_attempts_are_retried_until_the_budget_is_spent_then_the_job_fails_with_the_workers_error()
    {
        string id = NewId();
        await Jobs.SubmitAsync(Spec(id, maxAttempts: 2));
        Assert.Equal(1, (await Jobs.ClaimAsync(id, "w")).Attempt);
        await Jobs.FailAttemptAsync(id, 1, "CUDA out of memory");
        Assert.Equal(GpuJobStatus.Queued, (await Jobs.GetAsync(id))!.Status);
        Assert.Equal(2, (await Jobs.ClaimAsync(id, "w")).Attempt);
        await Jobs.FailAttemptAsync(id, 2, "CUDA out of memory");

        var record = (await Jobs.GetAsync(id))!;
        Assert.Equal(GpuJobStatus.Failed, record.Status);
        Assert.Contains("CUDA out of memory", record.Error);
        var ev = (await azurite.Storage.Queue(StorageNames.JobEventsQueue).PeekMessagesAsync(32)).Value
            .Select(m => Json.Deserialize<GpuJobEvent>(m.Body.ToString())).Single(e => e.Outcome.JobId == id);
        Assert.Equal(GpuJobStatus.Failed, ev.Outcome.Status);
    }

    [Fact]
    public async Task A_stale_running_job_is_requeued_by_the_orchestrator_side_check()
    {
        string id = NewId();
        await Jobs.SubmitAsync(Spec(id));
        await Jobs.ClaimAsync(id, "w1");
        Assert.Equal(GpuJobStatus.Running, (await Jobs.RequeueIfStaleAsync(id))!.Status);
        _clock.Advance(TimeSpan.FromSeconds(11));
        var record = (await Jobs.RequeueIfStaleAsync(id))!;
        Assert.Equal(GpuJobStatus.Queued, record.Status);
        Assert.Equal("lost", record.Attempts.Single().State);
        Assert.Equal(2, await MessagesFor(StorageNames.GpuJobsQueue, id));
    }

    [Fact]
    public async Task Confirming_a_failure_fails_the_job_and_a_second_confirmation_after_rewind_requeues_it()
    {
        string id = NewId();
        await Jobs.SubmitAsync(Spec(id, maxAttempts: 1));
        var (first, failed) = await Jobs.ConfirmFailureAsync(id, "no worker claimed it", extraAttempts: 1);
        Assert.Equal(FailureConfirmation.Failed, first);
        Assert.Equal(GpuJobStatus.Failed, failed.Status);
        Assert.Equal("no worker claimed it", failed.Error);

        var (second, requeued) = await Jobs.ConfirmFailureAsync(id, "no worker claimed it", extraAttempts: 1);
        Assert.Equal(FailureConfirmation.Requeued, second);
        Assert.Equal(GpuJobStatus.Queued, requeued.Status);
        Assert.Equal(1, requeued.MaxAttempts);
        Assert.Equal(ClaimKind.Claimed, (await Jobs.ClaimAsync(id, "w")).Kind);
    }

    [Fact]
    public async Task Heartbeats_store_progress()
    {
        string id = NewId();
        await Jobs.SubmitAsync(Spec(id));
        await Jobs.ClaimAsync(id, "w1");
        Assert.True(await Jobs.HeartbeatAsync(id, 1, new GpuJobProgress { Step = 3, Steps = 10, Loss = 0.5 }));
        var record = (await Jobs.GetAsync(id))!;
        Assert.Equal((3, 10, 0.5), (record.Progress!.Step, record.Progress.Steps, record.Progress.Loss));
        Assert.Equal("step 3/10", record.Progress.Describe());
    }

    /// <summary>A clock that runs an action the first time it is read after being armed.</summary>
    sealed class InterruptingClock(DateTimeOffset now) : TimeProvider
    {
        public Action? OnNextRead { get; set; }

        public override DateTimeOffset GetUtcNow()
        {
            var action = OnNextRead;
            OnNextRead = null;
            action?.Invoke();
            return now;
        }
    }

    [Fact]
    public async Task A_heartbeat_landing_between_the_commits_read_and_write_does_not_lose_the_result()
    {
        string id = NewId();
        var clock = new InterruptingClock(_clock.Now);
        var worker = new GpuJobClient(azurite.Storage, clock);
        await Jobs.SubmitAsync(Spec(id));
        await Jobs.ClaimAsync(id, "w1");
        // CompleteAsync reads the record, then the clock: the attempt's own heartbeat changes the ETag right then.
        clock.OnNextRead = () => Assert.True(Jobs.HeartbeatAsync(id, 1, null).GetAwaiter().GetResult());
        Assert.True(await worker.CompleteAsync(id, 1, "result-1", null));
        var record = (await Jobs.GetAsync(id))!;
        Assert.Equal(GpuJobStatus.Succeeded, record.Status);
        Assert.Equal("result-1", record.ResultArtifactId);
    }

    [Fact]
    public async Task A_heartbeat_landing_between_a_failures_read_and_write_still_requeues_the_job()
    {
        string id = NewId();
        var clock = new InterruptingClock(_clock.Now);
        var worker = new GpuJobClient(azurite.Storage, clock);
        await Jobs.SubmitAsync(Spec(id));
        await Jobs.ClaimAsync(id, "w1");
        clock.OnNextRead = () => Assert.True(Jobs.HeartbeatAsync(id, 1, null).GetAwaiter().GetResult());
        await worker.FailAttemptAsync(id, 1, "boom");
        var record = (await Jobs.GetAsync(id))!;
        Assert.Equal(GpuJobStatus.Queued, record.Status);
        Assert.Equal("boom", record.Error);
    }

    [Theory]
    [InlineData("ok-id_1.2", true)]
    [InlineData("", false)]
    [InlineData("../etc", false)]
    [InlineData("a/b", false)]
    [InlineData("a b", false)]
    public void Ids_are_restricted_to_safe_characters(string id, bool valid) => Assert.Equal(valid, Ids.IsValid(id));
}
