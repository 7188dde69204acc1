using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>
/// 4 scaled verification: the improved generator proves D_p problems; verifier v2 writes up to n analyses of each
/// proof and up to m meta-verifications of each issue-reporting analysis, drawn in waves of sharded jobs until the
/// consensus rule's outcome is settled for every proof (ConsensusWaves); the rule labels the proof or sends it to
/// humans (kept as an artifact). With people annotating, a stratified sample of the labels is
/// audited by them first (consensus.auditSize). The labels merge into D_v and verifier v3 is trained on it.
/// </summary>
public sealed class Phase4 : TaskOrchestrator<PhaseInput, PhaseResult>
{
    public override async Task<PhaseResult> RunAsync(TaskOrchestrationContext context, PhaseInput input)
    {
        var started = context.CurrentUtcDateTime;
        var spec = input.Spec;
        var c = spec.Consensus;
        string baseModel = PhaseInput.Need(input.Artifacts.Base, "base"), v2 = PhaseInput.Need(input.Artifacts.VerifierV2, "verifierV2");
        string dv = PhaseInput.Need(input.Artifacts.Dv, "dv"), meta = PhaseInput.Need(input.Artifacts.MetaVerifier, "metaVerifier");
        string generator = PhaseInput.Need(input.Artifacts.SelfVerifyingGenerator, "selfVerifyingGenerator");
        var jobs = new List<GpuJobOutcome>();
        var proofs = await PhaseJobs.SampleShardedAsync(context, input, "4", "proofs", c.Shards, shard => new SampleJobParameters
        {
            Model = generator, Prompts = ArtifactFileRef.Of(input.Datasets.Problems, LapFiles.GenerationPrompts), N = 1, MaxPrompts = c.Proofs,
            MaxNewTokens = spec.ColdStart.MaxNewTokens, Temperature = spec.ColdStart.Temperature, Seed = spec.Demo.Seed + 4, Shard = shard,
        }, generator, input.Datasets.Problems);
        jobs.AddRange(proofs);
        string proofPrompts = await context.CallActivityAsync<string>(TaskNames.WriteProofPrompts, new ProofPromptsInput
        {
            LapId = input.LapId, Phase = "4", Step = "consensus", Prompts = spec.PromptSet, Problems = [ArtifactFileRef.Of(input.Datasets.Problems, LapFiles.Problems)],
            Sources = new() { ["proof"] = proofs.Select(j => j.ResultArtifactId!).ToList() },
        });
        // The consensus in waves: each wave's jobs draw what the adaptive rule asks for next, keyed by (prompt id, index).
        var analysisIds = new List<string>();
        var metaIds = new List<string>();
        int waves = 0;
        for (int w = 0; w < c.Waves; w++)
        {
            var wave = await context.CallActivityAsync<ConsensusWaveResult>(TaskNames.PlanConsensusWave, new ConsensusWaveInput
            {
                LapId = input.LapId, Proofs = proofPrompts, Analyses = analysisIds, Metas = metaIds, N = c.N, M = c.M, K = c.K,
                Wave = w, Waves = c.Waves, Prompts = spec.PromptSet,
            });
            if (wave.Open == 0) break;
            waves++;
            var steps = new List<PhaseJobs.SampleStep>();
            if (wave.AnalysisRows > 0)
                steps.Add(new($"w{w + 1}-analyses", Math.Min(c.Shards, wave.AnalysisRows), shard => new SampleJobParameters
                {
                    Model = v2, Prompts = ArtifactFileRef.Of(wave.Artifact, LapFiles.VerificationPrompts), N = c.N, StreamsByPrompt = true,
                    MaxNewTokens = c.MaxNewTokens, Temperature = c.Temperature, Seed = spec.Demo.Seed + 40, Shard = shard,
                }, [v2, wave.Artifact]));
            if (wave.MetaRows > 0)
                steps.Add(new($"w{w + 1}-meta", Math.Min(c.Shards, wave.MetaRows), shard => new SampleJobParameters
                {
                    Model = v2, Prompts = ArtifactFileRef.Of(wave.Artifact, LapFiles.MetaPrompts), N = c.M, StreamsByPrompt = true,
                    MaxNewTokens = c.MaxNewTokens, Temperature = c.Temperature, Seed = spec.Demo.Seed + 400, Shard = shard,
                }, [v2, wave.Artifact]));
            var drawn = await PhaseJobs.SampleStepsAsync(context, input, "4", steps);
            jobs.AddRange(drawn.SelectMany(x => x));
            for (int i = 0; i < steps.Count; i++)
                (steps[i].Step.EndsWith("-meta") ? metaIds : analysisIds).AddRange(drawn[i].Select(j => j.ResultArtifactId!));
        }
        var labelled = await context.CallActivityAsync<AutoLabelResult>(TaskNames.AutoLabel, new AutoLabelInput
        {
            LapId = input.LapId, Proofs = proofPrompts, Analyses = analysisIds, Metas = metaIds, N = c.N, M = c.M, K = c.K,
            AuditSize = spec.AuditSize, Seed = spec.Demo.Seed, InstanceId = context.InstanceId, Oracle = spec.IsDemo,
        });
        // People check a stratified sample of the labels (http annotator); their scores take the labels' place.
        if (labelled.Audit is { } audit) await Annotations.WaitAsync(context, audit, spec.Annotation, "4");
        var dvResult = await context.CallActivityAsync<ConsensusDvResult>(TaskNames.BuildConsensusDv, new ConsensusDvInput
        {
            LapId = input.LapId, Consensus = labelled.Consensus, Dv = dv, Audit = labelled.Audit,
        });
        var v3 = await PhaseJobs.RunAsync(context, input, "4", "verifier-v3", new GrpoJobParameters
        {
            Policy = v2, Reference = spec.KlReference(baseModel, v2),
            Reward = spec.Reward(new RewardSpec { Kind = RewardSpec.VerifierV2, MetaVerifier = meta }),
            Dataset = ArtifactFileRef.Of(dvResult.Dv, LapFiles.GradedProofs),
            Options = spec.Verifier,
        }, v2, baseModel, meta, dvResult.Dv);
        jobs.Add(v3);
        var (eval, metrics, evalJobs) = await HeldOut.MeasureAsync(context, input, "4", "verifierV3", v3.ResultArtifactId!, "verifier");
        jobs.AddRange(evalJobs);
        LapMeasures.Merge(metrics, labelled.Metrics);
        metrics["consensus.waves"] = waves;
        LapMeasures.Merge(metrics, dvResult.Metrics);
        return new PhaseResult
        {
            Phase = "4", Started = started, Finished = context.CurrentUtcDateTime, Jobs = jobs, Metrics = metrics,
            Artifacts = new() { Dv = dvResult.Dv, Consensus = labelled.Consensus, VerifierV3 = v3.ResultArtifactId!, ConsensusProofs = proofPrompts, Batch4 = labelled.Audit?.BatchId },
        };
    }
}
