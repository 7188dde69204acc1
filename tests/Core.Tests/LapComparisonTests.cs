using MathV2.Core.Laps;

namespace MathV2.Core.Tests;

public sealed class LapComparisonTests
{
    static LapReport Report(string id, double wall, Dictionary<string, double> measures, params bool?[] targets) => new()
    {
        LapId = id, WallSeconds = wall, Measures = measures, Targets = targets.Select((m, i) => new ReportTarget($"t{i}", "rule", m)).ToList(),
    };

    static readonly LapReport A = Report("lap-a", 600.04, new() { ["verifierV2.accuracy"] = 0.9, ["consensus.agreement"] = 0.95, ["base.samples"] = 84 }, true, false);
    static readonly LapReport B = Report("lap-b", 630, new() { ["verifierV2.accuracy"] = 0.95, ["consensus.agreement"] = 0.9, ["verifierV3.accuracy"] = 0.8 }, true, true);

    [Fact]
    public void Each_measure_of_any_lap_is_a_row_with_each_laps_value_and_its_difference_to_the_first()
    {
        var c = LapComparison.Of([A, B]);
        Assert.Equal(["lap-a", "lap-b"], c.Laps);
        // Wall time and targets met first, then the measures in key order.
        Assert.Equal([LapComparison.WallTime, LapComparison.TargetsMet, "base.samples", "consensus.agreement", "verifierV2.accuracy", "verifierV3.accuracy"], c.Measures.Select(m => m.Key));
        var v2 = c.Measures.Single(m => m.Key == "verifierV2.accuracy");
        Assert.Equal([0.9, 0.95], v2.Values);
        Assert.Equal([0.05], v2.Differences);
        Assert.Equal([-0.05], c.Measures.Single(m => m.Key == "consensus.agreement").Differences);
        // A measure one lap lacks: no value, no difference.
        Assert.Equal([null, 0.8], c.Measures.Single(m => m.Key == "verifierV3.accuracy").Values);
        Assert.Equal([null], c.Measures.Single(m => m.Key == "verifierV3.accuracy").Differences);
        Assert.Equal([600.0, 630.0], c.Measures[0].Values);
        Assert.Equal([1.0, 2.0], c.Measures[1].Values);
    }

    [Fact]
    public void Measures_are_picked_by_exact_key_or_by_prefix()
    {
        Assert.Equal(["verifierV2.accuracy", "verifierV3.accuracy"], LapComparison.Of([A, B], ["verifier*"]).Measures.Select(m => m.Key));
        Assert.Equal(["consensus.agreement"], LapComparison.Of([A, B], ["consensus."]).Measures.Select(m => m.Key));
        Assert.Equal(["base.samples", "verifierV2.accuracy"], LapComparison.Of([A, B], ["verifierV2.accuracy", "base.samples"]).Measures.Select(m => m.Key));
        Assert.Empty(LapComparison.Of([A, B], ["verifierV2"]).Measures);   // a key, not a prefix, without '.' or '*'
    }

    [Fact]
    public void Csv_and_table_carry_the_values_and_signed_differences()
    {
        var c = LapComparison.Of([A, B], ["verifierV2.", "verifierV3."]);
        Assert.Equal("measure,lap-a,lap-b,Δ lap-b\nverifierV2.accuracy,0.9,0.95,+0.05\nverifierV3.accuracy,,0.8,\n", c.ToCsv());
        string[] lines = c.ToTable().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.EndsWith("0.95 (+0.05)", lines[1]);
        Assert.Contains("–", lines[2]);
        Assert.Throws<ArgumentException>(() => LapComparison.Of([]));
    }
}
