using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MathV2.Core.Laps;

/// <summary>
/// What a lap's phases hand on (PhaseResult.Artifacts, the lap's artifacts, a flywheel's next lap): artifact ids,
/// and the annotation batch ids of 1A and 1C. Each property says which phase produces it: the data flow of the lap,
/// in one place. Unset (null) until its phase has run; human-free laps leave out the batches and what people labelled.
/// </summary>
public sealed record LapArtifacts
{
    [ProducedBy("datasets")] public string? Problems { get; init; }
    [ProducedBy("datasets")] public string? Demonstrations { get; init; }
    [ProducedBy("datasets")] public string? HeldOut { get; init; }

    /// <summary>The bootstrap (SFT on demonstrations) or the base checkpoint the lap starts from.</summary>
    [ProducedBy("1a")] public string? Base { get; init; }
    [ProducedBy("1a")] public string? BaseHeldOutProofs { get; init; }
    [ProducedBy("1a")] public string? ColdStartProofs { get; init; }
    /// <summary>D_v, the graded proofs: labelled in 1A, grown by phase 4's consensus labels.</summary>
    [ProducedBy("1a", "4")] public string? Dv { get; init; }
    [ProducedBy("1a"), JsonPropertyName("batch1a")] public string? Batch1A { get; init; }

    [ProducedBy("1b")] public string? VerifierV1 { get; init; }
    [ProducedBy("1b")] public string? VerifierV1HeldOut { get; init; }

    [ProducedBy("1c")] public string? VerifierAnalyses { get; init; }
    [ProducedBy("1c"), JsonPropertyName("batch1c")] public string? Batch1C { get; init; }
    /// <summary>D_mv, the rated analyses.</summary>
    [ProducedBy("1c")] public string? Dmv { get; init; }
    [ProducedBy("1c")] public string? MetaVerifier { get; init; }

    [ProducedBy("1d")] public string? VerifierV2 { get; init; }
    [ProducedBy("1d")] public string? VerifierV2HeldOut { get; init; }

    [ProducedBy("2")] public string? Generator { get; init; }
    [ProducedBy("2")] public string? GeneratorHeldOut { get; init; }

    [ProducedBy("3")] public string? SelfVerifyingGenerator { get; init; }
    [ProducedBy("3")] public string? Refinements { get; init; }

    [ProducedBy("4")] public string? Consensus { get; init; }
    [ProducedBy("4")] public string? VerifierV3 { get; init; }
    [ProducedBy("4")] public string? ConsensusProofs { get; init; }
    /// <summary>Phase 4's audit batch (people checking consensus labels), when there is one.</summary>
    [ProducedBy("4"), JsonPropertyName("batch4")] public string? Batch4 { get; init; }

    /// <summary>In a flywheel: the lap's best verifier (<see cref="Laps.BestVerifier"/>), the next lap's verifier policy.</summary>
    [ProducedBy("flywheel")] public string? Verifier { get; init; }

    [ProducedBy("report")] public string? Report { get; init; }

    static readonly (PropertyInfo Property, string Name, string[] Phases)[] Properties = typeof(LapArtifacts).GetProperties()
        .Where(p => p.PropertyType == typeof(string))
        .Select(p => (p, p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(p.Name),
            p.GetCustomAttribute<ProducedByAttribute>()!.Phases))
        .ToArray();

    /// <summary>What each phase may hand on, by name (as in JSON).</summary>
    public static readonly IReadOnlyDictionary<string, string[]> ByPhase = Properties
        .SelectMany(p => p.Phases.Select(phase => (phase, p.Name)))
        .GroupBy(x => x.phase).ToDictionary(g => g.Key, g => g.Select(x => x.Name).ToArray());

    /// <summary>These artifacts with those set in <paramref name="later"/> taking their place.</summary>
    public LapArtifacts Merge(LapArtifacts later)
    {
        var merged = this with { };
        foreach (var (p, _, _) in Properties)
            if (p.GetValue(later) is string id) p.SetValue(merged, id);
        return merged;
    }

    /// <summary>The artifacts set, by name, in the lap's order.</summary>
    public IEnumerable<(string Name, string Id)> Named() =>
        Properties.Select(p => (p.Name, Id: p.Property.GetValue(this) as string)).Where(x => x.Id != null).Select(x => (x.Name, x.Id!));
}

/// <summary>Which phases produce a <see cref="LapArtifacts"/> entry.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ProducedByAttribute(params string[] phases) : Attribute
{
    public string[] Phases => phases;
}
