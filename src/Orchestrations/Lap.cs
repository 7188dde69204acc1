using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>
/// One flywheel lap (docs/laps.md, the phase table): each phase is a sub-orchestration with a deterministic
/// instance id ({lapId}-{phase}); every phase input and output is an artifact with lineage. Phases reused from an
/// earlier lap (restart from a phase) are not run again. The lap ends by writing its report.
/// </summary>
public sealed class Lap : TaskOrchestrator<LapInput, LapResult>
{
    public static readonly (string Phase, string Orchestrator)[] Phases =
        [("1a", TaskNames.Phase1A), ("1b", TaskNames.Phase1B), ("1c", TaskNames.Phase1C), ("1d", TaskNames.Phase1D), ("2", TaskNames.Phase2), ("3", TaskNames.Phase3), ("4", TaskNames.Phase4)];

    public static readonly string[] PhaseNames = LapPhases.Names;

    public override async Task<LapResult> RunAsync(TaskOrchestrationContext context, LapInput input)
    {
        var started = context.CurrentUtcDateTime;
        context.SetCustomStatus(new LapStatus { Phase = "datasets" });
        var datasets = await context.CallActivityAsync<LapDatasets>(TaskNames.PrepareLapDatasets, input);
        var artifacts = new LapArtifacts { Problems = datasets.Problems, Demonstrations = datasets.Demonstrations, HeldOut = datasets.HeldOut };
        var results = new List<PhaseResult>();
        foreach (var (phase, orchestrator) in Phases)
        {
            if (input.Reused.FirstOrDefault(r => r.Phase == phase) is { } reused)
            {
                artifacts = artifacts.Merge(reused.Artifacts);
                results.Add(reused with { ReusedFrom = reused.ReusedFrom ?? input.RestartedFrom });
                continue;
            }
            context.SetCustomStatus(LapStatus.Of(phase, results, artifacts));
            var r = await context.CallSubOrchestratorAsync<PhaseResult>(orchestrator,
                new PhaseInput
                {
                    LapId = input.LapId, Spec = input.Spec, Datasets = datasets, Artifacts = artifacts, Previous = input.Previous, HumanFree = input.HumanFree,
                    ChatDate = input.Spec.ChatTemplate ? started.Date : null,
                    TraceParent = Traced.ChildTraceParent(context, input.TraceParent),
                },
                new SubOrchestrationOptions { InstanceId = $"{input.LapId}-{phase}" });
            artifacts = artifacts.Merge(r.Artifacts);
            results.Add(r);
        }
        context.SetCustomStatus(LapStatus.Of("report", results, artifacts));
        string report = await context.CallActivityAsync<string>(TaskNames.WriteLapReport, new LapReportInput
        {
            LapId = input.LapId, Name = input.Spec.Name, Number = input.Number, Domain = input.Spec.Domain, Phases = results, Started = started, Finished = context.CurrentUtcDateTime, Artifacts = artifacts,
            Spec = input.Spec, EarlierReports = input.EarlierReports,
        });
        artifacts = artifacts with { Report = report };
        context.SetCustomStatus(LapStatus.Of("done", results, artifacts));
        return new LapResult { LapId = input.LapId, Phases = results, Report = report, Artifacts = artifacts };
    }
}
