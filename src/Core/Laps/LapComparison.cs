using System.Globalization;
using System.Text;

namespace MathV2.Core.Laps;

/// <summary>One measure across laps: each lap's value (null: the lap has none) and its difference to the first lap's.</summary>
public sealed record ComparedMeasure(string Key, IReadOnlyList<double?> Values)
{
    /// <summary>Value − the first lap's, for each lap after the first (null where either is missing).</summary>
    public IReadOnlyList<double?> Differences => Values.Skip(1).Select(v => v is { } x && Values[0] is { } first ? Math.Round(x - first, 6) : (double?)null).ToList();
}

/// <summary>
/// `lap compare`: the measures of several lap reports side by side, with differences to the first lap, plus wall
/// time and targets met. Keys are filtered by exact names or prefixes ("verifierV2.", "consensus.*").
/// </summary>
public sealed record LapComparison(IReadOnlyList<string> Laps, IReadOnlyList<ComparedMeasure> Measures)
{
    public const string WallTime = "lap.wallSeconds", TargetsMet = "lap.targetsMet";

    public static LapComparison Of(IReadOnlyList<LapReport> reports, IReadOnlyList<string>? keys = null)
    {
        if (reports.Count == 0) throw new ArgumentException("nothing to compare: give at least one lap");
        static Dictionary<string, double> All(LapReport r)
        {
            var m = new Dictionary<string, double>(r.Measures)
            {
                [WallTime] = Math.Round(r.WallSeconds, 1),
                [TargetsMet] = r.Targets.Count(t => t.Met == true),
            };
            return m;
        }
        var measures = reports.Select(All).ToList();
        bool Wanted(string key) => keys is not { Count: > 0 } || keys.Any(k =>
            k.EndsWith('*') ? key.StartsWith(k[..^1], StringComparison.Ordinal) : k.EndsWith('.') ? key.StartsWith(k, StringComparison.Ordinal) : key == k);
        var rows = measures.SelectMany(m => m.Keys).Distinct().Where(Wanted)
            .OrderBy(k => k == WallTime ? 0 : k == TargetsMet ? 1 : 2).ThenBy(k => k, StringComparer.Ordinal)
            .Select(k => new ComparedMeasure(k, measures.Select(m => m.TryGetValue(k, out double v) ? v : (double?)null).ToList())).ToList();
        return new LapComparison(reports.Select(r => r.LapId).ToList(), rows);
    }

    static string Number(double? v) => v is { } x ? x.ToString("0.####", CultureInfo.InvariantCulture) : "";
    static string Signed(double? v) => v is { } x ? (x > 0 ? "+" : "") + x.ToString("0.####", CultureInfo.InvariantCulture) : "";

    /// <summary>measure, then each lap's value and, after the first, its difference ("Δ lap").</summary>
    public string ToCsv()
    {
        var sb = new StringBuilder("measure," + Laps[0]);
        foreach (string lap in Laps.Skip(1)) sb.Append(',').Append(lap).Append(",Δ ").Append(lap);
        sb.Append('\n');
        foreach (var m in Measures)
        {
            sb.Append(m.Key).Append(',').Append(Number(m.Values[0]));
            for (int i = 1; i < Laps.Count; i++) sb.Append(',').Append(Number(m.Values[i])).Append(',').Append(Signed(m.Differences[i - 1]));
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>An aligned text table; a difference is shown beside each later lap's value.</summary>
    public string ToTable()
    {
        var header = new List<string> { "measure", Laps[0] };
        header.AddRange(Laps.Skip(1));
        var rows = Measures.Select(m => new List<string> { m.Key, Number(m.Values[0]) }
            .Concat(Enumerable.Range(1, Laps.Count - 1).Select(i => m.Values[i] is null ? "–" : $"{Number(m.Values[i])} ({Signed(m.Differences[i - 1])})"))
            .Select(s => s == "" ? "–" : s).ToList()).ToList();
        var widths = header.Select((h, c) => Math.Max(h.Length, rows.Select(r => r[c].Length).DefaultIfEmpty(0).Max())).ToList();
        var sb = new StringBuilder();
        sb.Append(string.Join("  ", header.Select((h, c) => c == 0 ? h.PadRight(widths[c]) : h.PadLeft(widths[c])))).Append('\n');
        foreach (var r in rows) sb.Append(string.Join("  ", r.Select((s, c) => c == 0 ? s.PadRight(widths[c]) : s.PadLeft(widths[c])))).Append('\n');
        return sb.ToString();
    }
}
