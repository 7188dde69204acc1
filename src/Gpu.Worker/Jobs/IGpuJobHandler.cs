using System.Text.Json;
using MathV2.Core.Artifacts;
using MathV2.Core.Jobs;

namespace MathV2.Gpu.Worker.Jobs;

/// <summary>Runs one kind of GPU job. Reads and writes only artifacts.</summary>
public interface IGpuJobHandler
{
    string Kind { get; }
    Task<JsonElement?> RunAsync(GpuJobContext context, CancellationToken ct);
}

/// <summary>What a running job sees: its spec, its attempt, its output artifact and a progress channel.</summary>
public sealed class GpuJobContext(GpuJobSpec spec, int attempt, string workerId, ArtifactWriter output, ArtifactStore artifacts)
{
    volatile object? _progress;

    public GpuJobSpec Spec { get; } = spec;
    public int Attempt { get; } = attempt;
    public string WorkerId { get; } = workerId;
    /// <summary>The result artifact, under jobs/{jobId}/attempt-{n}/; committed by the worker after the handler returns.</summary>
    public ArtifactWriter Output { get; } = output;
    public ArtifactStore Artifacts { get; } = artifacts;

    /// <summary>Latest progress (step, loss, tokens/s...), sent with the next heartbeat.</summary>
    public void ReportProgress(object progress) => _progress = progress;
    internal object? Progress => _progress;

    public T GetParameters<T>() where T : new() =>
        Spec.Parameters is { } p ? p.Deserialize<T>(Core.Json.Options) ?? new T() : new T();
}
