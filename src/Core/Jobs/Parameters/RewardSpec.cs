namespace MathV2.Core.Jobs;

/// <summary>
/// Which reward a grpo job uses. Kinds: suffix (toy: Value when the completion ends with Suffix), verifier-v1
/// (D_v rows, R_format·R_score), meta-verifier (D_mv rows), verifier-v2 (D_v rows, × the frozen MetaVerifier's score
/// of the analysis), generator (D_p rows, α·R_Y + β·R_Z with the frozen Verifier and, if given, MetaVerifier).
/// </summary>
public sealed record RewardSpec
{
    public const string Suffix = "suffix", VerifierV1 = "verifier-v1", MetaVerifierKind = "meta-verifier", VerifierV2 = "verifier-v2", Generator = "generator";
    public static readonly string[] Kinds = [Suffix, VerifierV1, MetaVerifierKind, VerifierV2, Generator];

    public string Kind { get; init; } = Suffix;
    /// <summary>suffix: the text a rewarded completion ends with.</summary>
    public string? Text { get; init; }
    public double Value { get; init; } = 1;
    /// <summary>Artifact id of the frozen verifier checkpoint (generator).</summary>
    public string? Verifier { get; init; }
    /// <summary>Artifact id of the frozen meta-verifier checkpoint (verifier-v2; optional for generator).</summary>
    public string? MetaVerifier { get; init; }
    public double Alpha { get; init; } = 0.76;
    public double Beta { get; init; } = 0.24;
    /// <summary>The prompt set of the policy's and the reward models' prompts: "standard" or "compact".</summary>
    public string Prompts { get; init; } = "standard";
    /// <summary>Tokens a frozen reward model may write per analysis.</summary>
    public int RewardMaxNewTokens { get; init; } = 256;

    public IEnumerable<(string Field, string Message)> Validate()
    {
        if (!Kinds.Contains(Kind)) yield return ("reward.kind", $"must be one of {string.Join(", ", Kinds)}");
        if (Kind == Suffix && string.IsNullOrEmpty(Text)) yield return ("reward.text", "is required for the suffix reward");
        if (Kind == VerifierV2 && MetaVerifier == null) yield return ("reward.metaVerifier", "is required for verifier-v2");
        if (Kind == Generator && Verifier == null) yield return ("reward.verifier", "is required for the generator reward");
        if (RewardMaxNewTokens < 1) yield return ("reward.rewardMaxNewTokens", "must be at least 1");
        if (Prompts is not ("standard" or "compact")) yield return ("reward.prompts", "must be standard or compact");
    }
}
