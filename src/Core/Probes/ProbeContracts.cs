using System.Text.Json;
using MathV2.Core.Jobs;

namespace MathV2.Core.Probes;

/// <summary>Body of POST /api/probes: a fleet health check of <see cref="Jobs"/> probe jobs.</summary>
public sealed record ProbeRequest
{
    /// <summary>Square matrix size for the matmul measurement.</summary>
    public int Size { get; init; } = 1024;
    /// <summary>Timed matmul repetitions (after one warm-up).</summary>
    public int Repeats { get; init; } = 10;
    /// <summary>Number of probe jobs (one per worker slot).</summary>
    public int Jobs { get; init; } = 1;
    /// <summary>Keep measuring for at least this long (0: just the repeats).</summary>
    public double MinSeconds { get; init; }
    /// <summary>Job limits; the host's defaults when absent.</summary>
    public GpuJobLimits? Limits { get; init; }

    public IEnumerable<(string Field, string Message)> Validate()
    {
        if (Size is < 1 or > 16384) yield return ("size", "must be between 1 and 16384");
        if (Repeats is < 1 or > 10000) yield return ("repeats", "must be between 1 and 10000");
        if (Jobs is < 1 or > 256) yield return ("jobs", "must be between 1 and 256");
        if (MinSeconds is < 0 or > 3600 || double.IsNaN(MinSeconds)) yield return ("minSeconds", "must be between 0 and 3600");
        if (Limits != null) foreach (var e in Limits.Validate()) yield return e;
    }

    public JsonElement ToJobParameters() => JsonSerializer.SerializeToElement(
        new ProbeParameters { Size = Size, Repeats = Repeats, MinSeconds = MinSeconds }, Json.Options);
}

/// <summary>Parameters of one probe job.</summary>
public sealed record ProbeParameters : Jobs.IGpuJobParameters
{
    public static string Kind => Jobs.GpuJobKinds.Probe;

    public int Size { get; init; } = 1024;
    public int Repeats { get; init; } = 10;
    public double MinSeconds { get; init; }
}

/// <summary>What a probe job measured (probe.json in its artifact, and the job summary).</summary>
public sealed record ProbeResult
{
    public required string Device { get; init; }
    public required int Threads { get; init; }
    public required string TorchSharpVersion { get; init; }
    public required string LibTorchVersion { get; init; }
    public required int Size { get; init; }
    public required int Repeats { get; init; }
    public required double Seconds { get; init; }
    public required double Gflops { get; init; }
    public required string Worker { get; init; }
}

/// <summary>Output of the Probe orchestration.</summary>
public sealed record ProbeReport
{
    public required IReadOnlyList<GpuJobOutcome> Jobs { get; init; }
    public double TotalGflops => Jobs.Sum(j => ResultOf(j)?.Gflops ?? 0);

    /// <summary>What a probe job measured, from its outcome's summary.</summary>
    public static ProbeResult? ResultOf(GpuJobOutcome job)
    {
        if (job.Summary is not { ValueKind: System.Text.Json.JsonValueKind.Object } s) return null;
        try { return s.Deserialize<ProbeResult>(Json.Options); }
        catch (System.Text.Json.JsonException) { return null; }
    }
}
