using System.Diagnostics;
using MathV2.Core.Telemetry;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;
using MathV2.Gpu.Worker.Jobs;

namespace MathV2.Gpu.Worker;

/// <summary>
/// The worker side of the GPU job protocol (docs/protocol.md, steps 3 and 4): dequeue with a visibility-timeout
/// lease renewed while the job runs, claim the record with an ETag check, heartbeat progress, write outputs
/// under jobs/{jobId}/attempt-{n}/ with the manifest last, then mark Succeeded and publish a job event.
/// </summary>
public sealed class JobLoop(MathV2Storage storage, IEnumerable<IGpuJobHandler> handlers, WorkerOptions options, string device)
{
    readonly GpuJobClient _jobs = new(storage);
    readonly ArtifactStore _artifacts = new(storage);
    readonly Dictionary<string, IGpuJobHandler> _handlers = handlers.ToDictionary(h => h.Kind);
    DateTimeOffset _lastSeen;

    public async Task RunAsync(CancellationToken stop)
    {
        await StorageFaults.RetryAsync(() => storage.EnsureCreatedAsync(stop), TimeSpan.FromMinutes(2), Log, "worker start", stop);
        var queue = storage.Queue(StorageNames.GpuJobsQueue);
        await SeenAsync("idle", null, force: true);
        Log($"worker {options.WorkerId} ready on {device}; kinds: {string.Join(", ", _handlers.Keys)}");
        var idle = TimeSpan.FromMilliseconds(50);
        while (!stop.IsCancellationRequested)
        {
            QueueMessage? msg;
            try { msg = (await queue.ReceiveMessageAsync(TimeSpan.FromSeconds(options.LeaseSeconds), stop)).Value; }
            catch (OperationCanceledException) { break; }
            catch (Exception e) when (StorageFaults.IsStorageError(e)) { Log($"queue poll failed: {StorageFaults.First(e)}"); msg = null; }
            if (msg == null)
            {
                await SeenAsync("idle", null);
                try { await Task.Delay(idle, stop); } catch (OperationCanceledException) { break; }
                idle = TimeSpan.FromMilliseconds(Math.Min(idle.TotalMilliseconds * 2, options.MaxPollSeconds * 1000));
                continue;
            }
            idle = TimeSpan.FromMilliseconds(50);
            // Storage down while a job is claimed or settled: the worker lives on; the message's lease lapses and the
            // protocol hands the job out again (a claimed job whose heartbeat stops is requeued).
            try { await HandleAsync(queue, msg, stop); }
            // Any storage error in handling one message (unavailable, or a pop receipt gone stale while it was) ends
            // that message's turn, never the worker.
            catch (Exception e) when (StorageFaults.IsStorageError(e) && !stop.IsCancellationRequested)
            {
                Log($"job message {msg.MessageId}: storage error ({StorageFaults.First(e)}); left for its lease to lapse");
                try { await Task.Delay(TimeSpan.FromSeconds(1), stop); } catch (OperationCanceledException) { break; }
            }
        }
        await SeenAsync("stopped", null, force: true);
    }

    async Task HandleAsync(QueueClient queue, QueueMessage msg, CancellationToken stop)
    {
        string? jobId = null;
        try { jobId = Json.Deserialize<GpuJobClient.JobMessage>(msg.Body.ToString()).JobId; } catch (JsonException) { }
        if (jobId == null || !Ids.IsValid(jobId))
        {
            Log($"malformed gpu-jobs message {msg.MessageId} set aside in {StorageNames.Poison(StorageNames.GpuJobsQueue)}: {Truncate(msg.Body.ToString())}");
            await storage.SetAsideAsync(StorageNames.GpuJobsQueue, msg.MessageId, msg.PopReceipt, msg.Body.ToString(), CancellationToken.None);
            return;
        }
        var claim = await _jobs.ClaimAsync(jobId, options.WorkerId, stop);
        if (claim.Kind != ClaimKind.Claimed)
        {
            Log($"job {jobId}: {claim.Kind}, message acknowledged");
            await queue.DeleteMessageAsync(msg.MessageId, msg.PopReceipt, CancellationToken.None);
            return;
        }
        if (claim.SpecProblem is { } problem)
        {
            // A spec changed or lost behind MathV2's back is bad input: the job fails at once, never runs on it.
            Log($"job {jobId}: {problem}");
            await _jobs.FailAttemptAsync(jobId, claim.Attempt, $"InvalidDataException: {problem}", CancellationToken.None, permanent: true);
            await queue.DeleteMessageAsync(msg.MessageId, msg.PopReceipt, CancellationToken.None);
            return;
        }
        var lease = new Lease(queue, msg.MessageId, msg.PopReceipt, TimeSpan.FromSeconds(options.LeaseSeconds));
        bool finished = await RunClaimedAsync(claim.Spec!, claim.Attempt, lease, stop);
        await lease.StopAsync();
        if (finished)
        {
            try { await queue.DeleteMessageAsync(msg.MessageId, lease.PopReceipt, CancellationToken.None); }
            catch (RequestFailedException e) when (e.Status == 404) { }
        }
    }

    /// <summary>Runs one attempt; false when the worker is stopping (the lease then lapses and another attempt follows).</summary>
    async Task<bool> RunClaimedAsync(GpuJobSpec spec, int attempt, Lease lease, CancellationToken stop)
    {
        string artifactId = $"{spec.JobId}.attempt-{attempt}";
        var writer = _artifacts.Create(artifactId, $"{spec.Kind}-result", StorageNames.JobsContainer, $"{spec.JobId}/attempt-{attempt}",
            new ArtifactProducer { Lap = spec.Lap, Phase = spec.Phase, Instance = spec.InstanceId, Job = spec.JobId, Attempt = attempt, Worker = options.WorkerId },
            spec.Inputs);
        var context = new GpuJobContext(spec, attempt, options.WorkerId, writer, _artifacts, storage) { Memory = MemoryBudget.Of(options, device) };
        using var jobCts = CancellationTokenSource.CreateLinkedTokenSource(stop);
        Log($"job {spec.JobId} ({spec.Kind}) attempt {attempt} started");
        // The attempt's span: a child of the job's RunGpuJob span, whatever host or worker runs it.
        using var span = MathV2Telemetry.Source.StartActivity($"gpu-job {spec.Kind}", ActivityKind.Consumer, MathV2Telemetry.ContextOf(spec.InstanceId, spec.TraceParent),
            [new("mathv2.job_id", spec.JobId), new("mathv2.job.kind", spec.Kind), new("mathv2.job.attempt", attempt), new("mathv2.worker", options.WorkerId)]);
        var clock = Stopwatch.StartNew();
        string outcome = "failed";
        await SeenAsync("running", spec.JobId, force: true);
        var heartbeat = HeartbeatLoopAsync(context, jobCts);
        try
        {
            if (!_handlers.TryGetValue(spec.Kind, out var handler))
                throw new NotSupportedException($"unknown job kind '{spec.Kind}' (this worker runs: {string.Join(", ", _handlers.Keys)})");
            JsonElement? summary = await Task.Run(() => handler.RunAsync(context, jobCts.Token), jobCts.Token);
            jobCts.Token.ThrowIfCancellationRequested();
            // The work is done: its result is worth waiting for through a storage outage.
            await StorageFaults.RetryAsync(() => writer.CommitAsync(CancellationToken.None), SettlePatience, Log, $"job {spec.JobId} commit", stop);
            bool owned = await StorageFaults.RetryAsync(() => _jobs.CompleteAsync(spec.JobId, attempt, artifactId, summary, CancellationToken.None),
                SettlePatience, Log, $"job {spec.JobId} completion", stop);
            Log(owned ? $"job {spec.JobId} attempt {attempt} succeeded → {artifactId}" : $"job {spec.JobId} attempt {attempt} finished after losing the job; result ignored");
            outcome = owned ? "succeeded" : "lost";
            return true;
        }
        catch (OperationCanceledException) when (jobCts.IsCancellationRequested)
        {
            outcome = stop.IsCancellationRequested ? "interrupted" : "lost";
            if (stop.IsCancellationRequested) { Log($"job {spec.JobId} attempt {attempt} interrupted by shutdown"); return false; }
            Log($"job {spec.JobId} attempt {attempt} lost ownership; stopped");
            return true;
        }
        catch (Exception e)
        {
            WorkerLog.Worker($"job {spec.JobId} attempt {attempt} failed: {e}", Microsoft.Extensions.Logging.LogLevel.Error);
            span?.SetStatus(ActivityStatusCode.Error, e.Message.Split('\n')[0]);
            await StorageFaults.RetryAsync(() => _jobs.FailAttemptAsync(spec.JobId, attempt, $"{e.GetType().Name}: {e.Message}", CancellationToken.None, permanent: IsBadInput(e)),
                SettlePatience, Log, $"job {spec.JobId} failure", stop);
            return true;
        }
        finally
        {
            span?.SetTag("mathv2.job.outcome", outcome);
            MathV2Telemetry.JobDuration.Record(clock.Elapsed.TotalSeconds, new("kind", spec.Kind), new("outcome", outcome));
            await jobCts.CancelAsync();
            await heartbeat;
            await SeenAsync("idle", null, force: true);
        }
    }

    /// <summary>How long a finished job's commit, completion or failure waits for storage to come back.</summary>
    static readonly TimeSpan SettlePatience = TimeSpan.FromMinutes(3);

    /// <summary>Errors another attempt would repeat: bad parameters, bad datasets, missing or corrupt artifacts, unknown kinds.</summary>
    static bool IsBadInput(Exception e) => e is ArgumentException or Core.Datasets.DatasetException or InvalidDataException
        or FileNotFoundException or NotSupportedException or System.Text.Json.JsonException;

    async Task HeartbeatLoopAsync(GpuJobContext context, CancellationTokenSource jobCts)
    {
        var period = TimeSpan.FromSeconds(options.HeartbeatSeconds);
        while (!jobCts.IsCancellationRequested)
        {
            try { await Task.Delay(period, jobCts.Token); } catch (OperationCanceledException) { return; }
            try
            {
                if (!await _jobs.HeartbeatAsync(context.Spec.JobId, context.Attempt, context.Progress, CancellationToken.None))
                {
                    await jobCts.CancelAsync();
                    return;
                }
                await SeenAsync("running", context.Spec.JobId);
                await context.PublishMetricsAsync(CancellationToken.None);
            }
            catch (Exception e) when (StorageFaults.IsStorageError(e)) { Log($"heartbeat failed: {StorageFaults.First(e)}"); }
        }
    }

    /// <summary>Keeps the workers table current (for `mathv2 status` and `up`'s health wait).</summary>
    async Task SeenAsync(string state, string? jobId, bool force = false)
    {
        var now = DateTimeOffset.UtcNow;
        if (!force && now - _lastSeen < TimeSpan.FromSeconds(2)) return;
        _lastSeen = now;
        try
        {
            await storage.Table(StorageNames.WorkersTable).UpsertEntityAsync(new TableEntity("workers", options.WorkerId)
            {
                ["LastSeen"] = now,
                ["State"] = state,
                ["JobId"] = jobId,
                ["Device"] = device,
                ["Pid"] = Environment.ProcessId,
                ["Host"] = Environment.MachineName,
            }, TableUpdateMode.Replace);
        }
        catch (Exception e) when (StorageFaults.IsStorageError(e)) { Log($"worker registration failed: {StorageFaults.First(e)}"); }
    }

    static string Truncate(string s) => s.Length > 200 ? s[..200] + "…" : s;

    internal static void Log(string line) => WorkerLog.Worker(line);

    /// <summary>Renews a message's visibility every third of the lease until stopped.</summary>
    sealed class Lease
    {
        readonly CancellationTokenSource _cts = new();
        readonly Task _loop;

        public Lease(QueueClient queue, string messageId, string popReceipt, TimeSpan lease)
        {
            PopReceipt = popReceipt;
            _loop = Task.Run(async () =>
            {
                while (!_cts.IsCancellationRequested)
                {
                    try { await Task.Delay(lease / 3, _cts.Token); } catch (OperationCanceledException) { return; }
                    try { PopReceipt = (await queue.UpdateMessageAsync(messageId, PopReceipt, visibilityTimeout: lease)).Value.PopReceipt; }
                    catch (Exception e) when (StorageFaults.IsStorageError(e)) { Log($"lease renewal failed: {StorageFaults.First(e)}"); }
                }
            });
        }

        public string PopReceipt { get; private set; }

        public async Task StopAsync()
        {
            await _cts.CancelAsync();
            await _loop;
        }
    }
}

/// <summary>The job loop as the worker host's service: runs until the host stops (SIGTERM, SIGINT).</summary>
public sealed class WorkerService(JobLoop loop, Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime) : Microsoft.Extensions.Hosting.BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        try { await loop.RunAsync(stop); }
        catch (Exception e) when (!stop.IsCancellationRequested)
        {
            // The worker cannot go on (storage never came back at start, a bug): exit 1 so the platform restarts it.
            WorkerLog.Worker($"worker stopped: {e}", Microsoft.Extensions.Logging.LogLevel.Critical);
            Environment.ExitCode = 1;
        }
        finally { lifetime.StopApplication(); }
    }
}
