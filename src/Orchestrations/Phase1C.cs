using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>
/// 1C meta-verifier: verifier v1 writes analyses of the D_v proofs; annotators rate them with the meta-rubric
/// (oracle or people) → D_mv; GRPO on D_mv with R_format · (1 − |ms′ − ms|), from the base model (later laps: the
/// previous meta-verifier; human-free laps reuse the previous D_mv).
/// </summary>
public sealed class Phase1C : TaskOrchestrator<PhaseInput, PhaseResult>
{
    public override async Task<PhaseResult> RunAsync(TaskOrchestrationContext context, PhaseInput input)
    {
        var started = context.CurrentUtcDateTime;
        var spec = input.Spec;
        string baseModel = PhaseInput.Need(input.Artifacts.Base, "base"), dv = PhaseInput.Need(input.Artifacts.Dv, "dv"), v1 = PhaseInput.Need(input.Artifacts.VerifierV1, "verifierV1");
        var jobs = new List<GpuJobOutcome>();
        var artifacts = new LapArtifacts();
        string dmv;
        if (input.HumanFree && input.Previous?.Dmv is { } previousDmv) dmv = previousDmv;
        else
        {
            string prompts = await context.CallActivityAsync<string>(TaskNames.WriteVerificationPrompts,
                new VerificationPromptsInput { LapId = input.LapId, Phase = "1c", GradedProofs = dv, Prompts = spec.PromptSet, MaxRows = spec.Annotation.BatchSize });
            var analyses = await PhaseJobs.RunAsync(context, input, "1c", "analyses", new SampleJobParameters
            {
                Model = v1, Prompts = ArtifactFileRef.Of(prompts, LapFiles.VerificationPrompts),
                N = spec.Analyses.PerProof, MaxNewTokens = spec.Analyses.MaxNewTokens, Temperature = spec.Analyses.Temperature, Seed = spec.Demo.Seed,
            }, v1, prompts);
            jobs.Add(analyses);
            var batch = await context.CallActivityAsync<AnnotationBatch>(TaskNames.CreateAnnotationBatch, new CreateAnnotationBatchInput
            {
                LapId = input.LapId, Phase = "1c", InstanceId = context.InstanceId, Samples = analyses.ResultArtifactId!, BatchSize = spec.Annotation.BatchSize, Seed = spec.Demo.Seed,
                Kind = AnnotationKinds.Analyses, GradedProofs = dv,
            });
            if (spec.Annotator == AnnotationOptions.Oracle) await context.CallActivityAsync<int>(TaskNames.OracleAnnotate, batch);
            else await Annotations.WaitAsync(context, batch, spec.Annotation, "1c");
            dmv = await context.CallActivityAsync<string>(TaskNames.BuildLabelledDataset, batch);
            if ((input.Previous?.Dmv ?? input.Datasets.Graded) is { } earlier)
                dmv = await context.CallActivityAsync<string>(TaskNames.MergeDatasets, new MergeDatasetsInput
                {
                    Id = $"{input.LapId}-1c.dmv", LapId = input.LapId, Phase = "1c", Type = "dataset-graded-analyses", File = LapFiles.GradedAnalyses, Parents = [earlier, dmv],
                });
            artifacts = artifacts with { VerifierAnalyses = analyses.ResultArtifactId!, Batch1C = batch.BatchId };
        }
        string policy = input.Previous?.MetaVerifier ?? baseModel;
        var grpo = await PhaseJobs.MetaVerificationGrpoAsync(context, input, "1c", "meta-verifier", policy, dmv);
        jobs.Add(grpo);
        // The meta-verifier on held-out rated analyses: how far phase 4's consensus can trust it.
        var (metrics, evalJobs) = await HeldOut.MeasureMetaAsync(context, input, "1c", "metaVerifier", grpo.ResultArtifactId!);
        jobs.AddRange(evalJobs);
        return new PhaseResult
        {
            Phase = "1c", Started = started, Finished = context.CurrentUtcDateTime, Jobs = jobs, Metrics = metrics,
            Artifacts = artifacts with { Dmv = dmv, MetaVerifier = grpo.ResultArtifactId! },
        };
    }
}
