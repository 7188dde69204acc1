using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>What each phase produced (artifact ids) and how long it took.</summary>
public sealed record PhaseResult
{
    public required string Phase { get; init; }
    public Dictionary<string, string> Artifacts { get; init; } = [];
    public List<GpuJobOutcome> Jobs { get; init; } = [];
    public DateTime Started { get; init; }
    public DateTime Finished { get; init; }
}

/// <summary>The input of a phase sub-orchestration: the lap, its datasets, and what earlier phases produced.</summary>
public sealed record PhaseInput
{
    public required string LapId { get; init; }
    public required LapSpec Spec { get; init; }
    public required LapDatasets Datasets { get; init; }
    public Dictionary<string, string> Artifacts { get; init; } = [];
}

public sealed record LapResult
{
    public required string LapId { get; init; }
    public required List<PhaseResult> Phases { get; init; }
}

/// <summary>
/// One flywheel lap (METHOD.md, "Phases of one lap"): each phase is a sub-orchestration with a deterministic
/// instance id ({lapId}-{phase}); every phase input and output is an artifact with lineage.
/// Implemented so far: 1A cold start, 1B verifier v1, 1C meta-verifier, 1D verifier v2, 2 generator.
/// </summary>
public sealed class Lap : TaskOrchestrator<LapInput, LapResult>
{
    public static readonly (string Phase, string Orchestrator)[] Phases = [("1a", TaskNames.Phase1A), ("1b", TaskNames.Phase1B), ("1c", TaskNames.Phase1C), ("1d", TaskNames.Phase1D), ("2", TaskNames.Phase2)];

    public override async Task<LapResult> RunAsync(TaskOrchestrationContext context, LapInput input)
    {
        context.SetCustomStatus(new LapStatus { Phase = "datasets" });
        var datasets = await context.CallActivityAsync<LapDatasets>(TaskNames.PrepareLapDatasets, input);
        var artifacts = new Dictionary<string, string> { ["problems"] = datasets.Problems, ["demonstrations"] = datasets.Demonstrations };
        var results = new List<PhaseResult>();
        foreach (var (phase, orchestrator) in Phases)
        {
            context.SetCustomStatus(new LapStatus { Phase = phase, Completed = results.Select(r => r.Phase).ToList(), Artifacts = artifacts });
            var r = await context.CallSubOrchestratorAsync<PhaseResult>(orchestrator,
                new PhaseInput { LapId = input.LapId, Spec = input.Spec, Datasets = datasets, Artifacts = new(artifacts) },
                new SubOrchestrationOptions { InstanceId = $"{input.LapId}-{phase}" });
            foreach (var (k, v) in r.Artifacts) artifacts[k] = v;
            results.Add(r);
        }
        context.SetCustomStatus(new LapStatus { Phase = "done", Completed = results.Select(r => r.Phase).ToList(), Artifacts = artifacts });
        return new LapResult { LapId = input.LapId, Phases = results };
    }
}

/// <summary>The lap's custom status: the phase running, the phases done, the artifacts so far.</summary>
public sealed record LapStatus
{
    public required string Phase { get; init; }
    public List<string> Completed { get; init; } = [];
    public Dictionary<string, string> Artifacts { get; init; } = [];
}

/// <summary>Running GPU jobs from a phase: deterministic ids, the lap's limits, failure as an exception.</summary>
static class PhaseJobs
{
    public static async Task<GpuJobOutcome> RunAsync(TaskOrchestrationContext context, PhaseInput input, string phase, string step, string kind, object parameters, params string[] inputs)
    {
        string jobId = $"{input.LapId}-{phase}-{step}";
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
}

/// <summary>
/// 1A cold start: the base model (bootstrapped by SFT on the demonstrations unless the spec names one) proposes
/// proofs for D_p; a batch goes to the annotator (oracle, or people over HTTP with a deadline and reminders) → D_v.
/// </summary>
public sealed class Phase1A : TaskOrchestrator<PhaseInput, PhaseResult>
{
    public override async Task<PhaseResult> RunAsync(TaskOrchestrationContext context, PhaseInput input)
    {
        var started = context.CurrentUtcDateTime;
        var spec = input.Spec;
        var jobs = new List<GpuJobOutcome>();
        string baseModel;
        if (spec.BaseCheckpoint is { } given) baseModel = given;
        else
        {
            context.SetCustomStatus(new { phase = "1a", step = "bootstrap" });
            var sft = await PhaseJobs.RunAsync(context, input, "1a", "bootstrap", GpuJobKinds.Sft, new
            {
                init = new { config = spec.Bootstrap.Config, tokenizer = "char", seed = spec.Demo.Seed },
                dataset = new { artifact = input.Datasets.Demonstrations, file = LapFiles.Demonstrations },
                options = spec.Bootstrap.Options,
            }, input.Datasets.Demonstrations);
            jobs.Add(sft);
            baseModel = sft.ResultArtifactId!;
        }
        context.SetCustomStatus(new { phase = "1a", step = "proofs" });
        var sample = await PhaseJobs.RunAsync(context, input, "1a", "proofs", GpuJobKinds.Sample, new
        {
            model = baseModel,
            prompts = new { artifact = input.Datasets.Problems, file = LapFiles.GenerationPrompts },
            n = spec.ColdStart.ProofsPerProblem, maxNewTokens = spec.ColdStart.MaxNewTokens, temperature = spec.ColdStart.Temperature,
            seed = spec.Demo.Seed,
        }, baseModel, input.Datasets.Problems);
        jobs.Add(sample);

        var batch = await context.CallActivityAsync<AnnotationBatch>(TaskNames.CreateAnnotationBatch, new CreateAnnotationBatchInput
        {
            LapId = input.LapId, Phase = "1a", InstanceId = context.InstanceId, Samples = sample.ResultArtifactId!, BatchSize = spec.Annotation.BatchSize,
        });
        if (spec.Annotation.Annotator == "oracle") await context.CallActivityAsync<int>(TaskNames.OracleAnnotate, batch);
        else await Annotations.WaitAsync(context, batch, spec.Annotation, "1a");
        string dv = await context.CallActivityAsync<string>(TaskNames.BuildLabelledDataset, batch);
        return new PhaseResult
        {
            Phase = "1a", Started = started, Finished = context.CurrentUtcDateTime, Jobs = jobs,
            Artifacts = new() { ["base"] = baseModel, ["coldStartProofs"] = sample.ResultArtifactId!, ["dv"] = dv, ["batch1a"] = batch.BatchId },
        };
    }
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

/// <summary>1B verifier v1: GRPO from the base model on D_v with R_format · R_score.</summary>
public sealed class Phase1B : TaskOrchestrator<PhaseInput, PhaseResult>
{
    public override async Task<PhaseResult> RunAsync(TaskOrchestrationContext context, PhaseInput input)
    {
        var started = context.CurrentUtcDateTime;
        string baseModel = input.Artifacts["base"], dv = input.Artifacts["dv"];
        context.SetCustomStatus(new { phase = "1b", step = "verifier-v1" });
        var grpo = await PhaseJobs.RunAsync(context, input, "1b", "verifier-v1", GpuJobKinds.Grpo, new
        {
            policy = baseModel,
            reward = new { kind = "verifier-v1", prompts = input.Spec.Demo.Prompts },
            dataset = new { artifact = dv, file = LapFiles.GradedProofs },
            options = input.Spec.Verifier,
        }, baseModel, dv);
        return new PhaseResult
        {
            Phase = "1b", Started = started, Finished = context.CurrentUtcDateTime, Jobs = [grpo],
            Artifacts = new() { ["verifierV1"] = grpo.ResultArtifactId! },
        };
    }
}

/// <summary>
/// 1C meta-verifier: verifier v1 writes analyses of the D_v proofs; annotators rate them with the meta-rubric
/// (oracle or people) → D_mv; GRPO from the base model on D_mv with R_format · (1 − |ms′ − ms|).
/// </summary>
public sealed class Phase1C : TaskOrchestrator<PhaseInput, PhaseResult>
{
    public override async Task<PhaseResult> RunAsync(TaskOrchestrationContext context, PhaseInput input)
    {
        var started = context.CurrentUtcDateTime;
        var spec = input.Spec;
        string baseModel = input.Artifacts["base"], dv = input.Artifacts["dv"], v1 = input.Artifacts["verifierV1"];
        string prompts = await context.CallActivityAsync<string>(TaskNames.WriteVerificationPrompts,
            new VerificationPromptsInput { LapId = input.LapId, Phase = "1c", GradedProofs = dv, Prompts = spec.Demo.Prompts });
        context.SetCustomStatus(new { phase = "1c", step = "analyses" });
        var analyses = await PhaseJobs.RunAsync(context, input, "1c", "analyses", GpuJobKinds.Sample, new
        {
            model = v1, prompts = new { artifact = prompts, file = LapFiles.VerificationPrompts },
            n = spec.Analyses.PerProof, maxNewTokens = spec.Analyses.MaxNewTokens, temperature = spec.Analyses.Temperature, seed = spec.Demo.Seed,
        }, v1, prompts);
        var batch = await context.CallActivityAsync<AnnotationBatch>(TaskNames.CreateAnnotationBatch, new CreateAnnotationBatchInput
        {
            LapId = input.LapId, Phase = "1c", InstanceId = context.InstanceId, Samples = analyses.ResultArtifactId!, BatchSize = spec.Annotation.BatchSize,
            Kind = AnnotationKinds.Analyses, GradedProofs = dv,
        });
        if (spec.Annotation.Annotator == "oracle") await context.CallActivityAsync<int>(TaskNames.OracleAnnotate, batch);
        else await Annotations.WaitAsync(context, batch, spec.Annotation, "1c");
        string dmv = await context.CallActivityAsync<string>(TaskNames.BuildLabelledDataset, batch);
        context.SetCustomStatus(new { phase = "1c", step = "meta-verifier" });
        var grpo = await PhaseJobs.RunAsync(context, input, "1c", "meta-verifier", GpuJobKinds.Grpo, new
        {
            policy = baseModel,
            reward = new { kind = "meta-verifier", prompts = spec.Demo.Prompts },
            dataset = new { artifact = dmv, file = LapFiles.GradedAnalyses },
            options = spec.MetaVerifier,
        }, baseModel, dmv);
        return new PhaseResult
        {
            Phase = "1c", Started = started, Finished = context.CurrentUtcDateTime, Jobs = [analyses, grpo],
            Artifacts = new() { ["verifierAnalyses"] = analyses.ResultArtifactId!, ["dmv"] = dmv, ["batch1c"] = batch.BatchId, ["metaVerifier"] = grpo.ResultArtifactId! },
        };
    }
}

/// <summary>
/// 1D verifier v2: fresh from the base model, GRPO on D_v with R_format · R_score · R_meta (R_meta from the frozen
/// meta-verifier of 1C), then on D_mv with the meta-verifier reward, so that one model does both tasks.
/// </summary>
public sealed class Phase1D : TaskOrchestrator<PhaseInput, PhaseResult>
{
    public override async Task<PhaseResult> RunAsync(TaskOrchestrationContext context, PhaseInput input)
    {
        var started = context.CurrentUtcDateTime;
        var spec = input.Spec;
        string baseModel = input.Artifacts["base"], dv = input.Artifacts["dv"], dmv = input.Artifacts["dmv"], meta = input.Artifacts["metaVerifier"];
        context.SetCustomStatus(new { phase = "1d", step = "verification" });
        var verification = await PhaseJobs.RunAsync(context, input, "1d", "verification", GpuJobKinds.Grpo, new
        {
            policy = baseModel,
            reward = new { kind = "verifier-v2", metaVerifier = meta, prompts = spec.Demo.Prompts },
            dataset = new { artifact = dv, file = LapFiles.GradedProofs },
            options = spec.Verifier,
        }, baseModel, meta, dv);
        context.SetCustomStatus(new { phase = "1d", step = "meta-verification" });
        var both = await PhaseJobs.RunAsync(context, input, "1d", "meta-verification", GpuJobKinds.Grpo, new
        {
            policy = verification.ResultArtifactId,
            reference = baseModel,
            reward = new { kind = "meta-verifier", prompts = spec.Demo.Prompts },
            dataset = new { artifact = dmv, file = LapFiles.GradedAnalyses },
            options = spec.MetaVerifier,
        }, verification.ResultArtifactId!, baseModel, dmv);
        return new PhaseResult
        {
            Phase = "1d", Started = started, Finished = context.CurrentUtcDateTime, Jobs = [verification, both],
            Artifacts = new() { ["verifierV2"] = both.ResultArtifactId! },
        };
    }
}

/// <summary>2 generator: GRPO from the base model on D_p, the frozen verifier v2 scoring each proof (R_Y).</summary>
public sealed class Phase2 : TaskOrchestrator<PhaseInput, PhaseResult>
{
    public override async Task<PhaseResult> RunAsync(TaskOrchestrationContext context, PhaseInput input)
    {
        var started = context.CurrentUtcDateTime;
        var spec = input.Spec;
        string baseModel = input.Artifacts["base"], v2 = input.Artifacts["verifierV2"];
        context.SetCustomStatus(new { phase = "2", step = "generator" });
        var grpo = await PhaseJobs.RunAsync(context, input, "2", "generator", GpuJobKinds.Grpo, new
        {
            policy = baseModel,
            reward = new { kind = "generator", verifier = v2, prompts = spec.Demo.Prompts, rewardMaxNewTokens = spec.Analyses.MaxNewTokens },
            dataset = new { artifact = input.Datasets.Problems, file = LapFiles.Problems },
            options = spec.Generator,
        }, baseModel, v2, input.Datasets.Problems);
        return new PhaseResult
        {
            Phase = "2", Started = started, Finished = context.CurrentUtcDateTime, Jobs = [grpo],
            Artifacts = new() { ["generator"] = grpo.ResultArtifactId! },
        };
    }
}
