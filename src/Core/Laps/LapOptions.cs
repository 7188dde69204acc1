using MathV2.Core.Jobs;
using MathV2.Core.Models;

namespace MathV2.Core.Laps;

/// <summary>The demo domain's sizes for a lap.</summary>
public sealed record DemoLapOptions
{
    public int Seed { get; init; } = 1;
    public int ProblemsPerDifficulty { get; init; } = 100;
    public int MaxDifficulty { get; init; } = 2;
    /// <summary>Prompt set of the lap's prompts and demonstrations: "compact" (tiny models) or "standard".</summary>
    public string Prompts { get; init; } = "compact";
    /// <summary>
    /// The demo domain's own graded proofs and rated analyses of D_p (one proof per defect kind, the oracle's labels)
    /// join D_v and D_mv in lap 1: the stand-in for the expert-curated sets the paper starts from.
    /// </summary>
    public bool SeedGradedSets { get; init; } = true;
    /// <summary>
    /// The bootstrap's arithmetic facts: the distinct steps of this many problems per difficulty (their own seed
    /// stream), as demonstrations; 0 for none. The stand-in for what a pretrained base model knows.
    /// </summary>
    public int FactProblemsPerDifficulty { get; init; } = 500;
    /// <summary>How many times each arithmetic fact is shown to the bootstrap.</summary>
    public int FactRepeats { get; init; } = 1;
    /// <summary>How many times each arithmetic fact is also shown as a step check in the analyses' format (half with a wrong claim); 0 for none.</summary>
    public int FactChecks { get; init; } = 4;
    /// <summary>
    /// Problems per difficulty the bootstrap's proof, verification and meta-verification demonstrations are written
    /// for, apart from D_p (their own seed stream); null: as many as problemsPerDifficulty.
    /// </summary>
    public int? DemonstrationProblemsPerDifficulty { get; init; }

    /// <summary>The demo datasets these options describe.</summary>
    public Demo.DemoDatasetOptions ToDatasetOptions() => new()
    {
        Seed = Seed, ProblemsPerDifficulty = ProblemsPerDifficulty, MaxDifficulty = MaxDifficulty, Prompts = Method.Prompts.Set(Prompts),
        FactProblemsPerDifficulty = FactProblemsPerDifficulty, FactRepeats = FactRepeats, FactChecks = FactChecks, FlawedProofShare = FlawedProofShare,
        DemonstrationProblemsPerDifficulty = DemonstrationProblemsPerDifficulty,
    };
    /// <summary>Share of problems with a flawed, honestly self-evaluated generation demonstration besides the correct one.</summary>
    public double FlawedProofShare { get; init; } = 0.25;
}

/// <summary>The bootstrap (the stand-in for the SFT base model): a model from scratch trained on the demonstrations.</summary>
public sealed record BootstrapOptions
{
    /// <summary>HF config.json fields of the model (vocab_size comes from the tokenizer).</summary>
    public LlamaConfig Config { get; init; } = LapDefaults.BootstrapConfig;
    /// <summary>sft job options (steps, learningRate, batchSize, …; see docs/worker.md).</summary>
    public TrainOptions Options { get; init; } = LapDefaults.BootstrapOptions;
    /// <summary>"words" (the demonstrations' words and numbers as tokens, characters as fallback) or "char".</summary>
    public string Tokenizer { get; init; } = "words";
}

/// <summary>How labels reach the lap: "oracle" (the demo domain's program) or "http" (people post them).</summary>
public sealed record AnnotationOptions
{
    public const string Oracle = "oracle", Http = "http";
    /// <summary>Left out: the demo's oracle, or people (http) on datasets (LapSpec.Annotator).</summary>
    public string? Annotator { get; init; }
    /// <summary>The lap fails when a batch is not labelled within this time.</summary>
    public int DeadlineMinutes { get; init; } = 7 * 24 * 60;
    /// <summary>While waiting, the custom status is refreshed with a reminder this often.</summary>
    public int ReminderMinutes { get; init; } = 24 * 60;
    /// <summary>Proofs sent for labelling in phase 1A.</summary>
    public int BatchSize { get; init; } = 64;
}

/// <summary>Phase 1A's sampling of cold-start proofs.</summary>
public sealed record ColdStartOptions
{
    /// <summary>Proofs sampled per problem by the base model.</summary>
    public int ProofsPerProblem { get; init; } = 1;
    public int MaxNewTokens { get; init; } = 400;
    public double Temperature { get; init; } = 1.0;
    /// <summary>
    /// Rounds of self-refinement before the proofs go to the annotators (the paper's cold start: draft, self-evaluate,
    /// revise). 0: the first drafts (the default). A draft that scores itself 1 stops refining.
    /// </summary>
    public int RefinementRounds { get; init; }
}

/// <summary>
/// The paper's choices where the lap may follow the paper or the project's simplification (docs/method.md,
/// "Deviations from the paper"). Defaults: the paper's where it states one.
/// </summary>
public sealed record MethodOptions
{
    public const string ProofReward = "proof", SelfVerificationReward = "self-verification";
    public const string FromBase = "base", FromVerifier = "verifier", FromPolicy = "policy";

    /// <summary>
    /// Phase 2's reward: "proof" (the paper's eq. 4: R_Y alone, the verifier's score of the proof; the
    /// self-evaluation is not scored) or "self-verification" (α·R_Y + β·R_Z with R_meta = 1, as phase 3 without a
    /// meta-verifier). Left out: the domain's (<see cref="LapSpec.Phase2Reward"/>).
    /// </summary>
    public string? GeneratorReward { get; init; }
    /// <summary>
    /// Where phase 2 starts: "base" (the lap's base model; later laps the previous generator) or "verifier" (the
    /// lap's verifier v2, as the paper initialises the generator from the verifier, §3.1).
    /// </summary>
    public string GeneratorInit { get; init; } = FromBase;
    /// <summary>
    /// The KL reference of every GRPO run: "base" (the lap's base model) or "policy" (the checkpoint that run starts from).
    /// </summary>
    public string KlReference { get; init; } = FromBase;
    /// <summary>
    /// Analyses a frozen reward model writes per scored item in every GRPO reward (R_Y and R_meta are their mean):
    /// 1 (greedy, the default: the paper does not say) or more, sampled at <see cref="RewardTemperature"/>.
    /// </summary>
    public int RewardSamples { get; init; } = 1;
    public double RewardTemperature { get; init; } = 1.0;
    /// <summary>
    /// Verifier v2 and v3 training: an analysis whose meta-verifier output does not parse gets R_meta = "zero" (the
    /// default, as the demo was measured) or is "mask"ed (no advantage, as an unscorable generation is).
    /// </summary>
    public string UnreadableMeta { get; init; } = "zero";

    public IEnumerable<(string Field, string Message)> Validate()
    {
        if (GeneratorReward is not (null or ProofReward or SelfVerificationReward)) yield return ("method.generatorReward", $"must be {ProofReward} or {SelfVerificationReward}");
        if (GeneratorInit is not (FromBase or FromVerifier)) yield return ("method.generatorInit", $"must be {FromBase} or {FromVerifier}");
        if (KlReference is not (FromBase or FromPolicy)) yield return ("method.klReference", $"must be {FromBase} or {FromPolicy}");
        if (RewardSamples is < 1 or > 64) yield return ("method.rewardSamples", "must be between 1 and 64");
        if (UnreadableMeta is not ("zero" or "mask")) yield return ("method.unreadableMeta", "must be zero or mask");
        if (RewardTemperature is <= 0 or > 2) yield return ("method.rewardTemperature", "must be above 0 and at most 2");
    }
}

/// <summary>Phase 1C's sampling of verifier analyses of D_v.</summary>
public sealed record AnalysisSamplingOptions
{
    public int PerProof { get; init; } = 1;
    public int MaxNewTokens { get; init; } = 256;
    public double Temperature { get; init; } = 1.0;
}

/// <summary>Phase 3's refinement measure: draft → self-critique → revise until the self-score is 1 or the cap.</summary>
public sealed record RefinementOptions
{
    public int MaxIterations { get; init; } = 8;
    /// <summary>Trajectories per held-out problem; pass@1 is their mean (one per problem is a noisy measure).</summary>
    public int Samples { get; init; } = 4;
    public int MaxNewTokens { get; init; } = 400;
    public double Temperature { get; init; } = 1.0;
}

/// <summary>Phase 4's auto-labelling: n analyses per proof, m meta-verifications per issue report, k valid lowest.</summary>
public sealed record ConsensusLapOptions
{
    /// <summary>docs/method.md's n = 8, m = 4, k = 2 (about 10 s more per lap than n = 4, m = 3 on the CPU demo).</summary>
    public int N { get; init; } = 8;
    public int M { get; init; } = 4;
    public int K { get; init; } = 2;
    /// <summary>
    /// Rounds of verification jobs at most: each proof's analyses and meta-verifications are drawn adaptively, in
    /// waves, and a proof draws nothing more once its outcome is settled (the fixed rule's outcome on the same
    /// samples); the last two waves draw all the fixed rule still would. 2: the paper's fixed rule (all n analyses,
    /// then all m meta-verifications of every issue report).
    /// </summary>
    public int Waves { get; init; } = 6;
    /// <summary>New proofs auto-labelled per lap (the improved generator's, one per problem, in D_p order).</summary>
    public int Proofs { get; init; } = 32;
    /// <summary>Sample jobs each sampling step is split into (run side by side on as many workers).</summary>
    public int Shards { get; init; } = 2;
    public int MaxNewTokens { get; init; } = 200;
    public double Temperature { get; init; } = 1.0;
    /// <summary>
    /// With people annotating (http): this many consensus-labelled proofs (stratified over labels) go to them as a
    /// batch; their scores replace the consensus labels in D_v and the report gives the agreement. 0: no audit.
    /// Left out: 32 on datasets, 0 on the demo (its oracle measures every label).
    /// </summary>
    public int? AuditSize { get; init; }
}

/// <summary>The held-out measures of the lap report: problems never in D_p, their graded proofs (one per defect kind).</summary>
public sealed record EvaluationOptions
{
    public int HeldOutPerDifficulty { get; init; } = 16;
    /// <summary>Tokens per held-out analysis or proof; analyses are greedy (temperature 0) unless set.</summary>
    public int MaxNewTokens { get; init; } = 400;
    public double Temperature { get; init; }
    /// <summary>
    /// Proofs sampled per held-out problem for the generator measures (pass rates are means over them), and their
    /// temperature: what the policy does, not only its single most likely proof.
    /// </summary>
    public int ProofSamples { get; init; } = 4;
    public double ProofTemperature { get; init; } = 1.0;
    /// <summary>
    /// Analyses sampled per held-out graded proof at AnalysisTemperature, besides the greedy one: the distribution
    /// phase 4's consensus labelling draws from. Their measures are "{subject}.sampled.*"; the meta quality target
    /// compares them. 0 leaves them out.
    /// </summary>
    public int AnalysisSamples { get; init; } = 4;
    public double AnalysisTemperature { get; init; } = 1.0;
}
