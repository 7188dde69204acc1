using System.Diagnostics;
using MathV2.Core.Http;
using MathV2.Core.Jobs;
using MathV2.Core.Probes;

namespace MathV2.Cli;

/// <summary>One probe of `bench scale`: how long its jobs took from start to the probe's end, and who ran them.</summary>
public sealed record ScaleRun(int Workers, double Seconds, int Jobs, double MeanJobSeconds, IReadOnlyDictionary<string, int> JobsPerWorker);

/// <summary>What `bench scale` measured: the same sharded probe on one worker, then on two.</summary>
public sealed record ScaleResult(ScaleRun One, ScaleRun Two, double SpeedUp, int Cores);

/// <summary>
/// Scale-out on one machine: a probe of N jobs (submitted together, as a sharded phase's jobs are) on the local stack
/// with one worker, then with a second one started; the speed-up is the ratio of the two probes' wall times. The jobs
/// are fp32 matmuls: on a CPU the two workers share its cores, on GPUs each worker has its own.
/// </summary>
public static class ScaleBench
{
    public static async Task<ScaleResult> RunAsync(LocalStack stack, ApiClient api, ProbeRequest probe, TextWriter progress, CancellationToken ct)
    {
        int alive = stack.AliveWorkers();
        if (alive != 1) throw new CliException($"bench scale starts from one worker and the stack runs {alive}: ./mathv2 down, then ./mathv2 up (one worker)");
        var one = await ProbeAsync(api, probe, 1, ct);
        progress.WriteLine($"  1 worker: {one.Seconds:F1} s; starting a second worker...");
        await new LocalStack(stack.Layout with { Workers = 2 }, TextWriter.Null).UpAsync(ct);
        var two = await ProbeAsync(api, probe, 2, ct);
        progress.WriteLine($"  2 workers: {two.Seconds:F1} s (the stack keeps its second worker until ./mathv2 down)");
        return new ScaleResult(one, two, one.Seconds / two.Seconds, Environment.ProcessorCount);
    }

    static async Task<ScaleRun> ProbeAsync(ApiClient api, ProbeRequest probe, int workers, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var started = await api.PostAsync<CheckStatusPayload>("/api/probes", probe, ct);
        InstanceView st;
        while (!(st = await api.GetAsync<InstanceView>($"/api/instances/{started.Id}?showInput=false", ct)).IsFinished) await Task.Delay(100, ct);
        double seconds = sw.Elapsed.TotalSeconds;
        if (st.RuntimeStatus != RuntimeStates.Completed) throw new CliException($"bench probe {started.Id} did not complete ({st.RuntimeStatus})");
        var jobs = new List<GpuJobRecord>();
        for (int k = 0; k < probe.Jobs; k++) jobs.Add(await api.GetAsync<GpuJobRecord>($"/api/jobs/{started.Id}-probe-{k}", ct));
        return new ScaleRun(workers, seconds, jobs.Count,
            jobs.Average(j => ((j.FinishedAt ?? j.Attempts[^1].StartedAt) - j.Attempts[^1].StartedAt).TotalSeconds),
            jobs.GroupBy(j => j.WorkerId ?? "?").OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count()));
    }
}
