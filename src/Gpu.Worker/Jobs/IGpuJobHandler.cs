using System.Text.Json;
using MathV2.Core.Artifacts;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;

namespace MathV2.Gpu.Worker.Jobs;

/// <summary>Runs one kind of GPU job. Reads and writes only artifacts.</summary>
public interface IGpuJobHandler
{
    string Kind { get; }
    Task<JsonElement?> RunAsync(GpuJobContext context, CancellationToken ct);
}

/// <summary>What a running job sees: its spec, its attempt, its output artifact and a progress channel.</summary>
public sealed class GpuJobContext(GpuJobSpec spec, int attempt, string workerId, ArtifactWriter output, ArtifactStore artifacts, MathV2Storage storage)
{
    volatile GpuJobProgress? _progress;

    public GpuJobSpec Spec { get; } = spec;
    /// <summary>The memory the job may plan for and where the figure comes from; null: not checked.</summary>
    public MemoryBudget? Memory { get; init; }
    public int Attempt { get; } = attempt;
    public string WorkerId { get; } = workerId;
    /// <summary>The result artifact, under jobs/{jobId}/attempt-{n}/; committed by the worker after the handler returns.</summary>
    public ArtifactWriter Output { get; } = output;
    public ArtifactStore Artifacts { get; } = artifacts;

    /// <summary>A line in the worker's log, prefixed with the job id.</summary>
    public void Log(string message) => WorkerLog.Job(Spec.JobId, message);

    readonly System.Text.StringBuilder _metrics = new();
    int _metricsVersion, _metricsPublished;

    /// <summary>
    /// Appends a line to the job's live metrics.jsonl, published with the next heartbeat under
    /// jobs/{jobId}/live/metrics.jsonl, so a job's curves can be read while it runs (GET /api/jobs/{id}/metrics).
    /// </summary>
    public void AppendMetrics(string jsonLine)
    {
        lock (_metrics)
        {
            _metrics.Append(jsonLine).Append('\n');
            _metricsVersion++;
        }
    }

    /// <summary>Uploads the live metrics when lines were added since the last upload (heartbeat thread).</summary>
    internal async Task PublishMetricsAsync(CancellationToken ct)
    {
        string text;
        int version;
        lock (_metrics)
        {
            if (_metricsVersion == _metricsPublished) return;
            (text, version) = (_metrics.ToString(), _metricsVersion);
        }
        // The attempt in the metadata: a reader that holds an earlier attempt's lines starts over (GET …/metrics?offset=).
        await storage.Container(StorageNames.JobsContainer).GetBlobClient(GpuJobClient.LiveMetricsPath(Spec.JobId)).UploadAsync(BinaryData.FromString(text),
            new Azure.Storage.Blobs.Models.BlobUploadOptions { Metadata = new Dictionary<string, string> { [GpuJobClient.LiveMetricsAttempt] = Attempt.ToString() } }, ct);
        _metricsPublished = version;
    }

    /// <summary>Latest progress (step, loss, tokens/s...), sent with the next heartbeat.</summary>
    public void ReportProgress(GpuJobProgress progress)
    {
        _progress = progress;
        var kind = new KeyValuePair<string, object?>("kind", Spec.Kind);
        if (progress.TokensPerSecond is { } tps) MathV2.Core.Telemetry.MathV2Telemetry.TokensPerSecond.Record(tps, kind);
        if (progress.Loss is { } loss && double.IsFinite(loss)) MathV2.Core.Telemetry.MathV2Telemetry.TrainingLoss.Record(loss, kind);
        if (progress.MeanReward is { } reward && double.IsFinite(reward)) MathV2.Core.Telemetry.MathV2Telemetry.TrainingReward.Record(reward, kind);
    }
    internal GpuJobProgress? Progress => _progress;

    /// <summary>
    /// Saves resumable state (protocol point 7) under jobs/{jobId}/resume/{name}, outside the attempt folders,
    /// so that a retried attempt continues where the last one saved. Each save replaces the previous one whole.
    /// </summary>
    public async Task SaveResumeStateAsync(string name, byte[] data, CancellationToken ct = default) =>
        await ResumeBlob(name).UploadAsync(BinaryData.FromBytes(data), new Azure.Storage.Blobs.Models.BlobUploadOptions
        {
            Metadata = new Dictionary<string, string> { [ResumeShaKey] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data)) },
        }, ct);

    const string ResumeShaKey = "sha256";

    /// <summary>
    /// The state an earlier attempt saved under this name, or null. Its sha256 (saved with it) is checked: a state
    /// changed or truncated since is bad input, never resumed from.
    /// </summary>
    public async Task<byte[]?> LoadResumeStateAsync(string name, CancellationToken ct = default)
    {
        Azure.Response<Azure.Storage.Blobs.Models.BlobDownloadResult> r;
        try { r = await ResumeBlob(name).DownloadContentAsync(ct); }
        catch (Azure.RequestFailedException e) when (e.Status == 404) { return null; }
        byte[] data = r.Value.Content.ToArray();
        string actual = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data));
        if (!r.Value.Details.Metadata.TryGetValue(ResumeShaKey, out string? saved))
        {
            // Saved before states carried their hash, or rewritten without it: unverifiable, so not resumed from.
            Log($"resume state {name} has no recorded sha256 ({data.Length} bytes): not resumed from; the job starts over");
            return null;
        }
        if (saved != actual)
            throw new InvalidDataException($"job {Spec.JobId} resume state {name}: sha256 mismatch: the stored state ({data.Length} bytes) hashes to {actual}, " +
                $"not the {saved} saved with it; it was changed behind MathV2's back");
        return data;
    }

    Azure.Storage.Blobs.BlobClient ResumeBlob(string name)
    {
        if (!Core.Ids.IsValid(name)) throw new ArgumentException($"invalid resume state name '{name}'", nameof(name));
        return storage.Container(StorageNames.JobsContainer).GetBlobClient($"{Spec.JobId}/resume/{name}");
    }

    /// <summary>The job's parameters, read strictly: a field this worker does not know is an error, never ignored.</summary>
    public T GetParameters<T>() where T : IGpuJobParameters, new()
    {
        if (Spec.Parameters is not { } p || p.ValueKind == JsonValueKind.Null) return new T();
        try { return p.Deserialize<T>(Core.Json.Strict) ?? new T(); }
        catch (JsonException e) { throw new InvalidDataException($"{Spec.Kind} job parameters: {e.Message}", e); }
    }
}
