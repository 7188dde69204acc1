using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>The lap's custom status: the phase running, the phases done, the artifacts so far.</summary>
public sealed record LapStatus
{
    public required string Phase { get; init; }
    public List<string> Completed { get; init; } = [];
    public Dictionary<string, string> Artifacts { get; init; } = [];
    /// <summary>The measures of the phases done so far.</summary>
    public Dictionary<string, double> Metrics { get; init; } = [];

    public static LapStatus Of(string phase, List<PhaseResult> done, Dictionary<string, string> artifacts)
    {
        var metrics = new Dictionary<string, double>();
        foreach (var r in done) LapMeasures.Merge(metrics, r.Metrics);
        return new LapStatus { Phase = phase, Completed = done.Select(r => r.Phase).ToList(), Artifacts = artifacts, Metrics = metrics };
    }
}
