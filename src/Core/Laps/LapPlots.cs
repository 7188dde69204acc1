using System.Globalization;
using System.Text.Json;

namespace MathV2.Core.Laps;

/// <summary>One line of a plot: points (X, Y); dashed for held-out (eval) curves.</summary>
public sealed record PlotSeries(string Name, double[] X, double[] Y, bool Dashed = false);

/// <summary>A plot a report carries: what to draw (the PNG is rendered by the report activity).</summary>
public sealed record PlotSpec
{
    /// <summary>The file in the report artifact: plots/{name}.png.</summary>
    public required string File { get; init; }
    public required string Title { get; init; }
    public required string XLabel { get; init; }
    public required string YLabel { get; init; }
    public required List<PlotSeries> Series { get; init; }
}

/// <summary>A plot in report.json / report.md: its file in the report artifact and its title.</summary>
public sealed record ReportPlot(string File, string Title);

/// <summary>
/// The plots of a lap report: per phase that ran, the training curves of its sft/grpo jobs (loss, eval loss; reward
/// mean and KL for GRPO) from their metrics.jsonl; in a flywheel, the held-out measures of each lap so far.
/// </summary>
public static class LapPlots
{
    /// <summary>The held-out measures a flywheel plot follows across laps (those the laps have).</summary>
    public static readonly string[] HeldOutKeys =
    [
        "verifierV1.accuracy", "verifierV2.accuracy", "verifierV3.accuracy", "base.oraclePassRate", "generator.oraclePassRate",
        "base.verifierPassRate", "generator.verifierPassRate", "refinement.passAtMaxIterations", "consensus.agreement", "consensus.audit.agreement",
    ];

    /// <summary>One training job's curves, read from its metrics.jsonl (one JSON object per step).</summary>
    public sealed record TrainingRun(string Run, List<double> Steps, List<double> Loss, List<(double Step, double Value)> EvalLoss,
        List<(double Step, double Value)> Reward, List<(double Step, double Value)> Kl)
    {
        public static TrainingRun Read(string run, string metricsJsonl)
        {
            var r = new TrainingRun(run, [], [], [], [], []);
            int line = 0;
            foreach (string text in metricsJsonl.Split('\n'))
            {
                line++;
                if (string.IsNullOrWhiteSpace(text)) continue;
                JsonElement e;
                try { e = JsonDocument.Parse(text).RootElement; }
                catch (JsonException x) { throw new InvalidDataException($"{run}: metrics.jsonl line {line} is not JSON: {x.Message}"); }
                if (e.ValueKind != JsonValueKind.Object || !Number(e, "step", out double step) || !Number(e, "loss", out double loss))
                    throw new InvalidDataException($"{run}: metrics.jsonl line {line} has no numeric step and loss");
                r.Steps.Add(step);
                r.Loss.Add(loss);
                if (Number(e, "evalLoss", out double ev)) r.EvalLoss.Add((step, ev));
                if (Number(e, "meanReward", out double rw)) r.Reward.Add((step, rw));
                if (Number(e, "kl", out double kl)) r.Kl.Add((step, kl));
            }
            return r;
        }

        static bool Number(JsonElement e, string name, out double v)
        {
            v = 0;
            return e.TryGetProperty(name, out var x) && x.ValueKind == JsonValueKind.Number && double.IsFinite(v = x.GetDouble());
        }
    }

    /// <summary>A phase's plots: plots/{phase}-loss.png (every run's loss, eval loss dashed), plots/{phase}-reward.png for GRPO runs.</summary>
    public static List<PlotSpec> Training(string phase, IReadOnlyList<TrainingRun> runs)
    {
        var plots = new List<PlotSpec>();
        runs = runs.Where(r => r.Steps.Count > 0).ToList();
        if (runs.Count == 0) return plots;
        var loss = new List<PlotSeries>();
        foreach (var r in runs)
        {
            loss.Add(new PlotSeries(r.Run, [.. r.Steps], [.. r.Loss]));
            if (r.EvalLoss.Count > 0) loss.Add(new PlotSeries($"{r.Run} (eval)", [.. r.EvalLoss.Select(p => p.Step)], [.. r.EvalLoss.Select(p => p.Value)], Dashed: true));
        }
        plots.Add(new PlotSpec { File = $"plots/{phase}-loss.png", Title = $"Phase {phase}: training loss", XLabel = "step", YLabel = "loss", Series = loss });
        var rewarded = runs.Where(r => r.Reward.Count > 0).ToList();
        if (rewarded.Count > 0)
        {
            var series = new List<PlotSeries>();
            foreach (var r in rewarded)
            {
                series.Add(new PlotSeries($"{r.Run} reward mean", [.. r.Reward.Select(p => p.Step)], [.. r.Reward.Select(p => p.Value)]));
                if (r.Kl.Count > 0) series.Add(new PlotSeries($"{r.Run} KL", [.. r.Kl.Select(p => p.Step)], [.. r.Kl.Select(p => p.Value)], Dashed: true));
            }
            plots.Add(new PlotSpec { File = $"plots/{phase}-reward.png", Title = $"Phase {phase}: GRPO reward", XLabel = "step", YLabel = "reward mean / KL", Series = series });
        }
        return plots;
    }

    /// <summary>The flywheel plot (plots/flywheel-heldout.png): each held-out measure the laps have, by lap number; null for a single lap.</summary>
    public static PlotSpec? HeldOut(IReadOnlyList<(int Lap, IReadOnlyDictionary<string, double> Measures)> laps)
    {
        if (laps.Count < 2) return null;
        var ordered = laps.OrderBy(l => l.Lap).ToList();
        var series = new List<PlotSeries>();
        foreach (string key in HeldOutKeys)
        {
            var points = ordered.Where(l => l.Measures.ContainsKey(key)).Select(l => (X: (double)l.Lap, Y: l.Measures[key])).ToList();
            if (points.Count > 0) series.Add(new PlotSeries(key, [.. points.Select(p => p.X)], [.. points.Select(p => p.Y)]));
        }
        if (series.Count == 0) return null;
        string range = string.Create(CultureInfo.InvariantCulture, $"{ordered[0].Lap}–{ordered[^1].Lap}");
        return new PlotSpec { File = "plots/flywheel-heldout.png", Title = $"Held-out measures, laps {range}", XLabel = "lap", YLabel = "value", Series = series };
    }
}
