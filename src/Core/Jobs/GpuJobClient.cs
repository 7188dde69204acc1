using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Blobs.Models;
using MathV2.Core.Storage;

namespace MathV2.Core.Jobs;

/// <summary>Result of a worker's claim on a dequeued job.</summary>
public enum ClaimKind { Claimed, AlreadyFinished, HeldByLiveWorker, AttemptsExhausted, Missing, LostRace }

/// <summary>A claim; a claimed job whose spec.json is missing or changed since submission has no Spec but a SpecProblem (bad input).</summary>
public sealed record ClaimResult(ClaimKind Kind, int Attempt = 0, GpuJobSpec? Spec = null, string? SpecProblem = null);

/// <summary>What the failure confirmation step found (see <see cref="GpuJobClient.ConfirmFailureAsync"/>).</summary>
public enum FailureConfirmation { Failed, Requeued, Succeeded }

/// <summary>
/// The one client of the GPU job protocol (docs/protocol.md): job records in table <c>jobs</c> (ETag-guarded),
/// queue <c>gpu-jobs</c>, queue <c>job-events</c>, and specs in <c>jobs/{jobId}/spec.json</c>.
/// Used by the activities (submit, status, requeue, fail) and by the worker (claim, heartbeat, complete).
/// </summary>
public sealed class GpuJobClient(MathV2Storage storage, TimeProvider? time = null)
{
    const string Row = "job";
    readonly TimeProvider _time = time ?? TimeProvider.System;
    TableClient Table => storage.Table(StorageNames.JobsTable);

    DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>Where a running training job's metrics so far are (jobs container): the worker rewrites it with its heartbeats.</summary>
    public static string LiveMetricsPath(string jobId) => $"{jobId}/live/metrics.jsonl";

    /// <summary>The live metrics blob's metadata key naming the attempt that wrote it.</summary>
    public const string LiveMetricsAttempt = "attempt";

    /// <summary>A job's live metrics.jsonl (one line per training step so far), or null before its first step.</summary>
    public async Task<string?> ReadLiveMetricsAsync(string jobId, CancellationToken ct = default) =>
        (await ReadLiveMetricsAsync(jobId, 0, ct))?.Bytes is { } bytes ? System.Text.Encoding.UTF8.GetString(bytes) : null;

    /// <summary>
    /// The live metrics.jsonl from byte <paramref name="offset"/> on (the file only grows within an attempt: the worker
    /// rewrites it whole with more lines), with the attempt that wrote it (0 when unknown) and its length; null before
    /// the first step. An offset past the end gives no bytes.
    /// </summary>
    public async Task<(byte[] Bytes, int Attempt, long Length)?> ReadLiveMetricsAsync(string jobId, long offset, CancellationToken ct = default)
    {
        ValidateJobId(jobId);
        var blob = storage.Container(StorageNames.JobsContainer).GetBlobClient(LiveMetricsPath(jobId));
        try
        {
            var props = (await blob.GetPropertiesAsync(cancellationToken: ct)).Value;
            int attempt = props.Metadata.TryGetValue(LiveMetricsAttempt, out var a) && int.TryParse(a, out int n) ? n : 0;
            if (offset >= props.ContentLength) return ([], attempt, props.ContentLength);
            // Only the bytes asked for, from the version whose properties were read (If-Match: a rewrite in between is read again).
            var content = await blob.DownloadContentAsync(new Azure.Storage.Blobs.Models.BlobDownloadOptions
            {
                Range = new Azure.HttpRange(offset), Conditions = new Azure.Storage.Blobs.Models.BlobRequestConditions { IfMatch = props.ETag },
            }, ct);
            return (content.Value.Content.ToArray(), attempt, props.ContentLength);
        }
        catch (RequestFailedException e) when (e.Status == 404) { return null; }
        catch (RequestFailedException e) when (e.Status == 412) { return await ReadLiveMetricsAsync(jobId, offset, ct); }
    }

    /// <summary>Writes the spec, creates the Queued record and enqueues the job once. A second call changes nothing.</summary>
    public async Task<GpuJobRecord> SubmitAsync(GpuJobSpec spec, CancellationToken ct = default)
    {
        ValidateJobId(spec.JobId);
        var blob = storage.Container(StorageNames.JobsContainer).GetBlobClient($"{spec.JobId}/spec.json");
        string specText = Json.Serialize(spec, indented: true);
        try
        {
            await blob.UploadAsync(BinaryData.FromString(specText),
                new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, ct);
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            // Written by an earlier call: its bytes are what a claim will read (another build may serialize differently).
            specText = (await blob.DownloadContentAsync(ct)).Value.Content.ToString();
        }

        var now = Now;
        var entity = new TableEntity(spec.JobId, Row)
        {
            ["Kind"] = spec.Kind,
            ["Status"] = nameof(GpuJobStatus.Queued),
            ["InstanceId"] = spec.InstanceId,
            ["Attempt"] = 0,
            ["MaxAttempts"] = spec.Limits.MaxAttempts,
            // The spec's sha256: a claim reads spec.json only if it is still what was submitted.
            ["SpecSha256"] = Sha256(System.Text.Encoding.UTF8.GetBytes(specText)),
            ["StaleSeconds"] = spec.Limits.HeartbeatStaleSeconds,
            ["CreatedAt"] = now,
            ["QueuedAt"] = now,
            ["Enqueued"] = false,
            ["FailureConfirmed"] = false,
            ["Attempts"] = "[]",
            ["Lap"] = spec.Lap,
            ["Phase"] = spec.Phase,
        };
        try { await Table.AddEntityAsync(entity, ct); }
        catch (RequestFailedException e) when (e.Status == 409) { }

        var existing = (await Table.GetEntityAsync<TableEntity>(spec.JobId, Row, cancellationToken: ct)).Value;
        if (existing.GetBoolean("Enqueued") != true)
        {
            await EnqueueAsync(spec.JobId, TimeSpan.Zero, ct);
            existing["Enqueued"] = true;
            // Only the flag, unconditionally: a worker may already have claimed the job (changing its ETag) by now.
            await Table.UpdateEntityAsync(new TableEntity(spec.JobId, Row) { ["Enqueued"] = true }, ETag.All, TableUpdateMode.Merge, ct);
        }
        return ToRecord(existing);
    }

    public async Task<GpuJobRecord?> GetAsync(string jobId, CancellationToken ct = default)
    {
        var e = await GetEntityAsync(jobId, ct);
        return e == null ? null : ToRecord(e);
    }

    public async Task<GpuJobSpec?> GetSpecAsync(string jobId, CancellationToken ct = default)
    {
        var blob = storage.Container(StorageNames.JobsContainer).GetBlobClient($"{jobId}/spec.json");
        try
        {
            var content = await blob.DownloadContentAsync(ct);
            return Json.Deserialize<GpuJobSpec>(content.Value.Content.ToString());
        }
        catch (RequestFailedException e) when (e.Status == 404) { return null; }
    }

    /// <summary>Worker side: take ownership of a dequeued job (Queued, or Running with a stale heartbeat).</summary>
    public async Task<ClaimResult> ClaimAsync(string jobId, string workerId, CancellationToken ct = default)
    {
        // A write between the read and the update (the submitter's Enqueued flag, another worker's claim) is not a
        // lost job: read again and decide on what is there now; only a finished or held job is given up.
        for (int tries = 1; ; tries++)
        {
            var r = await TryClaimAsync(jobId, workerId, ct);
            if (r.Kind != ClaimKind.LostRace || tries >= 5) return r;
        }
    }

    async Task<ClaimResult> TryClaimAsync(string jobId, string workerId, CancellationToken ct)
    {
        var e = await GetEntityAsync(jobId, ct);
        if (e == null) return new ClaimResult(ClaimKind.Missing);
        var status = StatusOf(e);
        if (status is GpuJobStatus.Succeeded or GpuJobStatus.Failed or GpuJobStatus.Cancelled) return new ClaimResult(ClaimKind.AlreadyFinished);
        var now = Now;
        var attempts = AttemptsOf(e);
        if (status == GpuJobStatus.Running)
        {
            if (!IsStale(e, now)) return new ClaimResult(ClaimKind.HeldByLiveWorker);
            MarkLast(attempts, "lost", now, "heartbeat went stale (worker lost)");
        }
        int next = (e.GetInt32("Attempt") ?? 0) + 1;
        if (next > (e.GetInt32("MaxAttempts") ?? 1))
        {
            string error = LastError(attempts) ?? "attempts exhausted";
            if (await FinishFailedAsync(e, attempts, $"job failed after {next - 1} attempt(s): {error}", ct))
                return new ClaimResult(ClaimKind.AttemptsExhausted);
            return new ClaimResult(ClaimKind.LostRace);
        }
        attempts.Add(new GpuJobAttempt { Number = next, WorkerId = workerId, StartedAt = now, State = "running" });
        e["Status"] = nameof(GpuJobStatus.Running);
        e["Attempt"] = next;
        e["WorkerId"] = workerId;
        e["HeartbeatAt"] = now;
        e["Progress"] = null;
        e["Attempts"] = Json.Serialize(attempts);
        if (!await TryUpdateAsync(e, ct)) return new ClaimResult(ClaimKind.LostRace);
        var kind = new KeyValuePair<string, object?>("kind", e.GetString("Kind"));
        Telemetry.MathV2Telemetry.Attempts.Add(1, kind);
        if (e.GetDateTimeOffset("QueuedAt") is { } queued) Telemetry.MathV2Telemetry.QueueWait.Record(Math.Max(0, (now - queued).TotalSeconds), kind);
        return await ReadClaimedSpecAsync(jobId, next, e.GetString("SpecSha256"), ct);
    }

    static string Sha256(byte[] bytes) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));

    /// <summary>The claimed job's spec, checked against the sha256 recorded at submission (records from before it are taken as they are).</summary>
    async Task<ClaimResult> ReadClaimedSpecAsync(string jobId, int attempt, string? sha256, CancellationToken ct)
    {
        byte[] bytes;
        try { bytes = (await storage.Container(StorageNames.JobsContainer).GetBlobClient($"{jobId}/spec.json").DownloadContentAsync(ct)).Value.Content.ToArray(); }
        catch (RequestFailedException e) when (e.Status == 404) { return new ClaimResult(ClaimKind.Claimed, attempt, SpecProblem: $"job {jobId} has no spec.json"); }
        string actual = Sha256(bytes);
        if (sha256 != null && actual != sha256)
            return new ClaimResult(ClaimKind.Claimed, attempt, SpecProblem: $"job {jobId} file spec.json: sha256 mismatch: the stored spec ({bytes.Length} bytes) hashes to {actual}, not the submitted {sha256}; it was changed behind MathV2's back");
        try { return new ClaimResult(ClaimKind.Claimed, attempt, Json.Deserialize<GpuJobSpec>(System.Text.Encoding.UTF8.GetString(bytes))); }
        catch (System.Text.Json.JsonException e) { return new ClaimResult(ClaimKind.Claimed, attempt, SpecProblem: $"job {jobId} spec.json is not a job spec: {e.Message}"); }
    }

    /// <summary>Records progress; false when this attempt no longer owns the job (then the worker must stop).</summary>
    public async Task<bool> HeartbeatAsync(string jobId, int attempt, GpuJobProgress? progress, CancellationToken ct = default)
    {
        for (int i = 0; i < 3; i++)
        {
            var e = await GetEntityAsync(jobId, ct);
            if (e == null || StatusOf(e) != GpuJobStatus.Running || e.GetInt32("Attempt") != attempt) return false;
            e["HeartbeatAt"] = Now;
            if (progress is { } p) e["Progress"] = Json.Serialize(p);
            if (await TryUpdateAsync(e, ct)) return true;
        }
        return true;
    }

    /// <summary>
    /// Commit: status Succeeded with the result artifact, then the job event. False when the attempt lost the job.
    /// A concurrent write (this attempt's own heartbeat) changes the ETag: the record is read again and the commit retried.
    /// </summary>
    public async Task<bool> CompleteAsync(string jobId, int attempt, string resultArtifactId, JsonElement? summary, CancellationToken ct = default)
    {
        for (int i = 0; i < 5; i++)
        {
            var e = await GetEntityAsync(jobId, ct);
            if (e == null || StatusOf(e) != GpuJobStatus.Running || e.GetInt32("Attempt") != attempt) return false;
            var now = Now;
            var attempts = AttemptsOf(e);
            MarkLast(attempts, "succeeded", now, null);
            e["Status"] = nameof(GpuJobStatus.Succeeded);
            e["ResultArtifactId"] = resultArtifactId;
            e["Summary"] = summary?.GetRawText();
            e["FinishedAt"] = now;
            e["HeartbeatAt"] = now;
            e["Error"] = null;
            e["Attempts"] = Json.Serialize(attempts);
            if (!await TryUpdateAsync(e, ct)) continue;
            await PublishEventAsync(e, ct);
            return true;
        }
        throw new InvalidOperationException($"job {jobId}: too much contention completing attempt {attempt}");
    }

    /// <summary>
    /// An attempt threw: requeue with backoff while attempts remain, else fail the job and publish the event.
    /// A permanent error (bad parameters or inputs: another attempt would fail the same way) fails the job at once.
    /// Retried on a concurrent write like <see cref="CompleteAsync"/>.
    /// </summary>
    public async Task FailAttemptAsync(string jobId, int attempt, string error, CancellationToken ct = default, bool permanent = false)
    {
        for (int i = 0; i < 5; i++)
        {
            var e = await GetEntityAsync(jobId, ct);
            if (e == null || StatusOf(e) != GpuJobStatus.Running || e.GetInt32("Attempt") != attempt) return;
            var now = Now;
            var attempts = AttemptsOf(e);
            MarkLast(attempts, "failed", now, error);
            if (permanent)
            {
                if (await FinishFailedAsync(e, attempts, $"job failed (bad input, not retried): {error}", ct)) return;
                continue;
            }
            if (attempt >= (e.GetInt32("MaxAttempts") ?? 1))
            {
                if (await FinishFailedAsync(e, attempts, $"job failed after {attempt} attempt(s): {error}", ct)) return;
                continue;
            }
            e["Status"] = nameof(GpuJobStatus.Queued);
            e["QueuedAt"] = now;
            e["Error"] = error;
            e["Attempts"] = Json.Serialize(attempts);
            if (!await TryUpdateAsync(e, ct)) continue;
            await EnqueueAsync(jobId, TimeSpan.FromSeconds(Math.Min(30, 1 << attempt)), ct);
            return;
        }
        throw new InvalidOperationException($"job {jobId}: too much contention failing attempt {attempt}");
    }

    /// <summary>
    /// Orchestrator side: a Running job whose heartbeat went stale is put back on the queue (one attempt used).
    /// Returns the record after the check.
    /// </summary>
    public async Task<GpuJobRecord?> RequeueIfStaleAsync(string jobId, CancellationToken ct = default)
    {
        var e = await GetEntityAsync(jobId, ct);
        if (e == null) return null;
        var now = Now;
        if (StatusOf(e) == GpuJobStatus.Running && IsStale(e, now))
        {
            var attempts = AttemptsOf(e);
            MarkLast(attempts, "lost", now, "heartbeat went stale (worker lost)");
            int attempt = e.GetInt32("Attempt") ?? 0;
            if (attempt >= (e.GetInt32("MaxAttempts") ?? 1))
                await FinishFailedAsync(e, attempts, $"job failed after {attempt} attempt(s): worker {e.GetString("WorkerId")} stopped sending heartbeats", ct);
            else
            {
                e["Status"] = nameof(GpuJobStatus.Queued);
                e["QueuedAt"] = now;
                e["Attempts"] = Json.Serialize(attempts);
                if (await TryUpdateAsync(e, ct))
                    await EnqueueAsync(jobId, TimeSpan.Zero, ct);
            }
            e = await GetEntityAsync(jobId, ct);
        }
        return e == null ? null : ToRecord(e);
    }

    /// <summary>
    /// The orchestrator gives up on a job. The first call marks it Failed (confirmed) and returns Failed;
    /// a call on a job whose failure was already confirmed is a rewind: the job gets a fresh budget of
    /// attempts and is requeued. A job that succeeded meanwhile returns Succeeded.
    /// </summary>
    public async Task<(FailureConfirmation Result, GpuJobRecord Record)> ConfirmFailureAsync(string jobId, string reason, int extraAttempts, CancellationToken ct = default)
    {
        for (int i = 0; i < 5; i++)
        {
            var e = await GetEntityAsync(jobId, ct) ?? throw new InvalidOperationException($"job {jobId} does not exist");
            var status = StatusOf(e);
            if (status == GpuJobStatus.Succeeded) return (FailureConfirmation.Succeeded, ToRecord(e));
            if (status == GpuJobStatus.Cancelled) return (FailureConfirmation.Failed, ToRecord(e));
            var now = Now;
            if (e.GetBoolean("FailureConfirmed") == true)
            {
                int attempt = e.GetInt32("Attempt") ?? 0;
                e["Status"] = nameof(GpuJobStatus.Queued);
                e["FailureConfirmed"] = false;
                e["MaxAttempts"] = attempt + extraAttempts;
                e["QueuedAt"] = now;
                e["FinishedAt"] = null;
                if (!await TryUpdateAsync(e, ct)) continue;
                await EnqueueAsync(jobId, TimeSpan.Zero, ct);
                return (FailureConfirmation.Requeued, ToRecord(e));
            }
            var attempts = AttemptsOf(e);
            if (status == GpuJobStatus.Running) MarkLast(attempts, "abandoned", now, reason);
            e["Status"] = nameof(GpuJobStatus.Failed);
            e["FailureConfirmed"] = true;
            e["Error"] = status == GpuJobStatus.Failed ? e.GetString("Error") ?? reason : reason;
            e["FinishedAt"] = now;
            e["Attempts"] = Json.Serialize(attempts);
            if (!await TryUpdateAsync(e, ct)) continue;
            return (FailureConfirmation.Failed, ToRecord(e));
        }
        throw new InvalidOperationException($"job {jobId}: too much contention confirming its failure");
    }

    /// <summary>
    /// Cancels a Queued or Running job (its lap or flywheel was terminated): status Cancelled, the running attempt
    /// marked cancelled. The worker running it sees its next heartbeat refused and stops; no worker claims it again.
    /// No job event is published (the waiting orchestration is terminated too). False when the job had already ended.
    /// </summary>
    public async Task<bool> CancelAsync(string jobId, string reason, CancellationToken ct = default)
    {
        for (int i = 0; i < 5; i++)
        {
            var e = await GetEntityAsync(jobId, ct);
            if (e == null || StatusOf(e) is not (GpuJobStatus.Queued or GpuJobStatus.Running)) return false;
            var now = Now;
            var attempts = AttemptsOf(e);
            MarkLast(attempts, "cancelled", now, reason);
            e["Status"] = nameof(GpuJobStatus.Cancelled);
            e["Error"] = $"cancelled: {reason}";
            e["FinishedAt"] = now;
            e["Attempts"] = Json.Serialize(attempts);
            if (await TryUpdateAsync(e, ct)) return true;
        }
        throw new InvalidOperationException($"job {jobId}: too much contention cancelling it");
    }

    public Task EnqueueAsync(string jobId, TimeSpan delay, CancellationToken ct) =>
        storage.Queue(StorageNames.GpuJobsQueue).SendMessageAsync(
            Json.Serialize(new JobMessage(jobId)), delay > TimeSpan.Zero ? delay : null, null, ct);

    /// <summary>The body of a gpu-jobs message.</summary>
    public sealed record JobMessage(string JobId);

    async Task<bool> FinishFailedAsync(TableEntity e, List<GpuJobAttempt> attempts, string error, CancellationToken ct)
    {
        e["Status"] = nameof(GpuJobStatus.Failed);
        e["Error"] = error;
        e["FinishedAt"] = Now;
        e["Attempts"] = Json.Serialize(attempts);
        if (!await TryUpdateAsync(e, ct)) return false;
        await PublishEventAsync(e, ct);
        return true;
    }

    async Task PublishEventAsync(TableEntity e, CancellationToken ct)
    {
        var record = ToRecord(e);
        var ev = new GpuJobEvent { InstanceId = record.InstanceId, Outcome = OutcomeOf(record) };
        await storage.Queue(StorageNames.JobEventsQueue).SendMessageAsync(Json.Serialize(ev), ct);
    }

    public static GpuJobOutcome OutcomeOf(GpuJobRecord r) => new()
    {
        JobId = r.JobId,
        Status = r.Status,
        Attempt = r.Attempt,
        ResultArtifactId = r.ResultArtifactId,
        Error = r.Error,
        WorkerId = r.WorkerId,
        Summary = r.Summary,
    };

    async Task<TableEntity?> GetEntityAsync(string jobId, CancellationToken ct)
    {
        var r = await Table.GetEntityIfExistsAsync<TableEntity>(jobId, Row, cancellationToken: ct);
        return r.HasValue ? r.Value : null;
    }

    async Task<bool> TryUpdateAsync(TableEntity e, CancellationToken ct)
    {
        try
        {
            await Table.UpdateEntityAsync(e, e.ETag, TableUpdateMode.Replace, ct);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 412) { return false; }
    }

    bool IsStale(TableEntity e, DateTimeOffset now)
    {
        var hb = e.GetDateTimeOffset("HeartbeatAt") ?? DateTimeOffset.MinValue;
        return now - hb > TimeSpan.FromSeconds(e.GetInt32("StaleSeconds") ?? 90);
    }

    static GpuJobStatus StatusOf(TableEntity e) => Enum.Parse<GpuJobStatus>(e.GetString("Status"));

    static List<GpuJobAttempt> AttemptsOf(TableEntity e) =>
        Json.Deserialize<List<GpuJobAttempt>>(e.GetString("Attempts") ?? "[]");

    static void MarkLast(List<GpuJobAttempt> attempts, string state, DateTimeOffset at, string? error)
    {
        if (attempts.Count == 0 || attempts[^1].State != "running") return;
        attempts[^1] = attempts[^1] with { State = state, EndedAt = at, Error = error };
    }

    static string? LastError(List<GpuJobAttempt> attempts) => attempts.LastOrDefault(a => a.Error != null)?.Error;

    static JsonElement? ParseJson(string? s) => string.IsNullOrEmpty(s) ? null : JsonDocument.Parse(s).RootElement.Clone();

    static GpuJobRecord ToRecord(TableEntity e) => new()
    {
        JobId = e.PartitionKey,
        Kind = e.GetString("Kind"),
        Status = StatusOf(e),
        InstanceId = e.GetString("InstanceId"),
        Attempt = e.GetInt32("Attempt") ?? 0,
        MaxAttempts = e.GetInt32("MaxAttempts") ?? 0,
        WorkerId = e.GetString("WorkerId"),
        CreatedAt = e.GetDateTimeOffset("CreatedAt") ?? default,
        QueuedAt = e.GetDateTimeOffset("QueuedAt") ?? default,
        HeartbeatAt = e.GetDateTimeOffset("HeartbeatAt"),
        FinishedAt = e.GetDateTimeOffset("FinishedAt"),
        Progress = ProgressOf(e.GetString("Progress")),
        Error = e.GetString("Error"),
        ResultArtifactId = e.GetString("ResultArtifactId"),
        Summary = ParseJson(e.GetString("Summary")),
        FailureConfirmed = e.GetBoolean("FailureConfirmed") ?? false,
        Attempts = AttemptsOf(e),
        Lap = e.GetString("Lap"),
        Phase = e.GetString("Phase"),
    };

    /// <summary>Job ids become blob prefixes, table keys and URL segments: letters, digits, '-', '_', '.' only.</summary>
    public static void ValidateJobId(string jobId)
    {
        if (!Ids.IsValid(jobId))
            throw new ArgumentException($"invalid job id '{jobId}': use 1-200 letters, digits, '-', '_' or '.'", nameof(jobId));
    }

    /// <summary>A job's last progress; one this build cannot read (another worker version) is left out, not an error.</summary>
    static GpuJobProgress? ProgressOf(string? json)
    {
        if (string.IsNullOrEmpty(json)) return null;
        try { return Json.Deserialize<GpuJobProgress>(json); }
        catch (System.Text.Json.JsonException) { return null; }
    }
}
