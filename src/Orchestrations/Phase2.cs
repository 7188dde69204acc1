using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>
/// 2 generator: GRPO on D_p, the frozen verifier v2 scoring each proof (R_Y alone, the paper's eq. 4; or the α/β
/// reward, "self-verification", the demo's default: LapSpec.Phase2Reward), from the base model (later laps: the previous lap's
/// generator; method.generatorInit "verifier": from v2). Measured on held-out problems by the oracle and by v2,
/// against the base model.
/// </summary>
public sealed class Phase2 : TaskOrchestrator<PhaseInput, PhaseResult>
{
    public override async Task<PhaseResult> RunAsync(TaskOrchestrationContext context, PhaseInput input)
    {
        var started = context.CurrentUtcDateTime;
        var spec = input.Spec;
        string baseModel = PhaseInput.Need(input.Artifacts.Base, "base"), v2 = PhaseInput.Need(input.Artifacts.VerifierV2, "verifierV2");
        string heldOut = input.Datasets.HeldOut ?? throw new InvalidOperationException("the lap has no held-out set");
        string policy = spec.Method.GeneratorInit == MethodOptions.FromVerifier ? v2 : input.Previous?.SelfVerifyingGenerator ?? baseModel;
        string reward = spec.Phase2Reward == MethodOptions.ProofReward ? RewardSpec.Proof : RewardSpec.Generator;
        var grpo = await PhaseJobs.RunAsync(context, input, "2", "generator", new GrpoJobParameters
        {
            Policy = policy, Reference = spec.KlReference(baseModel, policy),
            Reward = spec.Reward(new RewardSpec { Kind = reward, Verifier = v2, RewardMaxNewTokens = spec.Analyses.MaxNewTokens }),
            Dataset = ArtifactFileRef.Of(input.Datasets.Problems, LapFiles.Problems),
            Options = spec.Generator,
        }, policy, baseModel, v2, input.Datasets.Problems);
        string generator = grpo.ResultArtifactId!;
        var (eval, metrics, _) = await HeldOut.MeasureAsync(context, input, "2", "generator", generator, "generator");

        // Both models' held-out proofs judged by v2: the verifier's view of the improvement.
        string prompts = await context.CallActivityAsync<string>(TaskNames.WriteProofPrompts, new ProofPromptsInput
        {
            LapId = input.LapId, Phase = "2", Step = "judged", Prompts = spec.PromptSet, Problems = [ArtifactFileRef.Of(heldOut, LapFiles.HeldOutProblems)],
            Sources = new() { ["base"] = [PhaseInput.Need(input.Artifacts.BaseHeldOutProofs, "baseHeldOutProofs")], ["generator"] = [eval.ResultArtifactId!] },
        });
        var judged = await PhaseJobs.RunAsync(context, input, "2", "judged", new SampleJobParameters
        {
            Model = v2, Prompts = ArtifactFileRef.Of(prompts, LapFiles.VerificationPrompts), N = 1,
            MaxNewTokens = spec.Evaluation.MaxNewTokens, Temperature = spec.Evaluation.Temperature, Seed = spec.Demo.Seed,
        }, v2, prompts);
        LapMeasures.Merge(metrics, await context.CallActivityAsync<Dictionary<string, double>>(TaskNames.MeasureSamples,
            new MeasureInput { Kind = "judged", Samples = [judged.ResultArtifactId!] }));
        return new PhaseResult
        {
            Phase = "2", Started = started, Finished = context.CurrentUtcDateTime, Jobs = [grpo, eval, judged], Metrics = metrics,
            Artifacts = new() { Generator = generator, GeneratorHeldOut = eval.ResultArtifactId! },
        };
    }
}
