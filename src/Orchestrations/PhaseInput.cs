using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>The input of a phase sub-orchestration: the lap, its datasets, and what earlier phases produced.</summary>
public sealed record PhaseInput
{
    public required string LapId { get; init; }
    public required LapSpec Spec { get; init; }
    public required LapDatasets Datasets { get; init; }
    public Dictionary<string, string> Artifacts { get; init; } = [];
    /// <summary>In a flywheel: the previous lap's artifacts (later laps start from its checkpoints and datasets).</summary>
    public Dictionary<string, string>? Previous { get; init; }
    public bool HumanFree { get; init; }

    /// <summary>The previous lap's artifact of that name, else the fallback.</summary>
    public string From(string previousKey, string fallback) => Previous?.GetValueOrDefault(previousKey) ?? fallback;
}
