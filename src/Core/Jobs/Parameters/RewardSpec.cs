using MathV2.Core.Method;

namespace MathV2.Core.Jobs;

/// <summary>
/// Which reward a grpo job uses. Kinds: suffix (toy: Value when the completion ends with Suffix), verifier-v1
/// (D_v rows, R_format·R_score), meta-verifier (D_mv rows), verifier-v2 (D_v rows, × the frozen MetaVerifier's score
/// of the analysis), proof (D_p rows, R_Y alone: the frozen Verifier's score of the proof, the paper's phase 2),
/// generator (D_p rows, α·R_Y + β·R_Z with the frozen Verifier and, if given, MetaVerifier).
/// </summary>
public sealed record RewardSpec
{
    public const string Suffix = "suffix", VerifierV1 = "verifier-v1", MetaVerifierKind = "meta-verifier", VerifierV2 = "verifier-v2", Proof = "proof", Generator = "generator";
    public static readonly string[] Kinds = [Suffix, VerifierV1, MetaVerifierKind, VerifierV2, Proof, Generator];

    public string Kind { get; init; } = Suffix;
    /// <summary>suffix: the text a rewarded completion ends with.</summary>
    public string? Text { get; init; }
    public double Value { get; init; } = 1;
    /// <summary>Artifact id of the frozen verifier checkpoint (proof, generator).</summary>
    public string? Verifier { get; init; }
    /// <summary>Artifact id of the frozen meta-verifier checkpoint (verifier-v2; optional for generator).</summary>
    public string? MetaVerifier { get; init; }
    public double Alpha { get; init; } = 0.76;
    public double Beta { get; init; } = 0.24;
    /// <summary>The prompt set of the policy's and the reward models' prompts: "standard", "compact", or a set of one's own.</summary>
    public PromptSet Prompts { get; init; } = Method.Prompts.Standard;
    /// <summary>Tokens a frozen reward model may write per analysis.</summary>
    public int RewardMaxNewTokens { get; init; } = 256;
    /// <summary>
    /// Analyses a frozen reward model writes per scored item (R_Y, R_meta are the mean of those that parse; none: masked).
    /// 1: one greedy analysis; more: sampled at <see cref="RewardTemperature"/>.
    /// </summary>
    public int RewardSamples { get; init; } = 1;
    public double RewardTemperature { get; init; } = 1.0;
    /// <summary>
    /// verifier-v2: an analysis whose frozen meta-verifier output does not parse gets R_meta = 0 (false, the default)
    /// or is masked like an unscorable generation (true).
    /// </summary>
    public bool MaskUnreadableMeta { get; init; }

    public IEnumerable<(string Field, string Message)> Validate()
    {
        if (!Kinds.Contains(Kind)) yield return ("reward.kind", $"must be one of {string.Join(", ", Kinds)}");
        if (Kind == Suffix && string.IsNullOrEmpty(Text)) yield return ("reward.text", "is required for the suffix reward");
        if (Kind == VerifierV2 && MetaVerifier == null) yield return ("reward.metaVerifier", "is required for verifier-v2");
        if (Kind is Generator or Proof && Verifier == null) yield return ("reward.verifier", $"is required for the {Kind} reward");
        if (RewardMaxNewTokens < 1) yield return ("reward.rewardMaxNewTokens", "must be at least 1");
        if (RewardSamples is < 1 or > 64) yield return ("reward.rewardSamples", "must be between 1 and 64");
        if (RewardTemperature is <= 0 or > 2) yield return ("reward.rewardTemperature", "must be above 0 and at most 2");
        if (Prompts is null) yield return ("reward.prompts", "is required");
        else foreach (var e in Prompts.Validate("reward.prompts")) yield return e;
    }
}
