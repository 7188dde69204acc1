using MathV2.Core.Jobs;
using MathV2.Core.Models;

namespace MathV2.Core.Laps;

/// <summary>One lap of a flywheel as the flywheel remembers it.</summary>
public sealed record FlywheelLap
{
    public required string LapId { get; init; }
    public int Number { get; init; }
    public string? Report { get; init; }
    public double? VerifierAccuracy { get; init; }
    /// <summary>Which of the lap's verifiers (verifierV1/V2/V3) the next lap starts from (<see cref="BestVerifier"/>).</summary>
    public string? BestVerifier { get; init; }
    public LapArtifacts Artifacts { get; init; } = new();
}

/// <summary>The Flywheel orchestration's input; ContinueAsNew carries the next lap's number and the laps so far.</summary>
public sealed record FlywheelInput : Telemetry.ITracedGenerations
{
    public required string FlywheelId { get; init; }
    public required FlywheelSpec Spec { get; init; }
    public int Next { get; init; } = 1;
    /// <summary>The span the flywheel runs under (its POST's): each of its laps is a span of its own beneath it.</summary>
    public string? TraceParent { get; init; }
    int Telemetry.ITracedGenerations.Generation => Next;
    public List<FlywheelLap> Laps { get; init; } = [];
}

public sealed record FlywheelResult
{
    public required string FlywheelId { get; init; }
    public required List<FlywheelLap> Laps { get; init; }
    public required string Stopped { get; init; }
}
