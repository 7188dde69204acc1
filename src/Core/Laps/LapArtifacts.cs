namespace MathV2.Core.Laps;

/// <summary>
/// The names under which a lap's phases hand artifacts on (PhaseResult.Artifacts, the lap's artifacts, a flywheel's
/// next lap), and which phase produces which: the data flow of the lap, in one place.
/// </summary>
public static class LapArtifacts
{
    public const string Problems = "problems", Demonstrations = "demonstrations", HeldOut = "heldOut", Report = "report";
    public const string Base = "base", BaseHeldOutProofs = "baseHeldOutProofs", ColdStartProofs = "coldStartProofs", Dv = "dv", Batch1A = "batch1a";
    public const string VerifierV1 = "verifierV1", VerifierV1HeldOut = "verifierV1HeldOut";
    public const string VerifierAnalyses = "verifierAnalyses", Batch1C = "batch1c", Dmv = "dmv", MetaVerifier = "metaVerifier";
    public const string VerifierV2 = "verifierV2", VerifierV2HeldOut = "verifierV2HeldOut";
    public const string Generator = "generator", GeneratorHeldOut = "generatorHeldOut";
    public const string SelfVerifyingGenerator = "selfVerifyingGenerator", Refinements = "refinements";
    public const string Consensus = "consensus", VerifierV3 = "verifierV3", ConsensusProofs = "consensusProofs";

    /// <summary>What each phase may hand on (human-free laps leave out the annotation batches and what people labelled).</summary>
    public static readonly IReadOnlyDictionary<string, string[]> ByPhase = new Dictionary<string, string[]>
    {
        ["1a"] = [Base, BaseHeldOutProofs, ColdStartProofs, Dv, Batch1A],
        ["1b"] = [VerifierV1, VerifierV1HeldOut],
        ["1c"] = [VerifierAnalyses, Batch1C, Dmv, MetaVerifier],
        ["1d"] = [VerifierV2, VerifierV2HeldOut],
        ["2"] = [Generator, GeneratorHeldOut],
        ["3"] = [SelfVerifyingGenerator, Refinements],
        ["4"] = [Dv, Consensus, VerifierV3, ConsensusProofs],
    };
}
