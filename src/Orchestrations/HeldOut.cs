using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>Held-out measures: a sample job on a held-out file, then the measure activity.</summary>
static class HeldOut
{
    /// <summary>
    /// A meta-verifier on the held-out rated analyses (an artifact of their own, made on first use); a dataset lap
    /// without heldOutRatedAnalyses has none, and the measures are absent (LapReport.Absent says why).
    /// </summary>
    public static async Task<(Dictionary<string, double> Metrics, List<GpuJobOutcome> Jobs)> MeasureMetaAsync(TaskOrchestrationContext context, PhaseInput input, string phase,
        string subject, string model)
    {
        string? heldOut = await context.CallActivityAsync<string?>(TaskNames.PrepareHeldOutMeta, new LapInput { LapId = input.LapId, Spec = input.Spec });
        if (heldOut == null) return ([], []);
        var (_, metrics, jobs) = await MeasureAsync(context, input, phase, subject, model, "meta", heldOut);
        return (metrics, jobs);
    }

    /// <summary>Job: the greedy (or proof) samples; Jobs: every job the measure ran.</summary>
    public static async Task<(GpuJobOutcome Job, Dictionary<string, double> Metrics, List<GpuJobOutcome> Jobs)> MeasureAsync(TaskOrchestrationContext context, PhaseInput input, string phase,
        string subject, string model, string kind, string? heldOutArtifact = null)
    {
        var e = input.Spec.Evaluation;
        string heldOut = heldOutArtifact ?? input.Datasets.HeldOut ?? throw new InvalidOperationException("the lap has no held-out set");
        // Verifiers and meta-verifiers answer once, greedy; generators several proofs at a temperature.
        bool judge = kind is "verifier" or "meta";
        string file = kind switch { "verifier" => LapFiles.HeldOutVerificationPrompts, "meta" => LapFiles.HeldOutMetaPrompts, _ => LapFiles.HeldOutGenerationPrompts };
        var job = await PhaseJobs.RunAsync(context, input, phase, $"heldout-{subject.ToLowerInvariant()}", new SampleJobParameters
        {
            Model = model, Prompts = ArtifactFileRef.Of(heldOut, file), N = judge ? 1 : e.ProofSamples, MaxNewTokens = e.MaxNewTokens,
            Temperature = judge ? e.Temperature : e.ProofTemperature, Seed = input.Spec.Demo.Seed,
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
            new MeasureInput { Kind = kind, Subject = subject, Samples = [job.ResultArtifactId!], Sampled = sampled, HeldOut = heldOut, Oracle = input.Spec.IsDemo });
        return (job, metrics, jobs);
    }
}
