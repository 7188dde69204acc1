using System.CommandLine;
using System.Diagnostics;
using System.Text;
using MathV2.Core.Http;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;

namespace MathV2.Cli.Groups;

/// <summary>Follows a lap, a flywheel or a probe to its end, a progress line whenever something changes.</summary>
public sealed class RunFollower(CliContext c, ApiClient api, ParseResult pr)
{
    TextWriter Progress => c.Progress(pr);
    bool IsJson => c.IsJson(pr);

    /// <summary>
    /// While the CLI follows a run on this repository's local stack, a process of the stack that died (a native
    /// crash, the OOM killer) is started again, so the run goes on; a remote API is left alone.
    /// </summary>
    async Task HealAsync(CancellationToken ct)
    {
        if (api.BaseUrl.TrimEnd('/') != c.Layout.Url) return;
        foreach (string line in await new LocalStack(c.Layout, Progress).HealAsync(ct)) Progress.WriteLine(line);
    }

    /// <summary>A line whenever the lap's phase or step changes; once it completes, its report.</summary>
    public async Task<int> LapAsync(string id, CancellationToken ct)
    {
        Progress.WriteLine($"lap {id} started");
        var lines = new ProgressLines(Progress);
        while (true)
        {
            await HealAsync(ct);
            var lap = await api.GetAsync<LapView>($"/api/laps/{id}", ct);
            lines.Write(LapLine(lap));
            if (lap.IsFinished)
            {
                bool completed = lap.RuntimeStatus == RuntimeStates.Completed;
                if (IsJson) c.WriteJson(lap);
                else if (completed) c.Out.Write(await api.GetTextAsync($"/api/laps/{id}/report", ct));
                else c.Out.WriteLine($"lap {id} {lap.RuntimeStatus.ToLowerInvariant()}: {lap.Failure}\n  ops: ./mathv2 instances rewind {id}, or ./mathv2 lap restart {id} --from-phase P");
                return completed ? 0 : 1;
            }
            await Task.Delay(1000, ct);
        }
    }

    public async Task<int> FlywheelAsync(string id, CancellationToken ct)
    {
        Progress.WriteLine($"flywheel {id} started");
        string lastLap = "";
        var lines = new ProgressLines(Progress);
        while (true)
        {
            await HealAsync(ct);
            var fw = await api.GetAsync<FlywheelView>($"/api/flywheels/{id}", ct);
            if (fw.Status is { LapId: { } lapId } st)
            {
                if (lapId != lastLap) { lines.Write($"lap {st.Lap} of {st.Of}: {lapId}"); lastLap = lapId; }
                try { lines.Write(LapLine(await api.GetAsync<LapView>($"/api/laps/{lapId}", ct))); }
                catch (CliException) { }   // the lap is not scheduled yet
            }
            if (fw.IsFinished)
            {
                bool completed = fw.RuntimeStatus == RuntimeStates.Completed;
                if (IsJson) { c.WriteJson(fw); return completed ? 0 : 1; }
                if (!completed || fw.Output is not { } output) { c.Out.WriteLine($"flywheel {id} {fw.RuntimeStatus.ToLowerInvariant()}: {fw.Failure}"); return 1; }
                foreach (var lap in output.Laps)
                {
                    c.Out.Write(await api.GetTextAsync($"/api/laps/{lap.LapId}/report", ct));
                    c.Out.WriteLine();
                }
                c.Out.WriteLine($"flywheel {id}: {output.Stopped}; verifier accuracy by lap: " +
                    string.Join(" → ", output.Laps.Select(l => l.VerifierAccuracy?.ToString("0.###") ?? "n/a")));
                return 0;
            }
            await Task.Delay(2000, ct);
        }
    }

    /// <summary>Polls an instance and its jobs, printing a line whenever a job's state, attempt or progress changes.</summary>
    public async Task<InstanceView> InstanceAsync(string id, CancellationToken ct)
    {
        var last = new Dictionary<string, string>();
        while (true)
        {
            var st = await api.GetAsync<InstanceView>($"/api/instances/{id}?showInput=false", ct);
            foreach (string jobId in st.CustomStatusAs<PhaseStatus>()?.Jobs ?? [])
            {
                GpuJobRecord rec;
                try { rec = await api.GetAsync<GpuJobRecord>($"/api/jobs/{jobId}", ct); }
                catch (CliException) { continue; }
                string line = DescribeJob(rec);
                if (last.GetValueOrDefault(jobId) == line) continue;
                string beat = rec is { Status: GpuJobStatus.Running, HeartbeatAt: { } hb } ? $" (heartbeat {(DateTimeOffset.UtcNow - hb).TotalSeconds:F1} s ago)" : "";
                Progress.WriteLine($"  {jobId}: {line}{beat}");
                last[jobId] = line;
            }
            if (st.IsFinished) return st;
            await Task.Delay(500, ct);
        }
    }

    static string DescribeJob(GpuJobRecord rec)
    {
        var line = new StringBuilder($"{rec.Status.ToString().ToLowerInvariant()}, attempt {rec.Attempt}/{rec.MaxAttempts}");
        if (rec.WorkerId != null) line.Append($" on {rec.WorkerId}");
        if (rec.Progress?.Describe() is { } p) line.Append($" {p}");
        if (rec.Error != null && rec.Status is GpuJobStatus.Failed or GpuJobStatus.Queued) line.Append($" (error: {rec.Error})");
        return line.ToString();
    }

    /// <summary>One line: status, phase, what the running phase is doing (job step and progress, annotation wait).</summary>
    public static string LapLine(LapView lap)
    {
        var sb = new StringBuilder($"{lap.Id} {lap.RuntimeStatus}");
        if (lap.Status is { } status) sb.Append($", phase {status.Phase}");
        if (lap.PhaseStatus is { Status: { } running } phase)
        {
            if (running.Step != null) sb.Append($": {running.Step}");
            var parts = phase.Jobs.Select(j => j.Progress?.Describe()).OfType<string>().ToList();
            if (parts.Count > 0) sb.Append($" ({string.Join("; ", parts)})");
            if (running.Status == PhaseStatus.AwaitingAnnotation)
                sb.Append($": awaiting annotation of {running.BatchId} ({running.Items} items; ./mathv2 annotations pull)");
        }
        return sb.ToString();
    }

    /// <summary>
    /// Progress lines with the elapsed time: a new line when the phase or step changes (the text before " ("),
    /// progress within a step at most every 15 s.
    /// </summary>
    sealed class ProgressLines(TextWriter progress)
    {
        readonly Stopwatch sw = Stopwatch.StartNew();
        TimeSpan printed;
        string last = "";

        public void Write(string line)
        {
            if (line.Split(" (")[0] == last.Split(" (")[0] && (line == last || sw.Elapsed - printed < TimeSpan.FromSeconds(15))) return;
            progress.WriteLine($"[{sw.Elapsed:hh\\:mm\\:ss}] {line}");
            last = line;
            printed = sw.Elapsed;
        }
    }
}
