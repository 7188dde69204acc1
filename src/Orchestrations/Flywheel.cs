using MathV2.Core;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>
/// N laps (docs/laps.md, "Flywheels"): lap k+1 starts from lap k's artifacts (base model, its best
/// verifier by held-out accuracy, meta-verifier, self-verifying generator, D_v with phase 4's labels, D_mv); from
/// HumanFreeFromLap on, no one annotates. Between laps the orchestration continues as new, so its history stays one lap long. A gate stops
/// the run when the verifier's held-out accuracy falls by more than the spec allows.
/// </summary>
public sealed class Flywheel : TaskOrchestrator<FlywheelInput, FlywheelResult>
{
    /// <summary>Lap k of flywheel fly-{hex} is lap-{hex}_{k} (one dash, so it is listed with the laps).</summary>
    public static string LapId(string flywheelId, int number) => $"lap-{flywheelId[(flywheelId.IndexOf('-') + 1)..]}_{number}";

    public override async Task<FlywheelResult> RunAsync(TaskOrchestrationContext context, FlywheelInput input)
    {
        int k = input.Next;
        var previous = input.Laps.LastOrDefault();
        string lapId = LapId(input.FlywheelId, k);
        context.SetCustomStatus(new FlywheelStatus { Lap = k, Of = input.Spec.Laps, LapId = lapId, Laps = input.Laps });
        var result = await context.CallSubOrchestratorAsync<LapResult>(TaskNames.Lap, new LapInput
        {
            LapId = lapId, Spec = input.Spec.Lap with { Name = input.Spec.Name ?? input.Spec.Lap.Name }, Number = k,
            Previous = previous?.Artifacts, HumanFree = k >= input.Spec.HumanFreeFromLap,
            EarlierReports = [.. input.Laps.Select(l => l.Report).OfType<string>()], TraceParent = Traced.ChildTraceParent(context, input),
        }, new SubOrchestrationOptions { InstanceId = lapId });
        var metrics = result.Phases.SelectMany(p => p.Metrics).GroupBy(x => x.Key).ToDictionary(g => g.Key, g => g.Last().Value);
        double? accuracy = metrics.TryGetValue("verifierV3.accuracy", out var a3) ? a3 : metrics.TryGetValue("verifierV2.accuracy", out var a2) ? a2 : null;
        // The next lap's verifier starts from this lap's best one (docs/method.md), passed as the "verifier" artifact.
        var best = BestVerifier.Choose(metrics, result.Artifacts);
        var artifacts = result.Artifacts with { Verifier = best?.Id };
        var laps = input.Laps.Append(new FlywheelLap { LapId = lapId, Number = k, Report = result.Report, VerifierAccuracy = accuracy, BestVerifier = best?.Name, Artifacts = artifacts }).ToList();

        string? stopped = input.Spec.Gates.Stop(k, input.Spec.Laps, previous?.VerifierAccuracy, accuracy);
        if (stopped != null)
        {
            context.SetCustomStatus(new FlywheelStatus { Lap = k, Of = input.Spec.Laps, Stopped = stopped, Laps = laps });
            return new FlywheelResult { FlywheelId = input.FlywheelId, Laps = laps, Stopped = stopped };
        }
        context.ContinueAsNew(input with { Next = k + 1, Laps = laps });
        return null!;
    }
}
