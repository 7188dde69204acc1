using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>One GPU job as a RunGpuJob sub-orchestration (its instance id the job's id), failing as an exception.</summary>
static class GpuJobRuns
{
    /// <param name="owner">The lap or search the job belongs to; <paramref name="phase"/> its phase or round.</param>
    /// <param name="failure">What the error message starts with ("phase 4", "round 2").</param>
    /// <param name="traceParent">The job's parent span (<see cref="Traced.ChildTraceParent"/>); null: a trace of its own.</param>
    public static async Task<GpuJobOutcome> RunAsync<T>(TaskOrchestrationContext context, string jobId, string owner, string phase, T parameters, IReadOnlyList<string> inputs,
        GpuJobLimits limits, bool chatTemplate, DateTime? chatDate, string failure, string? traceParent = null) where T : IGpuJobParameters
    {
        var spec = new GpuJobSpec
        {
            JobId = jobId, Kind = T.Kind, InstanceId = jobId, Lap = owner, Phase = phase, Inputs = [.. inputs],
            Parameters = JsonSerializer.SerializeToElement(parameters, Json.Options), Limits = limits, ChatTemplate = chatTemplate, ChatDate = chatDate,
            TraceParent = traceParent,
        };
        var outcome = await context.CallSubOrchestratorAsync<GpuJobOutcome>(TaskNames.RunGpuJob, spec, new SubOrchestrationOptions { InstanceId = jobId });
        if (outcome.Status != GpuJobStatus.Succeeded || outcome.ResultArtifactId is null)
            throw new InvalidOperationException($"{failure}: job {jobId} ({T.Kind}) failed: {outcome.Error}");
        return outcome;
    }
}
