using MathV2.Core.Jobs;

namespace MathV2.Core.Laps;

/// <summary>The lap's custom status: the phase running, the phases done, the artifacts and measures so far.</summary>
public sealed record LapStatus
{
    public required string Phase { get; init; }
    public List<string> Completed { get; init; } = [];
    public LapArtifacts Artifacts { get; init; } = new();
    /// <summary>The measures of the phases done so far.</summary>
    public Dictionary<string, double> Metrics { get; init; } = [];

    public static LapStatus Of(string phase, List<PhaseResult> done, LapArtifacts artifacts)
    {
        var metrics = new Dictionary<string, double>();
        foreach (var r in done) LapMeasures.Merge(metrics, r.Metrics);
        return new LapStatus { Phase = phase, Completed = done.Select(r => r.Phase).ToList(), Artifacts = artifacts, Metrics = metrics };
    }
}

/// <summary>
/// A phase's (or a probe's) custom status: the step running and its GPU jobs, so GET /api/laps/{id} can show their
/// progress; or, while people label a batch, the wait (status "awaiting-annotation") and how to submit.
/// </summary>
public sealed record PhaseStatus
{
    public const string AwaitingAnnotation = "awaiting-annotation";

    public required string Phase { get; init; }
    public string? Step { get; init; }
    public IReadOnlyList<string>? Jobs { get; init; }
    public string? Status { get; init; }
    public string? BatchId { get; init; }
    public int? Items { get; init; }
    public DateTime? Deadline { get; init; }
    public int? Reminders { get; init; }
    /// <summary>The route that takes the labels.</summary>
    public string? Submit { get; init; }
}

/// <summary>The flywheel's custom status: the lap running (k of N), the laps so far, and why it stopped.</summary>
public sealed record FlywheelStatus
{
    public required int Lap { get; init; }
    public required int Of { get; init; }
    public string? LapId { get; init; }
    public string? Stopped { get; init; }
    public List<FlywheelLap> Laps { get; init; } = [];
}

/// <summary>RunGpuJob's custom status while it waits: the job record's status, attempt and worker.</summary>
public sealed record JobWaitStatus
{
    public required string JobId { get; init; }
    public required GpuJobStatus Status { get; init; }
    public int Attempt { get; init; }
    public string? Worker { get; init; }
}
