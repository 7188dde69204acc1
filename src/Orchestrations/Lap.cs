using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>The input of a phase sub-orchestration: the lap, its datasets, and what earlier phases produced.</summary>
public sealed record PhaseInput
{
    public required string LapId { get; init; }
    public required LapSpec Spec { get; init; }
    public required LapDatasets Datasets { get; init; }
    public Dictionary<string, string> Artifacts { get; init; } = [];
    /// <summary>In a flywheel: the previous lap's artifacts (later laps start from its checkpoints and datasets).</summary>
    public Dictionary<string, string>? Previous { get; init; }
    public bool HumanFree { get; init; }

    /// <summary>The previous lap's artifact of that name, else the fallback.</summary>
    public string From(string previousKey, string fallback) => Previous?.GetValueOrDefault(previousKey) ?? fallback;
}

/// <summary>
/// One flywheel lap (METHOD.md, "Phases of one lap"): each phase is a sub-orchestration with a deterministic
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
        var artifacts = new Dictionary<string, string> { ["problems"] = datasets.Problems, ["demonstrations"] = datasets.Demonstrations };
        if (datasets.HeldOut is { } h) artifacts["heldOut"] = h;
        var results = new List<PhaseResult>();
        foreach (var (phase, orchestrator) in Phases)
        {
            if (input.Reused.FirstOrDefault(r => r.Phase == phase) is { } reused)
            {
                foreach (var (k, v) in reused.Artifacts) artifacts[k] = v;
                results.Add(reused with { ReusedFrom = reused.ReusedFrom ?? input.RestartedFrom });
                continue;
            }
            context.SetCustomStatus(LapStatus.Of(phase, results, artifacts));
            var r = await context.CallSubOrchestratorAsync<PhaseResult>(orchestrator,
                new PhaseInput { LapId = input.LapId, Spec = input.Spec, Datasets = datasets, Artifacts = new(artifacts), Previous = input.Previous, HumanFree = input.HumanFree },
                new SubOrchestrationOptions { InstanceId = $"{input.LapId}-{phase}" });
            foreach (var (k, v) in r.Artifacts) artifacts[k] = v;
            results.Add(r);
        }
        context.SetCustomStatus(LapStatus.Of("report", results, artifacts));
        string report = await context.CallActivityAsync<string>(TaskNames.WriteLapReport, new LapReportInput
        {
            LapId = input.LapId, Name = input.Spec.Name, Number = input.Number, Phases = results, Started = started, Finished = context.CurrentUtcDateTime, Artifacts = artifacts,
        });
        artifacts["report"] = report;
        context.SetCustomStatus(LapStatus.Of("done", results, artifacts));
        return new LapResult { LapId = input.LapId, Phases = results, Report = report, Artifacts = artifacts };
    }
}

/// <summary>The lap's custom status: the phase running, the phases done, the artifacts so far.</summary>
public sealed record LapStatus
{
    public required string Phase { get; init; }
    public List<string> Completed { get; init; } = [];
    public Dictionary<string, string> Artifacts { get; init; } = [];
    /// <summary>The measures of the phases done so far.</summary>
    public Dictionary<string, double> Metrics { get; init; } = [];

    public static LapStatus Of(string phase, List<PhaseResult> done, Dictionary<string, string> artifacts)
    {
        var metrics = new Dictionary<string, double>();
        foreach (var r in done) LapMeasures.Merge(metrics, r.Metrics);
        return new LapStatus { Phase = phase, Completed = done.Select(r => r.Phase).ToList(), Artifacts = artifacts, Metrics = metrics };
    }
}

/// <summary>Running GPU jobs from a phase: deterministic ids, the lap's limits, failure as an exception.</summary>
static class PhaseJobs
{
    public static Task<GpuJobOutcome> RunAsync<T>(TaskOrchestrationContext context, PhaseInput input, string phase, string step, T parameters, params string[] inputs)
        where T : IGpuJobParameters
    {
        // The phase's status names the job, so GET /api/laps/{id} can show its progress.
        context.SetCustomStatus(new { phase, step, jobs = new[] { $"{input.LapId}-{phase}-{step}" } });
        return RunQuietAsync(context, input, phase, step, parameters, inputs);
    }

    /// <summary>GRPO of a model on D_mv with the meta-verifier reward (1C's meta-verifier; 1D's meta task), the base model as reference.</summary>
    public static Task<GpuJobOutcome> MetaVerificationGrpoAsync(TaskOrchestrationContext context, PhaseInput input, string phase, string step, string policy, string dmv)
    {
        string baseModel = input.Artifacts["base"];
        return RunAsync(context, input, phase, step, new GrpoJobParameters
        {
            Policy = policy, Reference = baseModel,
            Reward = new RewardSpec { Kind = RewardSpec.MetaVerifierKind, Prompts = input.Spec.Demo.Prompts },
            Dataset = ArtifactFileRef.Of(dmv, LapFiles.GradedAnalyses),
            Options = input.Spec.MetaVerifier,
        }, policy, baseModel, dmv);
    }

    static async Task<GpuJobOutcome> RunQuietAsync<T>(TaskOrchestrationContext context, PhaseInput input, string phase, string step, T parameters, params string[] inputs)
        where T : IGpuJobParameters
    {
        string jobId = $"{input.LapId}-{phase}-{step}", kind = T.Kind;
        var spec = new GpuJobSpec
        {
            JobId = jobId, Kind = kind, InstanceId = jobId, Lap = input.LapId, Phase = phase, Inputs = inputs,
            Parameters = JsonSerializer.SerializeToElement(parameters, Json.Options), Limits = input.Spec.Limits ?? new GpuJobLimits(),
        };
        var outcome = await context.CallSubOrchestratorAsync<GpuJobOutcome>(TaskNames.RunGpuJob, spec, new SubOrchestrationOptions { InstanceId = jobId });
        if (outcome.Status != GpuJobStatus.Succeeded || outcome.ResultArtifactId is null)
            throw new InvalidOperationException($"phase {phase}: job {jobId} ({kind}) failed: {outcome.Error}");
        return outcome;
    }

    /// <summary>
    /// A sample job split into shards (rows i % shards == s), run side by side on as many workers as there are:
    /// sampling over many prompts is a few jobs, never one activity per sample.
    /// </summary>
    public static async Task<List<GpuJobOutcome>> SampleShardedAsync(TaskOrchestrationContext context, PhaseInput input, string phase, string step, int shards,
        Func<SampleShard?, SampleJobParameters> parameters, params string[] inputs)
    {
        if (shards <= 1) return [await RunAsync(context, input, phase, step, parameters(null), inputs)];
        context.SetCustomStatus(new { phase, step, jobs = Enumerable.Range(0, shards).Select(i => $"{input.LapId}-{phase}-{step}{i}").ToArray() });
        var tasks = Enumerable.Range(0, shards).Select(i => RunQuietAsync(context, input, phase, $"{step}{i}", parameters(new SampleShard(i, shards)), inputs)).ToList();
        return (await Task.WhenAll(tasks)).ToList();
    }
}

/// <summary>Held-out measures: a sample job on a held-out file, then the measure activity.</summary>
static class HeldOut
{
    /// <summary>Job: the greedy (or proof) samples; Jobs: every job the measure ran.</summary>
    public static async Task<(GpuJobOutcome Job, Dictionary<string, double> Metrics, List<GpuJobOutcome> Jobs)> MeasureAsync(TaskOrchestrationContext context, PhaseInput input, string phase,
        string subject, string model, string kind)
    {
        var e = input.Spec.Evaluation;
        string heldOut = input.Datasets.HeldOut ?? throw new InvalidOperationException("the lap has no held-out set");
        string file = kind == "verifier" ? LapFiles.HeldOutVerificationPrompts : LapFiles.HeldOutGenerationPrompts;
        var job = await PhaseJobs.RunAsync(context, input, phase, $"heldout-{subject.ToLowerInvariant()}", new SampleJobParameters
        {
            Model = model, Prompts = ArtifactFileRef.Of(heldOut, file), N = kind == "verifier" ? 1 : e.ProofSamples, MaxNewTokens = e.MaxNewTokens,
            Temperature = kind == "verifier" ? e.Temperature : e.ProofTemperature, Seed = input.Spec.Demo.Seed,
        }, model, heldOut);
        // A verifier's analyses also at a temperature, several per proof (the distribution consensus labelling draws from).
        var sampled = new List<string>();
        var jobs = new List<GpuJobOutcome> { job };
        if (kind == "verifier" && e.AnalysisSamples > 0)
        {
            var s = await PhaseJobs.RunAsync(context, input, phase, $"heldout-{subject.ToLowerInvariant()}-sampled", new SampleJobParameters
            {
                Model = model, Prompts = ArtifactFileRef.Of(heldOut, file), N = e.AnalysisSamples, MaxNewTokens = e.MaxNewTokens, Temperature = e.AnalysisTemperature, Seed = input.Spec.Demo.Seed,
            }, model, heldOut);
            sampled.Add(s.ResultArtifactId!);
            jobs.Add(s);
        }
        var metrics = await context.CallActivityAsync<Dictionary<string, double>>(TaskNames.MeasureSamples,
            new MeasureInput { Kind = kind, Subject = subject, Samples = [job.ResultArtifactId!], Sampled = sampled, HeldOut = heldOut });
        return (job, metrics, jobs);
    }
}

/// <summary>
/// 1A cold start: the base model (bootstrapped by SFT on the demonstrations unless the spec names one) proposes
/// proofs for D_p; a batch goes to the annotator (oracle, or people over HTTP with a deadline and reminders) → D_v.
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
        string? baseModel = spec.BaseCheckpoint ?? input.Previous?.GetValueOrDefault("base");
        if (baseModel is null)
        {
            var sft = await PhaseJobs.RunAsync(context, input, "1a", "bootstrap", new SftJobParameters
            {
                Init = new ModelInit { Config = spec.Bootstrap.Config, Tokenizer = spec.Bootstrap.Tokenizer, Seed = spec.Demo.Seed },
                Dataset = ArtifactFileRef.Of(input.Datasets.Demonstrations, LapFiles.Demonstrations),
                Options = spec.Bootstrap.Options,
            }, input.Datasets.Demonstrations);
            jobs.Add(sft);
            baseModel = sft.ResultArtifactId!;
        }
        var artifacts = new Dictionary<string, string> { ["base"] = baseModel };
        var (heldOutJob, metrics, _) = await HeldOut.MeasureAsync(context, input, "1a", "base", baseModel, "generator");
        jobs.Add(heldOutJob);
        artifacts["baseHeldOutProofs"] = heldOutJob.ResultArtifactId!;
        // The base model as a verifier too: what phase 1B's RL starts from.
        var (_, baseVerifierMetrics, baseVerifierJobs) = await HeldOut.MeasureAsync(context, input, "1a", "baseVerifier", baseModel, "verifier");
        jobs.AddRange(baseVerifierJobs);
        foreach (var (k, v) in baseVerifierMetrics) metrics[k] = v;

        if (input.HumanFree && input.Previous?.GetValueOrDefault("dv") is { } previousDv)
        {
            artifacts["dv"] = previousDv;
            return Result(context, started, jobs, artifacts, metrics);
        }
        string proposer = input.From("selfVerifyingGenerator", baseModel);
        var sample = await PhaseJobs.RunAsync(context, input, "1a", "proofs", new SampleJobParameters
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
        });
        if (spec.Annotation.Annotator == "oracle") await context.CallActivityAsync<int>(TaskNames.OracleAnnotate, batch);
        else await Annotations.WaitAsync(context, batch, spec.Annotation, "1a");
        string dv = await context.CallActivityAsync<string>(TaskNames.BuildLabelledDataset, batch);
        // Later laps add to the previous D_v; lap 1 may start with the demo's graded proofs.
        if ((input.Previous?.GetValueOrDefault("dv") ?? input.Datasets.Graded) is { } earlier)
            dv = await context.CallActivityAsync<string>(TaskNames.MergeDatasets, new MergeDatasetsInput
            {
                Id = $"{input.LapId}-1a.dv", LapId = input.LapId, Phase = "1a", Type = "dataset-graded-proofs", File = LapFiles.GradedProofs, Parents = [earlier, dv],
            });
        artifacts["coldStartProofs"] = sample.ResultArtifactId!;
        artifacts["dv"] = dv;
        artifacts["batch1a"] = batch.BatchId;
        return Result(context, started, jobs, artifacts, metrics);
    }

    static PhaseResult Result(TaskOrchestrationContext context, DateTime started, List<GpuJobOutcome> jobs, Dictionary<string, string> artifacts, Dictionary<string, double> metrics) =>
        new() { Phase = "1a", Started = started, Finished = context.CurrentUtcDateTime, Jobs = jobs, Artifacts = artifacts, Metrics = metrics };
}

/// <summary>Waiting for people: custom status "awaiting-annotation", a deadline, reminders in the status while waiting.</summary>
static class Annotations
{
    public static async Task WaitAsync(TaskOrchestrationContext context, AnnotationBatch batch, AnnotationOptions o, string phase)
    {
        var deadline = context.CurrentUtcDateTime.AddMinutes(o.DeadlineMinutes);
        int reminders = 0;
        using var cts = new CancellationTokenSource();
        var labelled = context.WaitForExternalEvent<int>(AnnotationEvents.Submitted(batch.BatchId), cts.Token);
        while (true)
        {
            context.SetCustomStatus(new
            {
                phase, status = "awaiting-annotation", batchId = batch.BatchId, items = batch.Items, deadline, reminders,
                submit = $"POST /api/laps/{batch.LapId}/annotations/{batch.BatchId} (JSONL: {{\"itemId\", \"score\"}} per item)",
            });
            var next = context.CurrentUtcDateTime.AddMinutes(o.ReminderMinutes);
            if (next > deadline) next = deadline;
            using var timerCts = new CancellationTokenSource();
            var timer = context.CreateTimer(next, timerCts.Token);
            if (await Task.WhenAny(labelled, timer) == labelled)
            {
                // Synchronous Cancel: an awaited CancelAsync would continue off the orchestration's thread.
                timerCts.Cancel();
                return;
            }
            if (context.CurrentUtcDateTime >= deadline)
            {
                cts.Cancel();
                throw new TimeoutException($"annotation batch {batch.BatchId} ({batch.Items} items) was not labelled within {o.DeadlineMinutes} minutes");
            }
            reminders++;
        }
    }
}

/// <summary>1B verifier v1: GRPO on D_v with R_format · R_score, from the base model (later laps: the previous lap's best verifier).</summary>
public sealed class Phase1B : TaskOrchestrator<PhaseInput, PhaseResult>
{
    public override async Task<PhaseResult> RunAsync(TaskOrchestrationContext context, PhaseInput input)
    {
        var started = context.CurrentUtcDateTime;
        string baseModel = input.Artifacts["base"], dv = input.Artifacts["dv"], policy = input.From(BestVerifier.ArtifactKey, input.From("verifierV3", baseModel));
        var grpo = await PhaseJobs.RunAsync(context, input, "1b", "verifier-v1", new GrpoJobParameters
        {
            Policy = policy, Reference = baseModel,
            Reward = new RewardSpec { Kind = RewardSpec.VerifierV1, Prompts = input.Spec.Demo.Prompts },
            Dataset = ArtifactFileRef.Of(dv, LapFiles.GradedProofs),
            Options = input.Spec.Verifier,
        }, policy, baseModel, dv);
        var (eval, metrics, evalJobs) = await HeldOut.MeasureAsync(context, input, "1b", "verifierV1", grpo.ResultArtifactId!, "verifier");
        return new PhaseResult
        {
            Phase = "1b", Started = started, Finished = context.CurrentUtcDateTime, Jobs = [grpo, .. evalJobs], Metrics = metrics,
            Artifacts = new() { ["verifierV1"] = grpo.ResultArtifactId!, ["verifierV1HeldOut"] = eval.ResultArtifactId! },
        };
    }
}

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
        string baseModel = input.Artifacts["base"], dv = input.Artifacts["dv"], v1 = input.Artifacts["verifierV1"];
        var jobs = new List<GpuJobOutcome>();
        var artifacts = new Dictionary<string, string>();
        string dmv;
        if (input.HumanFree && input.Previous?.GetValueOrDefault("dmv") is { } previousDmv) dmv = previousDmv;
        else
        {
            string prompts = await context.CallActivityAsync<string>(TaskNames.WriteVerificationPrompts,
                new VerificationPromptsInput { LapId = input.LapId, Phase = "1c", GradedProofs = dv, Prompts = spec.Demo.Prompts, MaxRows = spec.Annotation.BatchSize });
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
            if (spec.Annotation.Annotator == "oracle") await context.CallActivityAsync<int>(TaskNames.OracleAnnotate, batch);
            else await Annotations.WaitAsync(context, batch, spec.Annotation, "1c");
            dmv = await context.CallActivityAsync<string>(TaskNames.BuildLabelledDataset, batch);
            if ((input.Previous?.GetValueOrDefault("dmv") ?? input.Datasets.Graded) is { } earlier)
                dmv = await context.CallActivityAsync<string>(TaskNames.MergeDatasets, new MergeDatasetsInput
                {
                    Id = $"{input.LapId}-1c.dmv", LapId = input.LapId, Phase = "1c", Type = "dataset-graded-analyses", File = LapFiles.GradedAnalyses, Parents = [earlier, dmv],
                });
            artifacts["verifierAnalyses"] = analyses.ResultArtifactId!;
            artifacts["batch1c"] = batch.BatchId;
        }
        string policy = input.From("metaVerifier", baseModel);
        var grpo = await PhaseJobs.MetaVerificationGrpoAsync(context, input, "1c", "meta-verifier", policy, dmv);
        jobs.Add(grpo);
        artifacts["dmv"] = dmv;
        artifacts["metaVerifier"] = grpo.ResultArtifactId!;
        return new PhaseResult { Phase = "1c", Started = started, Finished = context.CurrentUtcDateTime, Jobs = jobs, Artifacts = artifacts };
    }
}

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
        string baseModel = input.Artifacts["base"], dv = input.Artifacts["dv"], dmv = input.Artifacts["dmv"], meta = input.Artifacts["metaVerifier"];
        string policy = input.From(BestVerifier.ArtifactKey, input.From("verifierV3", baseModel));
        // Where 1C started from the same model (lap 1: both from the base model), the meta task's GRPO would be 1C's
        // job again (same policy, D_mv, options and seed): its result is 1C's meta-verifier, so v2 continues from that.
        var jobs = new List<GpuJobOutcome>();
        string metaTrained = meta;
        if (policy != input.From("metaVerifier", baseModel))
        {
            var metaTask = await PhaseJobs.MetaVerificationGrpoAsync(context, input, "1d", "meta-verification", policy, dmv);
            jobs.Add(metaTask);
            metaTrained = metaTask.ResultArtifactId!;
        }
        var both = await PhaseJobs.RunAsync(context, input, "1d", "verification", new GrpoJobParameters
        {
            Policy = metaTrained, Reference = baseModel,
            Reward = new RewardSpec { Kind = RewardSpec.VerifierV2, MetaVerifier = meta, Prompts = spec.Demo.Prompts },
            Dataset = ArtifactFileRef.Of(dv, LapFiles.GradedProofs),
            Options = spec.Verifier,
        }, metaTrained, baseModel, meta, dv);
        var (eval, metrics, evalJobs) = await HeldOut.MeasureAsync(context, input, "1d", "verifierV2", both.ResultArtifactId!, "verifier");
        jobs.Add(both);
        jobs.AddRange(evalJobs);
        return new PhaseResult
        {
            Phase = "1d", Started = started, Finished = context.CurrentUtcDateTime, Jobs = jobs, Metrics = metrics,
            Artifacts = new() { ["verifierV2"] = both.ResultArtifactId!, ["verifierV2HeldOut"] = eval.ResultArtifactId! },
        };
    }
}

/// <summary>
/// 2 generator: GRPO on D_p, the frozen verifier v2 scoring each proof (R_Y), from the base model (later laps: the
/// previous lap's generator). Measured on held-out problems by the oracle and by v2, against the base model.
/// </summary>
public sealed class Phase2 : TaskOrchestrator<PhaseInput, PhaseResult>
{
    public override async Task<PhaseResult> RunAsync(TaskOrchestrationContext context, PhaseInput input)
    {
        var started = context.CurrentUtcDateTime;
        var spec = input.Spec;
        string baseModel = input.Artifacts["base"], v2 = input.Artifacts["verifierV2"], policy = input.From("selfVerifyingGenerator", baseModel);
        var grpo = await PhaseJobs.RunAsync(context, input, "2", "generator", new GrpoJobParameters
        {
            Policy = policy, Reference = baseModel,
            Reward = new RewardSpec { Kind = RewardSpec.Generator, Verifier = v2, Prompts = spec.Demo.Prompts, RewardMaxNewTokens = spec.Analyses.MaxNewTokens },
            Dataset = ArtifactFileRef.Of(input.Datasets.Problems, LapFiles.Problems),
            Options = spec.Generator,
        }, policy, baseModel, v2, input.Datasets.Problems);
        string generator = grpo.ResultArtifactId!;
        var (eval, metrics, _) = await HeldOut.MeasureAsync(context, input, "2", "generator", generator, "generator");

        // Both models' held-out proofs judged by v2: the verifier's view of the improvement.
        string prompts = await context.CallActivityAsync<string>(TaskNames.WriteProofPrompts, new ProofPromptsInput
        {
            LapId = input.LapId, Phase = "2", Step = "judged", Prompts = spec.Demo.Prompts,
            Sources = new() { ["base"] = [input.Artifacts["baseHeldOutProofs"]], ["generator"] = [eval.ResultArtifactId!] },
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
            Artifacts = new() { ["generator"] = generator, ["generatorHeldOut"] = eval.ResultArtifactId! },
        };
    }
}

/// <summary>
/// 3 self-verification: the generator continues with the full α/β reward (R_Y from the frozen verifier v2, R_Z the
/// honesty of its self-score times v2's meta-verification of the self-analysis); then inference-time refinement on
/// held-out problems: draft → self-critique → revise, stopping at a self-score of 1 or after the cap (8).
/// </summary>
public sealed class Phase3 : TaskOrchestrator<PhaseInput, PhaseResult>
{
    public override async Task<PhaseResult> RunAsync(TaskOrchestrationContext context, PhaseInput input)
    {
        var started = context.CurrentUtcDateTime;
        var spec = input.Spec;
        string baseModel = input.Artifacts["base"], v2 = input.Artifacts["verifierV2"], generator = input.Artifacts["generator"];
        string heldOut = input.Datasets.HeldOut ?? throw new InvalidOperationException("the lap has no held-out set");
        var grpo = await PhaseJobs.RunAsync(context, input, "3", "self-verification", new GrpoJobParameters
        {
            Policy = generator, Reference = baseModel,
            Reward = new RewardSpec { Kind = RewardSpec.Generator, Verifier = v2, MetaVerifier = v2, Prompts = spec.Demo.Prompts, RewardMaxNewTokens = spec.Analyses.MaxNewTokens },
            Dataset = ArtifactFileRef.Of(input.Datasets.Problems, LapFiles.Problems),
            Options = spec.SelfVerification ?? spec.Generator,
        }, generator, baseModel, v2, input.Datasets.Problems);
        string selfVerifying = grpo.ResultArtifactId!;
        var refine = await PhaseJobs.RunAsync(context, input, "3", "refinement", new RefineJobParameters
        {
            Model = selfVerifying, Problems = ArtifactFileRef.Of(heldOut, LapFiles.HeldOutProblems),
            MaxIterations = spec.Refinement.MaxIterations, Samples = spec.Refinement.Samples, MaxNewTokens = spec.Refinement.MaxNewTokens, Temperature = spec.Refinement.Temperature,
            Seed = spec.Demo.Seed, Prompts = spec.Demo.Prompts,
        }, selfVerifying, heldOut);
        var metrics = await context.CallActivityAsync<Dictionary<string, double>>(TaskNames.MeasureSamples,
            new MeasureInput { Kind = "refinement", Samples = [refine.ResultArtifactId!], MaxIterations = spec.Refinement.MaxIterations });
        return new PhaseResult
        {
            Phase = "3", Started = started, Finished = context.CurrentUtcDateTime, Jobs = [grpo, refine], Metrics = metrics,
            Artifacts = new() { ["selfVerifyingGenerator"] = selfVerifying, ["refinements"] = refine.ResultArtifactId! },
        };
    }
}

/// <summary>
/// 4 scaled verification: the improved generator proves D_p problems; verifier v2 writes n analyses of each proof
/// (sharded over jobs); each issue-reporting analysis gets m meta-verifications; the consensus rule labels the
/// proof or sends it to humans (kept as an artifact). The labels merge into D_v and verifier v3 is trained on it.
/// </summary>
public sealed class Phase4 : TaskOrchestrator<PhaseInput, PhaseResult>
{
    public override async Task<PhaseResult> RunAsync(TaskOrchestrationContext context, PhaseInput input)
    {
        var started = context.CurrentUtcDateTime;
        var spec = input.Spec;
        var c = spec.Consensus;
        string baseModel = input.Artifacts["base"], v2 = input.Artifacts["verifierV2"], dv = input.Artifacts["dv"], meta = input.Artifacts["metaVerifier"];
        string generator = input.Artifacts["selfVerifyingGenerator"];
        var jobs = new List<GpuJobOutcome>();
        var proofs = await PhaseJobs.SampleShardedAsync(context, input, "4", "proofs", c.Shards, shard => new SampleJobParameters
        {
            Model = generator, Prompts = ArtifactFileRef.Of(input.Datasets.Problems, LapFiles.GenerationPrompts), N = 1, MaxPrompts = c.Proofs,
            MaxNewTokens = spec.ColdStart.MaxNewTokens, Temperature = spec.ColdStart.Temperature, Seed = spec.Demo.Seed + 4, Shard = shard,
        }, generator, input.Datasets.Problems);
        jobs.AddRange(proofs);
        string proofPrompts = await context.CallActivityAsync<string>(TaskNames.WriteProofPrompts, new ProofPromptsInput
        {
            LapId = input.LapId, Phase = "4", Step = "consensus", Prompts = spec.Demo.Prompts,
            Sources = new() { ["proof"] = proofs.Select(j => j.ResultArtifactId!).ToList() },
        });
        var analyses = await PhaseJobs.SampleShardedAsync(context, input, "4", "analyses", c.Shards, shard => new SampleJobParameters
        {
            Model = v2, Prompts = ArtifactFileRef.Of(proofPrompts, LapFiles.VerificationPrompts), N = c.N,
            MaxNewTokens = c.MaxNewTokens, Temperature = c.Temperature, Seed = spec.Demo.Seed + 40, Shard = shard,
        }, v2, proofPrompts);
        jobs.AddRange(analyses);
        var analysisIds = analyses.Select(j => j.ResultArtifactId!).ToList();
        var metaPrompts = await context.CallActivityAsync<MetaPromptsResult>(TaskNames.WriteMetaPrompts, new MetaPromptsInput
        {
            LapId = input.LapId, Phase = "4", Proofs = proofPrompts, Analyses = analysisIds, Prompts = spec.Demo.Prompts,
        });
        var metaIds = new List<string>();
        if (metaPrompts.Prompts > 0)
        {
            var metas = await PhaseJobs.SampleShardedAsync(context, input, "4", "meta", c.Shards, shard => new SampleJobParameters
            {
                Model = v2, Prompts = ArtifactFileRef.Of(metaPrompts.Artifact, LapFiles.MetaPrompts), N = c.M,
                MaxNewTokens = c.MaxNewTokens, Temperature = c.Temperature, Seed = spec.Demo.Seed + 400, Shard = shard,
            }, v2, metaPrompts.Artifact);
            jobs.AddRange(metas);
            metaIds = metas.Select(j => j.ResultArtifactId!).ToList();
        }
        var labelled = await context.CallActivityAsync<AutoLabelResult>(TaskNames.AutoLabel, new AutoLabelInput
        {
            LapId = input.LapId, Proofs = proofPrompts, Analyses = analysisIds, Metas = metaIds, Dv = dv, N = c.N, M = c.M, K = c.K,
        });
        var v3 = await PhaseJobs.RunAsync(context, input, "4", "verifier-v3", new GrpoJobParameters
        {
            Policy = v2, Reference = baseModel,
            Reward = new RewardSpec { Kind = RewardSpec.VerifierV2, MetaVerifier = meta, Prompts = spec.Demo.Prompts },
            Dataset = ArtifactFileRef.Of(labelled.Dv, LapFiles.GradedProofs),
            Options = spec.Verifier,
        }, v2, baseModel, meta, labelled.Dv);
        jobs.Add(v3);
        var (eval, metrics, evalJobs) = await HeldOut.MeasureAsync(context, input, "4", "verifierV3", v3.ResultArtifactId!, "verifier");
        jobs.AddRange(evalJobs);
        LapMeasures.Merge(metrics, labelled.Metrics);
        return new PhaseResult
        {
            Phase = "4", Started = started, Finished = context.CurrentUtcDateTime, Jobs = jobs, Metrics = metrics,
            Artifacts = new() { ["dv"] = labelled.Dv, ["consensus"] = labelled.Consensus, ["verifierV3"] = v3.ResultArtifactId!, ["consensusProofs"] = proofPrompts },
        };
    }
}
