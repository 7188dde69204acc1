using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>1B verifier v1: GRPO on D_v with R_format · R_score, from the base model (later laps: the previous lap's best verifier).</summary>
public sealed class Phase1B : TaskOrchestrator<PhaseInput, PhaseResult>
{
    public override async Task<PhaseResult> RunAsync(TaskOrchestrationContext context, PhaseInput input)
    {
        var started = context.CurrentUtcDateTime;
        string baseModel = PhaseInput.Need(input.Artifacts.Base, "base"), dv = PhaseInput.Need(input.Artifacts.Dv, "dv");
        string policy = input.Previous?.Verifier ?? input.Previous?.VerifierV3 ?? baseModel;
        var grpo = await PhaseJobs.RunAsync(context, input, "1b", "verifier-v1", new GrpoJobParameters
        {
            Policy = policy, Reference = input.Spec.KlReference(baseModel, policy),
            Reward = input.Spec.Reward(new RewardSpec { Kind = RewardSpec.VerifierV1 }),
            Dataset = ArtifactFileRef.Of(dv, LapFiles.GradedProofs),
            Options = input.Spec.Verifier,
        }, policy, baseModel, dv);
        var (eval, metrics, evalJobs) = await HeldOut.MeasureAsync(context, input, "1b", "verifierV1", grpo.ResultArtifactId!, "verifier");
        return new PhaseResult
        {
            Phase = "1b", Started = started, Finished = context.CurrentUtcDateTime, Jobs = [grpo, .. evalJobs], Metrics = metrics,
            Artifacts = new() { VerifierV1 = grpo.ResultArtifactId!, VerifierV1HeldOut = eval.ResultArtifactId! },
        };
    }
}
