using System.Text.Json;
using MathV2.Cli;
using MathV2.Core;

namespace MathV2.Host.Tests;

/// <summary>`mathv2 chaos` on its own stack of real processes: laps under killed and stopped processes lose nothing.</summary>
[Collection("stack")]
[Trait("Category", "EndToEnd")]
public sealed class ChaosTests
{
    [Fact]
    public async Task A_lap_under_killed_hosts_workers_and_azurite_and_an_exhausted_phase_completes_with_the_undisturbed_laps_artifacts()
    {
        var layout = StackFixture.NewLayout(Directory.CreateTempSubdirectory("mathv2-chaos-").FullName);
        var o = new StringWriter();
        var e = new StringWriter();
        try
        {
            // Every kind of fault, workers-out first (a seed that draws it first): the laps fail, no worker claiming
            // their jobs, and are rewound; then the other kinds while they run again.
            int seed = Enumerable.Range(1, 1000).First(s => ChaosFaults.Draw(new Random(s)).First() == ChaosFaults.WorkersOut);
            // The reduced lap with a shorter claim timeout (one lap, two workers: no job waits long in the queue).
            var spec = ChaosRun.DefaultSpec();
            spec["limits"]!["claimTimeoutSeconds"] = 15;
            string specFile = Path.Combine(layout.StateDir, "chaos-spec.json");
            File.WriteAllText(specFile, spec.ToJsonString());
            int rc = await new Commands(layout, o, e).RunAsync(["chaos", "--laps", "1", "--seed", $"{seed}", "--spec", specFile,
                "--min-gap", "3", "--max-gap", "6", "--max-outage", "6", "--json"]);
            Assert.True(rc == 0, $"{o}\n{e}");
            var report = JsonSerializer.Deserialize<ChaosReport>(o.ToString(), Json.Options)!;
            Assert.True(report.Passed);
            Assert.Single(report.Laps);
            Assert.All(report.Laps, l => Assert.True(l.Recovered, string.Join("; ", l.Problems)));
            Assert.All(report.Laps, l => Assert.Equal(report.ReferenceFiles, l.FilesCompared));
            Assert.True(report.ReferenceFiles > 50, $"{report.ReferenceFiles} files");
            Assert.Equal(ChaosFaults.WorkersOut, report.Faults[0].Kind);
            Assert.True(report.Faults.Count >= 3, $"{report.Faults.Count} faults");
            Assert.True(report.Laps[0].Rewinds >= 1, "the lap was not rewound");
            Assert.All(report.Laps, l => Assert.InRange(l.MaxHistoryRows, report.ReferenceMaxHistoryRows / 2, ChaosRun.HistoryBound(report.ReferenceMaxHistoryRows, l.Rewinds)));
            // No process died of a fault it should ride out (storage restarting, paused or stopped).
            Assert.Empty(report.UnplannedRestarts);
            Assert.Empty(report.Problems);
            // The stack is down and its state removed after a run that passed.
            Assert.False(Directory.Exists(Path.Combine(layout.StateDir, "chaos")));
        }
        finally
        {
            await new LocalStack(layout with { StateDir = Path.Combine(layout.StateDir, "chaos") }, TextWriter.Null).DownAsync();
            try { Directory.Delete(layout.StateDir, true); } catch (IOException) { }
        }
    }
}
