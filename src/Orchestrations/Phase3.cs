using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>
/// 3 self-verification: the generator continues with the full α/β reward (R_Y from the frozen verifier v2, R_Z the
/// honesty of its self-score times v2's meta-verification of the self-analysis); then inference-time refinement on
/// held-out problems: draft → self-critique → revise, stopping at a self-score of 1 or after the cap (8). The oracle
/// measures the attempts on the demo; elsewhere verifier v2 judges the first attempts and the answers.
/// </summary>
public sealed class Phase3 : TaskOrchestrator<PhaseInput, PhaseResult>
{
    public override async Task<PhaseResult> RunAsync(TaskOrchestrationContext context, PhaseInput input)
    {
        var started = context.CurrentUtcDateTime;
        var spec = input.Spec;
        string baseModel = PhaseInput.Need(input.Artifacts.Base, "base"), v2 = PhaseInput.Need(input.Artifacts.VerifierV2, "verifierV2");
        string generator = PhaseInput.Need(input.Artifacts.Generator, "generator");
        string heldOut = input.Datasets.HeldOut ?? throw new InvalidOperationException("the lap has no held-out set");
        var grpo = await PhaseJobs.RunAsync(context, input, "3", "self-verification", new GrpoJobParameters
        {
            Policy = generator, Reference = spec.KlReference(baseModel, generator),
            Reward = spec.Reward(new RewardSpec { Kind = RewardSpec.Generator, Verifier = v2, MetaVerifier = v2, RewardMaxNewTokens = spec.Analyses.MaxNewTokens }),
            Dataset = ArtifactFileRef.Of(input.Datasets.Problems, LapFiles.Problems),
            Options = spec.SelfVerification ?? spec.Generator,
        }, generator, baseModel, v2, input.Datasets.Problems);
        string selfVerifying = grpo.ResultArtifactId!;
        var refine = await PhaseJobs.RunAsync(context, input, "3", "refinement", new RefineJobParameters
        {
            Model = selfVerifying, Problems = ArtifactFileRef.Of(heldOut, LapFiles.HeldOutProblems),
            MaxIterations = spec.Refinement.MaxIterations, Samples = spec.Refinement.Samples, MaxNewTokens = spec.Refinement.MaxNewTokens, Temperature = spec.Refinement.Temperature,
            Seed = spec.Demo.Seed, Prompts = spec.PromptSet,
        }, selfVerifying, heldOut);
        var metrics = await context.CallActivityAsync<Dictionary<string, double>>(TaskNames.MeasureSamples,
            new MeasureInput { Kind = "refinement", Samples = [refine.ResultArtifactId!], MaxIterations = spec.Refinement.MaxIterations, Oracle = spec.IsDemo });
        List<GpuJobOutcome> jobs = [grpo, refine];
        // Without an oracle, verifier v2 judges the first attempts and the answers.
        if (!spec.IsDemo)
        {
            string prompts = await context.CallActivityAsync<string>(TaskNames.WriteProofPrompts, new ProofPromptsInput
            {
                LapId = input.LapId, Phase = "3", Step = "judged", Prompts = spec.PromptSet, Refinements = [refine.ResultArtifactId!],
                Problems = [ArtifactFileRef.Of(heldOut, LapFiles.HeldOutProblems)],
            });
            var judged = await PhaseJobs.RunAsync(context, input, "3", "judged", new SampleJobParameters
            {
                Model = v2, Prompts = ArtifactFileRef.Of(prompts, LapFiles.VerificationPrompts), N = 1,
                MaxNewTokens = spec.Evaluation.MaxNewTokens, Temperature = spec.Evaluation.Temperature, Seed = spec.Demo.Seed,
            }, v2, prompts);
            jobs.Add(judged);
            LapMeasures.Merge(metrics, await context.CallActivityAsync<Dictionary<string, double>>(TaskNames.MeasureSamples,
                new MeasureInput { Kind = "judged", Samples = [judged.ResultArtifactId!] }));
        }
        return new PhaseResult
        {
            Phase = "3", Started = started, Finished = context.CurrentUtcDateTime, Jobs = jobs, Metrics = metrics,
            Artifacts = new() { SelfVerifyingGenerator = selfVerifying, Refinements = refine.ResultArtifactId! },
        };
    }
}
