using MathV2.Core.Jobs;
using MathV2.Core.Models;

namespace MathV2.Core.Laps;

/// <summary>The input of the Lap orchestration.</summary>
public sealed record LapInput : Telemetry.ITraced
{
    public required string LapId { get; init; }
    public required LapSpec Spec { get; init; }
    /// <summary>Phases taken over from an earlier lap (restart from a later phase): their results, artifacts included.</summary>
    public List<PhaseResult> Reused { get; init; } = [];
    /// <summary>The lap the reused phases come from.</summary>
    public string? RestartedFrom { get; init; }
    /// <summary>In a flywheel: which lap this is (1-based) and the previous lap's artifacts it starts from.</summary>
    public int Number { get; init; } = 1;
    public LapArtifacts? Previous { get; init; }
    /// <summary>Human-free mode (later flywheel laps): no annotation batches; D_v and D_mv come from the previous lap.</summary>
    public bool HumanFree { get; init; }
    /// <summary>In a flywheel: the earlier laps' report artifacts (the report plots held-out measures per lap).</summary>
    public List<string> EarlierReports { get; init; } = [];
    /// <summary>The W3C traceparent of the span this runs under (docs/observe.md, "Traces and metrics"); null: a trace of its own.</summary>
    public string? TraceParent { get; init; }
}

/// <summary>What a phase produced (artifact ids), its held-out measures, its jobs, and how long it took.</summary>
public sealed record PhaseResult
{
    public required string Phase { get; init; }
    public LapArtifacts Artifacts { get; init; } = new();
    /// <summary>Measures on held-out data and counts (keys as in docs/laps.md, "Lap report").</summary>
    public Dictionary<string, double> Metrics { get; init; } = [];
    public List<Jobs.GpuJobOutcome> Jobs { get; init; } = [];
    public DateTime Started { get; init; }
    public DateTime Finished { get; init; }
    /// <summary>Set when the phase was taken over from another lap rather than run.</summary>
    public string? ReusedFrom { get; init; }
}

public sealed record LapResult
{
    public required string LapId { get; init; }
    public required List<PhaseResult> Phases { get; init; }
    /// <summary>The report artifact (report.json, report.md).</summary>
    public string? Report { get; init; }
    public LapArtifacts Artifacts { get; init; } = new();
}

/// <summary>The datasets a lap starts from (artifact ids).</summary>
public sealed record LapDatasets
{
    /// <summary>problems.jsonl (D_p) and generation-prompts.jsonl ({id, prompt}).</summary>
    public required string Problems { get; init; }
    /// <summary>demonstrations.jsonl for the bootstrap SFT (demo laps; dataset laps start from their base checkpoint).</summary>
    public string? Demonstrations { get; init; }
    /// <summary>The held-out set of the report: problems, generation prompts, graded proofs, verification prompts.</summary>
    public string? HeldOut { get; init; }
    /// <summary>graded-proofs.jsonl and graded-analyses.jsonl joining D_v and D_mv in lap 1: demo.seedGradedSets, or a dataset lap's gradedProofs and ratedAnalyses.</summary>
    public string? Graded { get; init; }
}

/// <summary>The phases of a lap, in order (docs/method.md).</summary>
public static class LapPhases
{
    public static readonly string[] Names = ["1a", "1b", "1c", "1d", "2", "3", "4"];
}
