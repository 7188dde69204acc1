using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>
/// 1D verifier v2: one model for both tasks. GRPO on D_mv with the meta-verifier reward, then on D_v with
/// R_format · R_score · R_meta (R_meta from the frozen meta-verifier of 1C), so that it ends on its main task.
/// Fresh from the base model in lap 1, where the D_mv step is 1C's own job (its meta-verifier is reused); later
/// laps start from the previous lap's best verifier (v1, v2 or v3 by held-out accuracy).
/// </summary>
public sealed class Phase1D : TaskOrchestrator<PhaseInput, PhaseResult>
{
    public override async Task<PhaseResult> RunAsync(TaskOrchestrationContext context, PhaseInput input)
    {
        var started = context.CurrentUtcDateTime;
        var spec = input.Spec;
        string baseModel = PhaseInput.Need(input.Artifacts.Base, "base"), dv = PhaseInput.Need(input.Artifacts.Dv, "dv");
        string dmv = PhaseInput.Need(input.Artifacts.Dmv, "dmv"), meta = PhaseInput.Need(input.Artifacts.MetaVerifier, "metaVerifier");
        string policy = input.Previous?.Verifier ?? input.Previous?.VerifierV3 ?? baseModel;
        // Where 1C started from the same model (lap 1: both from the base model), the meta task's GRPO would be 1C's
        // job again (same policy, D_mv, options and seed): its result is 1C's meta-verifier, so v2 continues from that.
        var jobs = new List<GpuJobOutcome>();
        string metaTrained = meta;
        if (policy != (input.Previous?.MetaVerifier ?? baseModel))
        {
            var metaTask = await PhaseJobs.MetaVerificationGrpoAsync(context, input, "1d", "meta-verification", policy, dmv);
            jobs.Add(metaTask);
            metaTrained = metaTask.ResultArtifactId!;
        }
        var both = await PhaseJobs.RunAsync(context, input, "1d", "verification", new GrpoJobParameters
        {
            Policy = metaTrained, Reference = spec.KlReference(baseModel, metaTrained),
            Reward = spec.Reward(new RewardSpec { Kind = RewardSpec.VerifierV2, MetaVerifier = meta }),
            Dataset = ArtifactFileRef.Of(dv, LapFiles.GradedProofs),
            Options = spec.Verifier,
        }, metaTrained, baseModel, meta, dv);
        var (eval, metrics, evalJobs) = await HeldOut.MeasureAsync(context, input, "1d", "verifierV2", both.ResultArtifactId!, "verifier");
        jobs.Add(both);
        jobs.AddRange(evalJobs);
        // v2 is also the meta-verifier of phase 3's self-analyses: measured in that role too.
        var (asMeta, asMetaJobs) = await HeldOut.MeasureMetaAsync(context, input, "1d", "verifierV2.meta", both.ResultArtifactId!);
        LapMeasures.Merge(metrics, asMeta);
        jobs.AddRange(asMetaJobs);
        return new PhaseResult
        {
            Phase = "1d", Started = started, Finished = context.CurrentUtcDateTime, Jobs = jobs, Metrics = metrics,
            Artifacts = new() { VerifierV2 = both.ResultArtifactId!, VerifierV2HeldOut = eval.ResultArtifactId! },
        };
    }
}
