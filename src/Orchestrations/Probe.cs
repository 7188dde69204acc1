using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using MathV2.Core.Probes;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>
/// Fleet health check: one probe GPU job per requested slot, run in parallel through <see cref="RunGpuJob"/>.
/// Waits for every job before failing, so that a rewind finds no job still running.
/// </summary>
public sealed class Probe : TaskOrchestrator<ProbeRequest, ProbeReport>
{
    public override async Task<ProbeReport> RunAsync(TaskOrchestrationContext context, ProbeRequest request)
    {
        var limits = request.Limits ?? new GpuJobLimits();
        var specs = Enumerable.Range(0, request.Jobs).Select(i => new GpuJobSpec
        {
            JobId = $"{context.InstanceId}-probe-{i}",
            Kind = GpuJobKinds.Probe,
            InstanceId = $"{context.InstanceId}-probe-{i}",
            Parameters = request.ToJobParameters(),
            Limits = limits,
            TraceParent = Traced.ChildTraceParent(context, (string?)null),
        }).ToList();
        context.SetCustomStatus(new PhaseStatus { Phase = "probe", Jobs = specs.Select(s => s.JobId).ToList() });

        var tasks = specs.Select(s => context.CallSubOrchestratorAsync<GpuJobOutcome>(
            TaskNames.RunGpuJob, s, new SubOrchestrationOptions { InstanceId = s.InstanceId })).ToList();
        try { await Task.WhenAll(tasks); }
        catch (TaskFailedException)
        {
            var failed = tasks.Select((t, i) => (t, i)).Where(x => x.t.IsFaulted)
                .Select(x => $"{specs[x.i].JobId}: {x.t.Exception?.InnerException?.Message}");
            throw new InvalidOperationException($"probe failed: {string.Join("; ", failed)}");
        }
        return new ProbeReport { Jobs = tasks.Select(t => t.Result).ToList() };
    }
}
