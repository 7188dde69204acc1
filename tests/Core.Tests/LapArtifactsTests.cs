using System.Text.Json;
using MathV2.Core.Laps;

namespace MathV2.Core.Tests;

public sealed class LapArtifactsTests
{
    [Fact]
    public void The_names_on_the_wire_are_those_of_the_earlier_string_map_so_running_laps_resume()
    {
        // A PhaseResult's artifacts as histories written before the typed record hold them.
        const string earlier = """{"base":"b","dv":"d","batch1a":"lap-1a-batch","verifierV1":"v1","batch1c":"c","verifier":"best","report":"r"}""";
        var a = JsonSerializer.Deserialize<LapArtifacts>(earlier, Json.Strict)!;
        Assert.Equal(("b", "d", "lap-1a-batch", "v1", "c", "best", "r"), (a.Base, a.Dv, a.Batch1A, a.VerifierV1, a.Batch1C, a.Verifier, a.Report));
        Assert.Equal(JsonDocument.Parse(earlier).RootElement.EnumerateObject().Select(p => p.Name).Order(),
            JsonDocument.Parse(Json.Serialize(a)).RootElement.EnumerateObject().Select(p => p.Name).Order());
    }

    [Fact]
    public void Merging_keeps_what_the_later_phase_did_not_set_and_takes_what_it_did()
    {
        var lap = new LapArtifacts { Base = "b", Dv = "dv-1a", VerifierV1 = "v1" };
        var merged = lap.Merge(new LapArtifacts { Dv = "dv-4", VerifierV3 = "v3" });
        Assert.Equal(("b", "dv-4", "v1", "v3"), (merged.Base, merged.Dv, merged.VerifierV1, merged.VerifierV3));
        Assert.Equal("dv-1a", lap.Dv);   // records: the lap's own value is untouched
        Assert.Equal(["base", "dv", "verifierV1", "verifierV3"], merged.Named().Select(n => n.Name));
    }

    [Fact]
    public void Every_artifact_names_the_phases_that_produce_it()
    {
        Assert.Equal(["base", "baseHeldOutProofs", "coldStartProofs", "dv", "batch1a"], LapArtifacts.ByPhase["1a"]);
        Assert.Equal(["dv", "consensus", "verifierV3", "consensusProofs", "batch4"], LapArtifacts.ByPhase["4"]);
        Assert.Equal(["verifier"], LapArtifacts.ByPhase["flywheel"]);
        var named = LapArtifacts.ByPhase.Values.SelectMany(n => n).ToHashSet();
        Assert.Equal(typeof(LapArtifacts).GetProperties().Count(p => p.PropertyType == typeof(string)), named.Count);
    }
}
