namespace MathV2.Core.Method;

/// <summary>Options of the generator reward (docs/method.md): R = R_format(Y,Z) · (α·R_Y + β·R_Z).</summary>
public sealed record GeneratorRewardOptions
{
    public double Alpha { get; init; } = 0.76;
    public double Beta { get; init; } = 0.24;
}

/// <summary>The method's rewards as pure functions (docs/method.md, "Rewards").</summary>
public static class Rewards
{
    /// <summary>
    /// The reward of a sample that cannot be scored: a frozen reward model's output on it did not parse. Such a sample
    /// gets no advantage and is left out of its group's mean and std (the reference code skips it); punishing it (0)
    /// would punish the proof for the verifier's failure and reward a self-score of 0.
    /// </summary>
    public const double Masked = double.NaN;

    public static bool IsMasked(double reward) => double.IsNaN(reward);

    /// <summary>R_format ∈ {0,1}: all required phrases and a parsable boxed score are present.</summary>
    public static double Format(AnalysisParse p) => p.FormatOk ? 1 : 0;

    public static double Format(GenerationParse p) => p.FormatOk ? 1 : 0;

    /// <summary>R_score(s', s) = 1 − |s' − s|.</summary>
    public static double Score(double predicted, double label) => 1 - Math.Abs(predicted - label);

    /// <summary>Verifier v1: R_format · R_score.</summary>
    public static double VerifierV1(AnalysisParse analysis, double label) =>
        analysis.FormatOk ? Score(analysis.Score!.Value, label) : 0;

    /// <summary>Meta-verifier: R_format · (1 − |ms' − ms|).</summary>
    public static double MetaVerifier(AnalysisParse meta, double label) =>
        meta.FormatOk ? Score(meta.Score!.Value, label) : 0;

    /// <summary>Verifier v2: R_format · R_score · R_meta, where R_meta is the frozen meta-verifier's score of the analysis.</summary>
    public static double VerifierV2(AnalysisParse analysis, double label, double metaScore) =>
        VerifierV1(analysis, label) * metaScore;

    /// <summary>
    /// The paper's phase 2 (eq. 4): R_Y alone, the verifier's score of the proof. A generation without a proof (no
    /// Solution section, unfinished, empty) gets 0; its self-evaluation is not scored. An unparsable verifier output
    /// (null) is <see cref="Masked"/>.
    /// </summary>
    public static double Proof(GenerationParse generation, double? verifierScore) =>
        generation.Proof is not { Length: > 0 } ? 0 : verifierScore ?? Masked;

    /// <summary>
    /// Generator: R_format(Y,Z) · (α·R_Y + β·R_Z) with R_Y the verifier's score of the proof and
    /// R_Z = (1 − |s'_self − R_Y|) · R_meta(Z), R_meta(Z) the meta-verifier's score of the self-analysis.
    /// </summary>
    /// <remarks>
    /// A generation the policy wrote badly gets 0 (R_format). One whose verifier output (R_Y) or, with a
    /// meta-verifier, whose self-analysis's meta output did not parse (null) is <see cref="Masked"/>.
    /// </remarks>
    public static double Generator(GenerationParse generation, double? verifierScore, double? selfAnalysisMetaScore, GeneratorRewardOptions? options = null)
    {
        if (!generation.FormatOk) return 0;
        if (verifierScore is not { } ry || selfAnalysisMetaScore is not { } meta) return Masked;
        var o = options ?? new GeneratorRewardOptions();
        double rz = (1 - Math.Abs(generation.SelfScore!.Value - ry)) * meta;
        return o.Alpha * ry + o.Beta * rz;
    }

    /// <summary>
    /// GRPO group-relative advantages: (r − mean) / std within the group (sample std, as torch.std);
    /// a group whose rewards are all equal gets zero advantages. <see cref="Masked"/> rewards get 0 and are left
    /// out of the mean and std.
    /// </summary>
    public static double[] GroupAdvantages(IReadOnlyList<double> rewards, double epsilon = 1e-6)
    {
        var scored = rewards.Where(r => !IsMasked(r)).ToList();
        int g = scored.Count;
        if (g == 0) return new double[rewards.Count];
        double mean = scored.Average();
        double std = g < 2 ? 0 : Math.Sqrt(scored.Sum(r => (r - mean) * (r - mean)) / (g - 1));
        return rewards.Select(r => IsMasked(r) || std < epsilon ? 0 : (r - mean) / (std + epsilon)).ToArray();
    }
}
