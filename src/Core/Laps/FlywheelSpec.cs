using MathV2.Core.Jobs;
using MathV2.Core.Models;

namespace MathV2.Core.Laps;

/// <summary>When a flywheel stops early: a lap whose verifier accuracy fell by more than this below the previous lap's.</summary>
public sealed record FlywheelGates
{
    /// <summary>Null: no gate.</summary>
    public double? MaxVerifierAccuracyDrop { get; init; } = 0.05;

    /// <summary>Why the flywheel stops after lap <paramref name="number"/> of <paramref name="laps"/>, or null to go on.</summary>
    public string? Stop(int number, int laps, double? previousAccuracy, double? accuracy)
    {
        if (MaxVerifierAccuracyDrop is { } drop && previousAccuracy is { } before && accuracy is { } now && now < before - drop - 1e-9)
            return $"gate: verifier accuracy fell from {before:0.###} (lap {number - 1}) to {now:0.###} (lap {number}), more than {drop:0.###}";
        return number >= laps ? $"all {laps} laps done" : null;
    }
}

/// <summary>A multi-lap run: lap k+1 starts from lap k's artifacts; from HumanFreeFromLap on no one annotates.</summary>
public sealed record FlywheelSpec
{
    public string? Name { get; init; }
    public int Laps { get; init; } = 3;
    public int HumanFreeFromLap { get; init; } = 2;
    public FlywheelGates Gates { get; init; } = new();
    public LapSpec Lap { get; init; } = new();

    public IEnumerable<(string Field, string Message)> Validate()
    {
        if (Name is { Length: > 100 }) yield return ("name", "must be at most 100 characters");
        if (Laps is < 1 or > 100) yield return ("laps", "must be between 1 and 100");
        if (HumanFreeFromLap < 2) yield return ("humanFreeFromLap", "must be at least 2 (lap 1 bootstraps with labels)");
        if (Gates.MaxVerifierAccuracyDrop is < 0 or > 1) yield return ("gates.maxVerifierAccuracyDrop", "must be between 0 and 1");
        foreach (var (f, m) in Lap.Validate()) yield return ($"lap.{f}", m);
    }
}
