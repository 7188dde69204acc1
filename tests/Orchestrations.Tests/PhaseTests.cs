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
        /// <summary>Phase 4's waves as planned: (open proofs, analysis rows, meta rows) by wave; past the list, none open.</summary>
        public List<(int Open, int Analyses, int Metas)> Waves { get; set; } = [(3, 3, 0), (2, 1, 2)];
        public ConcurrentQueue<ConsensusWaveInput> WaveInputs { get; } = new();
        public ConcurrentQueue<ProofPromptsInput> ProofPrompts { get; } = new();
        public AutoLabelInput? AutoLabel { get; set; }
        public ConsensusDvInput? ConsensusDv { get; set; }
        public T Parameters<T>(string jobId) where T : IGpuJobParameters =>
            Jobs.Single(j => j.JobId == jobId).Parameters!.Value.Deserialize<T>(Json.Strict)!;
    }

    static async Task<(DurableTaskTestHost Host, Script Script)> StartAsync()
    {
        var s = new Script();
        var host = await TestHosts.StartAsync(r =>
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
            r.AddActivityFunc<LapInput, string?>(TaskNames.PrepareHeldOutMeta, (_, i) => i.Spec.IsDemo || i.Spec.Datasets?.HeldOutRatedAnalyses != null ? $"{i.LapId}.heldout-meta" : null);
            r.AddActivityFunc<MeasureInput, Dictionary<string, double>>(TaskNames.MeasureSamples, (_, m) => new() { [$"{m.Subject}.accuracy"] = 0.5 });
            r.AddActivityFunc<ProofPromptsInput, string>(TaskNames.WriteProofPrompts, (_, p) =>
            {
                s.ProofPrompts.Enqueue(p);
                return $"{p.LapId}-{p.Phase}-{p.Step}.prompts";
            });
            r.AddActivityFunc<ConsensusWaveInput, ConsensusWaveResult>(TaskNames.PlanConsensusWave, (_, w) =>
            {
                s.WaveInputs.Enqueue(w);
                var (open, analyses, metas) = w.Wave < s.Waves.Count ? s.Waves[w.Wave] : (0, 0, 0);
                return new() { Artifact = $"{w.LapId}-4.wave{w.Wave + 1}", Open = open, AnalysisRows = analyses, MetaRows = metas };
            });
            r.AddOrchestrator<Phase3>();
            r.AddActivityFunc<AutoLabelInput, AutoLabelResult>(TaskNames.AutoLabel, (_, a) =>
            {
                s.AutoLabel = a;
                return new()
                {
                    Consensus = $"{a.LapId}-4.consensus",
                    Audit = a.AuditSize == 0 ? null : new() { BatchId = $"{a.LapId}-4-audit", LapId = a.LapId, InstanceId = a.InstanceId, SamplesArtifact = "c", Items = 2, ItemsPath = "i", LabelsPath = "l" },
                };
            });
            r.AddActivityFunc<ConsensusDvInput, ConsensusDvResult>(TaskNames.BuildConsensusDv, (_, d) =>
            {
                s.ConsensusDv = d;
                return new() { Dv = $"{d.LapId}-4.dv", Metrics = d.Audit == null ? [] : new() { ["consensus.audit.agreement"] = 0.5 } };
            });

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
    public async Task With_chat_templates_every_job_of_a_phase_prints_the_date_the_lap_started()
    {
        var (host, s) = await StartAsync();
        await using var _ = host;
        var day = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        await RunAsync(host, TaskNames.Phase1B, Input(new() { Base = "base", Dv = "dv" }, spec: new LapSpec { ChatTemplate = true }) with { ChatDate = day });
        Assert.NotEmpty(s.Jobs);
        Assert.All(s.Jobs, j => Assert.Equal((true, (DateTime?)day), (j.ChatTemplate, j.ChatDate)));
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
    public async Task Phase_4_draws_the_consensus_in_waves_of_keyed_sharded_jobs_until_no_proof_is_open()
    {
        var (host, s) = await StartAsync();
        await using var _ = host;
        var artifacts = new LapArtifacts { Base = "base", Dv = "dv", MetaVerifier = "meta", VerifierV2 = "v2", SelfVerifyingGenerator = "gen" };
        var r = await RunAsync(host, TaskNames.Phase4, Input(artifacts));
        var spec = new LapSpec();
        var c = spec.Consensus;
        for (int shard = 0; shard < c.Shards; shard++)
        {
            var proofs = s.Parameters<SampleJobParameters>($"lap-t-4-proofs{shard}");
            Assert.Equal(("gen", c.Proofs, spec.Demo.Seed + 4L, shard, c.Shards), (proofs.Model, proofs.MaxPrompts, proofs.Seed, proofs.Shard!.Index, proofs.Shard.Count));
            // Wave 1: 3 proofs' analyses over both shards, each sample's stream keyed by its prompt id and index.
            var analyses = s.Parameters<SampleJobParameters>($"lap-t-4-w1-analyses{shard}");
            Assert.Equal(("v2", c.N, spec.Demo.Seed + 40L, true, "lap-t-4.wave1", LapFiles.VerificationPrompts, shard),
                (analyses.Model, analyses.N, analyses.Seed, analyses.StreamsByPrompt, analyses.Prompts!.Artifact, analyses.Prompts.File, analyses.Shard!.Index));
        }
        // Wave 2: one analysis row (one job, unsharded) and two meta rows (two shards), side by side.
        var more = s.Parameters<SampleJobParameters>("lap-t-4-w2-analyses");
        Assert.Equal((c.N, true, (SampleShard?)null), (more.N, more.StreamsByPrompt, more.Shard));
        for (int shard = 0; shard < 2; shard++)
        {
            var meta = s.Parameters<SampleJobParameters>($"lap-t-4-w2-meta{shard}");
            Assert.Equal((c.M, spec.Demo.Seed + 400L, true, LapFiles.MetaPrompts), (meta.N, meta.Seed, meta.StreamsByPrompt, meta.Prompts!.File));
        }
        Assert.DoesNotContain(s.Jobs, j => j.JobId.StartsWith("lap-t-4-w3"));
        // Each wave is planned from every earlier wave's samples; the labels from all of them.
        var waves = s.WaveInputs.OrderBy(w => w.Wave).ToList();
        Assert.Equal([0, 1, 2], waves.Select(w => w.Wave));
        Assert.All(waves, w => Assert.Equal((c.N, c.M, c.K, c.Waves, "lap-t-4-consensus.prompts"), (w.N, w.M, w.K, w.Waves, w.Proofs)));
        Assert.Empty(waves[0].Analyses);
        Assert.Equal(["lap-t-4-w1-analyses0.out", "lap-t-4-w1-analyses1.out"], waves[1].Analyses);
        Assert.Equal(["lap-t-4-w1-analyses0.out", "lap-t-4-w1-analyses1.out", "lap-t-4-w2-analyses.out"], waves[2].Analyses);
        Assert.Equal(["lap-t-4-w2-meta0.out", "lap-t-4-w2-meta1.out"], waves[2].Metas);
        Assert.Equal(waves[2].Analyses, s.AutoLabel!.Analyses);
        Assert.Equal(waves[2].Metas, s.AutoLabel.Metas);
        Assert.Equal(2, r.Metrics["consensus.waves"]);
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

    static readonly LapSpec DatasetSpec = new()
    {
        Domain = LapSpec.DatasetsDomain, BaseCheckpoint = "uploaded-base",
        Datasets = new() { Problems = "dp", GradedProofs = "dv-seed", HeldOutProblems = "ho", HeldOutGradedProofs = "ho-dv" },
    };

    /// <summary>Polls until the phase's status says it waits for a batch (the in-memory engine has no event for it).</summary>
    static async Task<OrchestrationMetadata> AwaitingAnnotationAsync(DurableTaskTestHost host, string id, CancellationToken ct)
    {
        while (true)
        {
            var m = await host.Client.GetInstanceAsync(id, getInputsAndOutputs: true, ct);
            if (m?.SerializedCustomStatus?.Contains(PhaseStatus.AwaitingAnnotation) == true) return m;
            Assert.NotEqual(OrchestrationRuntimeStatus.Failed, m?.RuntimeStatus);
            await Task.Delay(20, ct);
        }
    }

    [Fact]
    public async Task Phase_4_with_people_annotating_waits_for_the_audit_and_builds_Dv_with_their_labels()
    {
        var (host, s) = await StartAsync();
        await using var _ = host;
        var artifacts = new LapArtifacts { Base = "base", Dv = "dv", MetaVerifier = "meta", VerifierV2 = "v2", SelfVerifyingGenerator = "gen" };
        string id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.Phase4, Input(artifacts, spec: DatasetSpec));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        // The phase waits for people: no D_v is built and v3 does not train until the audit's labels arrive.
        var meta = await AwaitingAnnotationAsync(host, id, cts.Token);
        Assert.Contains("lap-t-4-audit", meta.SerializedCustomStatus);
        Assert.Null(s.ConsensusDv);
        Assert.DoesNotContain(s.Jobs, j => j.JobId == "lap-t-4-verifier-v3");
        Assert.Equal((32, DatasetSpec.Demo.Seed, id), (s.AutoLabel!.AuditSize, s.AutoLabel.Seed, s.AutoLabel.InstanceId));
        await host.Client.RaiseEventAsync(id, AnnotationEvents.Submitted("lap-t-4-audit"), 2);
        meta = await host.Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, cts.Token);
        var r = meta.ReadOutputAs<PhaseResult>()!;
        Assert.Equal("lap-t-4-audit", s.ConsensusDv!.Audit!.BatchId);
        Assert.Equal(("lap-t-4-audit", 0.5), (r.Artifacts.Batch4, r.Metrics["consensus.audit.agreement"]));
        Assert.Equal("lap-t-4.dv", s.Parameters<GrpoJobParameters>("lap-t-4-verifier-v3").Dataset!.Artifact);
        // The proofs' statements come from the lap's problems.
        Assert.Equal(["lap-t.problems"], s.ProofPrompts.Single().Problems.Select(p => p.Artifact));
    }

    [Fact]
    public async Task A_dataset_lap_starts_from_its_base_checkpoint_and_without_an_oracle_v2_judges_refinement_and_meta_measures_are_skipped()
    {
        var (host, s) = await StartAsync();
        await using var _ = host;
        var input = Input(new(), spec: DatasetSpec) with { Datasets = new LapDatasets { Problems = "lap-t.problems", HeldOut = "lap-t.heldout", Graded = "lap-t.graded" } };
        string id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.Phase1A, input);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await AwaitingAnnotationAsync(host, id, cts.Token);
        await host.Client.RaiseEventAsync(id, AnnotationEvents.Submitted("lap-t-1a-batch"), 1);
        var a = (await host.Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, cts.Token)).ReadOutputAs<PhaseResult>()!;
        Assert.DoesNotContain(s.Jobs, j => j.Kind == GpuJobKinds.Sft);
        Assert.Equal(("uploaded-base", "lap-t-1a.dv"), (a.Artifacts.Base, a.Artifacts.Dv));

        var d = await RunAsync(host, TaskNames.Phase1D, input with { Artifacts = new() { Base = "uploaded-base", Dv = "dv", Dmv = "dmv", MetaVerifier = "meta" } });
        Assert.DoesNotContain(s.Jobs, j => j.JobId.Contains("heldout-verifierv2.meta"));
        Assert.DoesNotContain(d.Metrics.Keys, k => k.StartsWith("verifierV2.meta."));

        var r = await RunAsync(host, TaskNames.Phase3, input with { Artifacts = new() { Base = "uploaded-base", VerifierV2 = "v2", Generator = "gen" } });
        var judged = s.Parameters<SampleJobParameters>("lap-t-3-judged");
        Assert.Equal(("v2", "lap-t-3-judged.prompts"), (judged.Model, judged.Prompts!.Artifact));
        var prompts = s.ProofPrompts.Single(p => p.Phase == "3");
        Assert.Equal(("lap-t-3-refinement.out", "lap-t.heldout"), (prompts.Refinements.Single(), prompts.Problems.Single().Artifact));
        Assert.Equal(3, r.Jobs.Count);
    }
}
