using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>The input of a phase sub-orchestration: the lap, its datasets, and what earlier phases produced.</summary>
public sealed record PhaseInput : MathV2.Core.Telemetry.ITraced
{
    public required string LapId { get; init; }
    public required LapSpec Spec { get; init; }
    public required LapDatasets Datasets { get; init; }
    public LapArtifacts Artifacts { get; init; } = new();
    /// <summary>In a flywheel: the previous lap's artifacts (later laps start from its checkpoints and datasets).</summary>
    public LapArtifacts? Previous { get; init; }
    public bool HumanFree { get; init; }
    /// <summary>With chatTemplate: the date every job of the lap prints in its prompts, fixed when the lap starts.</summary>
    public DateTime? ChatDate { get; init; }
    /// <summary>The W3C traceparent of the span this runs under (docs/observe.md, "Traces and metrics"); null: a trace of its own.</summary>
    public string? TraceParent { get; init; }

    /// <summary>An artifact an earlier phase must have produced.</summary>
    public static string Need(string? id, string name) => id ?? throw new InvalidOperationException($"the lap has no {name} artifact: an earlier phase did not produce it");
}
