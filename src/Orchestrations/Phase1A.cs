using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>
/// 1A cold start: the base model (bootstrapped by SFT on the demonstrations unless the spec names one) proposes
/// proofs for D_p (refined over coldStart.refinementRounds rounds first, if set); a batch goes to the annotator (oracle, or people over HTTP with a deadline and reminders) → D_v.
/// Later flywheel laps keep the base model, let the previous generator propose, and merge with the previous D_v;
/// in human-free mode D_v is the previous lap's (auto-labelled in its phase 4).
/// </summary>
public sealed class Phase1A : TaskOrchestrator<PhaseInput, PhaseResult>
{
    public override async Task<PhaseResult> RunAsync(TaskOrchestrationContext context, PhaseInput input)
    {
        var started = context.CurrentUtcDateTime;
        var spec = input.Spec;
        var jobs = new List<GpuJobOutcome>();
        string? baseModel = spec.BaseCheckpoint ?? input.Previous?.Base;
        if (baseModel is null)
        {
            var sft = await PhaseJobs.RunAsync(context, input, "1a", "bootstrap", new SftJobParameters
            {
                Init = new ModelInit { Config = spec.Bootstrap.Config, Tokenizer = spec.Bootstrap.Tokenizer, Seed = spec.Demo.Seed },
                Dataset = ArtifactFileRef.Of(PhaseInput.Need(input.Datasets.Demonstrations, "demonstrations"), LapFiles.Demonstrations),
                Options = spec.Bootstrap.Options,
            }, input.Datasets.Demonstrations!);
            jobs.Add(sft);
            baseModel = sft.ResultArtifactId!;
        }
        var artifacts = new LapArtifacts { Base = baseModel };
        var (heldOutJob, metrics, _) = await HeldOut.MeasureAsync(context, input, "1a", "base", baseModel, "generator");
        jobs.Add(heldOutJob);
        artifacts = artifacts with { BaseHeldOutProofs = heldOutJob.ResultArtifactId! };
        // The base model as a verifier too: what phase 1B's RL starts from.
        var (_, baseVerifierMetrics, baseVerifierJobs) = await HeldOut.MeasureAsync(context, input, "1a", "baseVerifier", baseModel, "verifier");
        jobs.AddRange(baseVerifierJobs);
        foreach (var (k, v) in baseVerifierMetrics) metrics[k] = v;

        if (input.HumanFree && input.Previous?.Dv is { } previousDv)
            return Result(context, started, jobs, artifacts with { Dv = previousDv }, metrics);
        string proposer = input.Previous?.SelfVerifyingGenerator ?? baseModel;
        // The paper's cold start refines its drafts before people see them (coldStart.refinementRounds).
        var sample = spec.ColdStart.RefinementRounds > 0
            ? await PhaseJobs.RunAsync(context, input, "1a", "proofs", new RefineJobParameters
            {
                Model = proposer, Problems = ArtifactFileRef.Of(input.Datasets.Problems, LapFiles.Problems),
                MaxIterations = spec.ColdStart.RefinementRounds + 1, Samples = spec.ColdStart.ProofsPerProblem,
                MaxNewTokens = spec.ColdStart.MaxNewTokens, Temperature = spec.ColdStart.Temperature, Seed = spec.Demo.Seed, Prompts = spec.PromptSet,
            }, proposer, input.Datasets.Problems)
            : await PhaseJobs.RunAsync(context, input, "1a", "proofs", new SampleJobParameters
            {
                Model = proposer,
                Prompts = ArtifactFileRef.Of(input.Datasets.Problems, LapFiles.GenerationPrompts),
                N = spec.ColdStart.ProofsPerProblem, MaxNewTokens = spec.ColdStart.MaxNewTokens, Temperature = spec.ColdStart.Temperature,
                Seed = spec.Demo.Seed,
            }, proposer, input.Datasets.Problems);
        jobs.Add(sample);

        var batch = await context.CallActivityAsync<AnnotationBatch>(TaskNames.CreateAnnotationBatch, new CreateAnnotationBatchInput
        {
            LapId = input.LapId, Phase = "1a", InstanceId = context.InstanceId, Samples = sample.ResultArtifactId!, BatchSize = spec.Annotation.BatchSize, Seed = spec.Demo.Seed,
            Problems = input.Datasets.Problems,
        });
        if (spec.Annotator == AnnotationOptions.Oracle) await context.CallActivityAsync<int>(TaskNames.OracleAnnotate, batch);
        else await Annotations.WaitAsync(context, batch, spec.Annotation, "1a");
        string dv = await context.CallActivityAsync<string>(TaskNames.BuildLabelledDataset, batch);
        // Later laps add to the previous D_v; lap 1 may start with the demo's graded proofs.
        if ((input.Previous?.Dv ?? input.Datasets.Graded) is { } earlier)
            dv = await context.CallActivityAsync<string>(TaskNames.MergeDatasets, new MergeDatasetsInput
            {
                Id = $"{input.LapId}-1a.dv", LapId = input.LapId, Phase = "1a", Type = "dataset-graded-proofs", File = LapFiles.GradedProofs, Parents = [earlier, dv],
            });
        return Result(context, started, jobs, artifacts with { ColdStartProofs = sample.ResultArtifactId!, Dv = dv, Batch1A = batch.BatchId }, metrics);
    }

    static PhaseResult Result(TaskOrchestrationContext context, DateTime started, List<GpuJobOutcome> jobs, LapArtifacts artifacts, Dictionary<string, double> metrics) =>
        new() { Phase = "1a", Started = started, Finished = context.CurrentUtcDateTime, Jobs = jobs, Artifacts = artifacts, Metrics = metrics };
}
