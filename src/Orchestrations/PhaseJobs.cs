using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>Running GPU jobs from a phase: deterministic ids, the lap's limits, failure as an exception.</summary>
static class PhaseJobs
{
    public static Task<GpuJobOutcome> RunAsync<T>(TaskOrchestrationContext context, PhaseInput input, string phase, string step, T parameters, params string[] inputs)
        where T : IGpuJobParameters
    {
        // The phase's status names the job, so GET /api/laps/{id} can show its progress.
        context.SetCustomStatus(new PhaseStatus { Phase = phase, Step = step, Jobs = [$"{input.LapId}-{phase}-{step}"] });
        return RunQuietAsync(context, input, phase, step, parameters, inputs);
    }

    /// <summary>GRPO of a model on D_mv with the meta-verifier reward (1C's meta-verifier; 1D's meta task), the base model as reference.</summary>
    public static Task<GpuJobOutcome> MetaVerificationGrpoAsync(TaskOrchestrationContext context, PhaseInput input, string phase, string step, string policy, string dmv)
    {
        string baseModel = PhaseInput.Need(input.Artifacts.Base, "base");
        return RunAsync(context, input, phase, step, new GrpoJobParameters
        {
            Policy = policy, Reference = input.Spec.KlReference(baseModel, policy),
            Reward = input.Spec.Reward(new RewardSpec { Kind = RewardSpec.MetaVerifierKind }),
            Dataset = ArtifactFileRef.Of(dmv, LapFiles.GradedAnalyses),
            Options = input.Spec.MetaVerifier,
        }, policy, baseModel, dmv);
    }

    static Task<GpuJobOutcome> RunQuietAsync<T>(TaskOrchestrationContext context, PhaseInput input, string phase, string step, T parameters, params string[] inputs)
        where T : IGpuJobParameters =>
        GpuJobRuns.RunAsync(context, $"{input.LapId}-{phase}-{step}", input.LapId, phase, parameters, inputs, input.Spec.Limits ?? new GpuJobLimits(),
            input.Spec.ChatTemplate, input.Spec.ChatTemplate ? input.ChatDate ?? context.CurrentUtcDateTime.Date : null, $"phase {phase}",
            Traced.ChildTraceParent(context, input.TraceParent));

    /// <summary>
    /// A sample job split into shards (rows i % shards == s), run side by side on as many workers as there are:
    /// sampling over many prompts is a few jobs, never one activity per sample.
    /// </summary>
    public static async Task<List<GpuJobOutcome>> SampleShardedAsync(TaskOrchestrationContext context, PhaseInput input, string phase, string step, int shards,
        Func<SampleShard?, SampleJobParameters> parameters, params string[] inputs)
    {
        if (shards <= 1) return [await RunAsync(context, input, phase, step, parameters(null), inputs)];
        context.SetCustomStatus(new PhaseStatus { Phase = phase, Step = step, Jobs = Enumerable.Range(0, shards).Select(i => $"{input.LapId}-{phase}-{step}{i}").ToArray() });
        var tasks = Enumerable.Range(0, shards).Select(i => RunQuietAsync(context, input, phase, $"{step}{i}", parameters(new SampleShard(i, shards)), inputs)).ToList();
        return (await Task.WhenAll(tasks)).ToList();
    }

    /// <summary>A sharded sample step of <see cref="SampleStepsAsync"/>: its step name, shards, parameters per shard and inputs.</summary>
    public sealed record SampleStep(string Step, int Shards, Func<SampleShard?, SampleJobParameters> Parameters, string[] Inputs);

    /// <summary>Several sharded sample steps side by side (one status naming all their jobs); each step's outcomes, in order.</summary>
    public static async Task<List<GpuJobOutcome>[]> SampleStepsAsync(TaskOrchestrationContext context, PhaseInput input, string phase, IReadOnlyList<SampleStep> steps)
    {
        static IEnumerable<(string Name, SampleShard? Shard)> Jobs(SampleStep s) =>
            s.Shards <= 1 ? [(s.Step, null)] : Enumerable.Range(0, s.Shards).Select(i => ($"{s.Step}{i}", (SampleShard?)new SampleShard(i, s.Shards)));
        context.SetCustomStatus(new PhaseStatus { Phase = phase, Step = string.Join(", ", steps.Select(s => s.Step)), Jobs = steps.SelectMany(Jobs).Select(j => $"{input.LapId}-{phase}-{j.Name}").ToArray() });
        var tasks = steps.Select(async s => (await Task.WhenAll(Jobs(s).Select(j => RunQuietAsync(context, input, phase, j.Name, s.Parameters(j.Shard), s.Inputs)))).ToList()).ToList();
        return await Task.WhenAll(tasks);
    }
}
