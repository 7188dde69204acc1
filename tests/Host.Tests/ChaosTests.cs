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
    public async Task Laps_under_killed_hosts_workers_and_azurite_and_an_exhausted_phase_complete_with_the_undisturbed_laps_artifacts()
    {
        var layout = StackFixture.NewLayout(Directory.CreateTempSubdirectory("mathv2-chaos-").FullName);
        var o = new StringWriter();
        var e = new StringWriter();
        try
        {
            // Every kind of fault, workers-out first: its laps fail (no worker claims their jobs) and are rewound.
            int rc = await new Commands(layout, o, e).RunAsync(["chaos", "--laps", "2", "--seed", "4", "--min-gap", "3", "--max-gap", "8",
                "--max-outage", "12", "--faults", $"{ChaosFaults.WorkersOut}", "--json"]);
            var report = JsonSerializer.Deserialize<ChaosReport>(o.ToString(), Json.Options)!;
            Assert.True(rc == 0, $"{o}\n{e}");
            Assert.True(report.Passed);
            Assert.Equal(2, report.Laps.Count);
            Assert.All(report.Laps, l => Assert.True(l.Recovered, string.Join("; ", l.Problems)));
            Assert.All(report.Laps, l => Assert.Equal(report.ReferenceFiles, l.FilesCompared));
            Assert.True(report.ReferenceFiles > 50, $"{report.ReferenceFiles} files");
            Assert.Contains(report.Faults, f => f.Kind == ChaosFaults.WorkersOut);
            Assert.True(report.Laps.Sum(l => l.Rewinds) >= 1, "no lap was rewound");
            Assert.Contains(report.Laps, l => l.Retried > 0);
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
