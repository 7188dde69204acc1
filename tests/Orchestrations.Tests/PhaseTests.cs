using System.Text.Json;
using System.Collections.Concurrent;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;

namespace MathV2.Orchestrations.Tests;

/// <summary>
/// Phase orchestrators on the in-memory test engine, with RunGpuJob and the activities scripted: which jobs a phase
/// runs, with which typed parameters, and which artifacts it hands on. Seconds, no storage, no worker.
/// </summary>
public sealed class PhaseTests
{
    /// <summary>Every job spec the phase submitted, in order; each job "succeeds" with result "{jobId}.out".</summary>
    sealed class Script
    {
        public ConcurrentQueue<GpuJobSpec> Jobs { get; } = new();
        public int MetaPrompts { get; set; } = 5;
        public T Parameters<T>(string jobId) where T : IGpuJobParameters =>
            Jobs.Single(j => j.JobId == jobId).Parameters!.Value.Deserialize<T>(Json.Strict)!;
    }

    static async Task<(DurableTaskTestHost Host, Script Script)> StartAsync()
    {
        var s = new Script();
        var host = await DurableTaskTestHost.StartAsync(r =>
        {
            r.AddOrchestrator<Phase1B>();
            r.AddOrchestrator<Phase1D>();
            r.AddOrchestrator<Phase4>();
            r.AddOrchestrator<Phase1A>();
            r.AddOrchestrator<Phase2>();
            r.AddActivityFunc<CreateAnnotationBatchInput, AnnotationBatch>(TaskNames.CreateAnnotationBatch, (_, b) => new()
            {
                BatchId = $"{b.LapId}-1a-batch", LapId = b.LapId, InstanceId = b.InstanceId, SamplesArtifact = b.Samples, Items = 1, ItemsPath = "items", LabelsPath = "labels",
            });
            r.AddActivityFunc<AnnotationBatch, int>(TaskNames.OracleAnnotate, (_, b) => b.Items);
            r.AddActivityFunc<AnnotationBatch, string>(TaskNames.BuildLabelledDataset, (_, b) => $"{b.LapId}-1a.labelled");
            r.AddActivityFunc<MergeDatasetsInput, string>(TaskNames.MergeDatasets, (_, m) => m.Id);
            r.AddOrchestratorFunc<GpuJobSpec, GpuJobOutcome>(TaskNames.RunGpuJob, (_, spec) =>
            {
                s.Jobs.Enqueue(spec);
                return new GpuJobOutcome { JobId = spec.JobId, Status = GpuJobStatus.Succeeded, ResultArtifactId = $"{spec.JobId}.out" };
            });
            r.AddActivityFunc<LapInput, string>(TaskNames.PrepareHeldOutMeta, (_, i) => $"{i.LapId}.heldout-meta");
            r.AddActivityFunc<MeasureInput, Dictionary<string, double>>(TaskNames.MeasureSamples, (_, m) => new() { [$"{m.Subject}.accuracy"] = 0.5 });
            r.AddActivityFunc<ProofPromptsInput, string>(TaskNames.WriteProofPrompts, (_, p) => $"{p.LapId}-{p.Phase}-{p.Step}.prompts");
            r.AddActivityFunc<MetaPromptsInput, MetaPromptsResult>(TaskNames.WriteMetaPrompts, (_, p) => new() { Artifact = $"{p.LapId}-4.meta", Prompts = s.MetaPrompts });
            r.AddActivityFunc<AutoLabelInput, AutoLabelResult>(TaskNames.AutoLabel, (_, a) => new() { Dv = $"{a.LapId}-4.dv", Consensus = $"{a.LapId}-4.consensus" });
        });
        return (host, s);
    }

    static PhaseInput Input(LapArtifacts artifacts, LapArtifacts? previous = null, LapSpec? spec = null) => new()
    {
        LapId = "lap-t", Spec = spec ?? new LapSpec(), Previous = previous,
        Datasets = new LapDatasets { Problems = "lap-t.problems", Demonstrations = "lap-t.demos", HeldOut = "lap-t.heldout" },
        Artifacts = artifacts,
    };

    static async Task<PhaseResult> RunAsync(DurableTaskTestHost host, string orchestrator, PhaseInput input)
    {
        string id = await host.Client.ScheduleNewOrchestrationInstanceAsync(orchestrator, input);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var meta = await host.Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, cts.Token);
        Assert.True(meta.RuntimeStatus == OrchestrationRuntimeStatus.Completed, meta.FailureDetails?.ErrorMessage);
        var result = meta.ReadOutputAs<PhaseResult>()!;
        // A phase hands on only what the lap's data flow declares for it.
        Assert.Subset(LapArtifacts.ByPhase[result.Phase].ToHashSet(), result.Artifacts.Named().Select(a => a.Name).ToHashSet());
        return result;
    }

    [Fact]
    public async Task Phase_1B_trains_verifier_v1_on_Dv_with_the_lap_verifier_options_and_measures_it()
    {
        var (host, s) = await StartAsync();
        await using var _ = host;
        var r = await RunAsync(host, TaskNames.Phase1B, Input(new() { Base = "base", Dv = "dv" }));
        var grpo = s.Parameters<GrpoJobParameters>("lap-t-1b-verifier-v1");
        Assert.Equal(("base", "base", RewardSpec.VerifierV1, "dv", LapFiles.GradedProofs), (grpo.Policy, grpo.Reference, grpo.Reward.Kind, grpo.Dataset!.Artifact, grpo.Dataset.File));
        Assert.Equal(LapDefaults.Verifier with { CurriculumKinds = grpo.Options.CurriculumKinds, StopStrings = grpo.Options.StopStrings }, grpo.Options);
        Assert.Equal(GpuJobKinds.Grpo, s.Jobs.First().Kind);
        Assert.Equal(["base", "base", "dv"], s.Jobs.First().Inputs);
        Assert.Equal("lap-t-1b-verifier-v1.out", r.Artifacts.VerifierV1);
        var heldOut = s.Parameters<SampleJobParameters>("lap-t-1b-heldout-verifierv1");
        Assert.Equal(("lap-t-1b-verifier-v1.out", "lap-t.heldout", 1, 0.0), (heldOut.Model, heldOut.Prompts!.Artifact, heldOut.N, heldOut.Temperature));
        Assert.Equal(0.5, r.Metrics["verifierV1.accuracy"]);
    }

    [Fact]
    public async Task Phase_1D_reuses_1Cs_meta_verifier_in_lap_1_and_trains_the_meta_task_from_the_previous_verifier_later()
    {
        var (host, s) = await StartAsync();
        await using var _ = host;
        var artifacts = new LapArtifacts { Base = "base", Dv = "dv", Dmv = "dmv", MetaVerifier = "meta" };
        var r = await RunAsync(host, TaskNames.Phase1D, Input(artifacts));
        Assert.DoesNotContain(s.Jobs, j => j.JobId == "lap-t-1d-meta-verification");
        // v2 measured as the meta-verifier it is in phases 3 and 4: greedy, once, on the held-out rated analyses.
        var asMeta = s.Parameters<SampleJobParameters>("lap-t-1d-heldout-verifierv2.meta");
        Assert.Equal(("lap-t-1d-verification.out", "lap-t.heldout-meta", LapFiles.HeldOutMetaPrompts, 1, 0.0),
            (asMeta.Model, asMeta.Prompts!.Artifact, asMeta.Prompts.File, asMeta.N, asMeta.Temperature));
        Assert.Equal(0.5, r.Metrics["verifierV2.meta.accuracy"]);
        var v2 = s.Parameters<GrpoJobParameters>("lap-t-1d-verification");
        Assert.Equal(("meta", RewardSpec.VerifierV2, "meta"), (v2.Policy, v2.Reward.Kind, v2.Reward.MetaVerifier));

        var (later, s2) = await StartAsync();
        await using var __ = later;
        await RunAsync(later, TaskNames.Phase1D, Input(artifacts, previous: new() { Verifier = "prev-v", MetaVerifier = "prev-meta" }));
        var metaTask = s2.Parameters<GrpoJobParameters>("lap-t-1d-meta-verification");
        Assert.Equal(("prev-v", RewardSpec.MetaVerifierKind, "dmv"), (metaTask.Policy, metaTask.Reward.Kind, metaTask.Dataset!.Artifact));
        Assert.Equal("lap-t-1d-meta-verification.out", s2.Parameters<GrpoJobParameters>("lap-t-1d-verification").Policy);
    }

    [Fact]
    public async Task Phase_4_shards_sampling_seeds_each_step_and_skips_meta_verification_when_no_analysis_reports_an_issue()
    {
        var (host, s) = await StartAsync();
        await using var _ = host;
        s.MetaPrompts = 0;
        var artifacts = new LapArtifacts { Base = "base", Dv = "dv", MetaVerifier = "meta", VerifierV2 = "v2", SelfVerifyingGenerator = "gen" };
        var r = await RunAsync(host, TaskNames.Phase4, Input(artifacts));
        var spec = new LapSpec();
        for (int shard = 0; shard < spec.Consensus.Shards; shard++)
        {
            var proofs = s.Parameters<SampleJobParameters>($"lap-t-4-proofs{shard}");
            Assert.Equal(("gen", spec.Consensus.Proofs, spec.Demo.Seed + 4L, shard, spec.Consensus.Shards), (proofs.Model, proofs.MaxPrompts, proofs.Seed, proofs.Shard!.Index, proofs.Shard.Count));
            var analyses = s.Parameters<SampleJobParameters>($"lap-t-4-analyses{shard}");
            Assert.Equal(("v2", spec.Consensus.N, spec.Demo.Seed + 40L), (analyses.Model, analyses.N, analyses.Seed));
        }
        Assert.DoesNotContain(s.Jobs, j => j.JobId.StartsWith("lap-t-4-meta"));
        var v3 = s.Parameters<GrpoJobParameters>("lap-t-4-verifier-v3");
        Assert.Equal(("v2", "lap-t-4.dv"), (v3.Policy, v3.Dataset!.Artifact));
        Assert.Equal(("lap-t-4.dv", "lap-t-4-verifier-v3.out"), (r.Artifacts.Dv, r.Artifacts.VerifierV3));
    }

    [Fact]
    public async Task Phase_2_rewards_the_proof_alone_when_asked_the_demo_keeps_its_reward_and_the_method_options_apply()
    {
        var (host, s) = await StartAsync();
        await using var _ = host;
        var artifacts = new LapArtifacts { Base = "base", VerifierV2 = "v2", BaseHeldOutProofs = "base-heldout" };
        await RunAsync(host, TaskNames.Phase2, Input(artifacts, spec: new LapSpec { Method = new() { GeneratorReward = MethodOptions.ProofReward } }));
        var grpo = s.Parameters<GrpoJobParameters>("lap-t-2-generator");
        Assert.Equal(("base", "base", RewardSpec.Proof, "v2", 1), (grpo.Policy, grpo.Reference, grpo.Reward.Kind, grpo.Reward.Verifier, grpo.Reward.RewardSamples));
        // The demo's default is the reward its targets were measured with; other domains default to the paper's.
        Assert.Equal(MethodOptions.SelfVerificationReward, new LapSpec().Phase2Reward);
        Assert.Equal(MethodOptions.ProofReward, new LapSpec { Domain = "datasets" }.Phase2Reward);
        Assert.Same(Core.Method.Prompts.Compact, grpo.Reward.Prompts);

        var (other, s2) = await StartAsync();
        await using var __ = other;
        var paper = new LapSpec
        {
            Method = new() { GeneratorReward = MethodOptions.SelfVerificationReward, GeneratorInit = MethodOptions.FromVerifier, KlReference = MethodOptions.FromPolicy, RewardSamples = 4, RewardTemperature = 0.7 },
        };
        await RunAsync(other, TaskNames.Phase2, Input(artifacts, previous: new() { SelfVerifyingGenerator = "prev-gen" }, spec: paper));
        var g2 = s2.Parameters<GrpoJobParameters>("lap-t-2-generator");
        Assert.Equal(("v2", "v2", RewardSpec.Generator, 4, 0.7), (g2.Policy, g2.Reference, g2.Reward.Kind, g2.Reward.RewardSamples, g2.Reward.RewardTemperature));
    }

    [Fact]
    public async Task Phase_1A_refines_cold_start_drafts_before_annotation_when_asked()
    {
        var (host, s) = await StartAsync();
        await using var _ = host;
        var spec = new LapSpec { BaseCheckpoint = "base", ColdStart = new() { RefinementRounds = 2, ProofsPerProblem = 3 } };
        var r = await RunAsync(host, TaskNames.Phase1A, Input(new(), spec: spec));
        var refine = s.Parameters<RefineJobParameters>("lap-t-1a-proofs");
        Assert.Equal(GpuJobKinds.Refine, s.Jobs.Single(j => j.JobId == "lap-t-1a-proofs").Kind);
        Assert.Equal(("base", 3, 3, "lap-t.problems", LapFiles.Problems), (refine.Model, refine.MaxIterations, refine.Samples, refine.Problems!.Artifact, refine.Problems.File));
        // The refined answers are what the annotators label.
        Assert.Equal("lap-t-1a-proofs.out", r.Artifacts.ColdStartProofs);

        var (plain, s2) = await StartAsync();
        await using var __ = plain;
        await RunAsync(plain, TaskNames.Phase1A, Input(new(), spec: spec with { ColdStart = new() }));
        Assert.Equal(GpuJobKinds.Sample, s2.Jobs.Single(j => j.JobId == "lap-t-1a-proofs").Kind);
    }
}
