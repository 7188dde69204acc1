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
    /// Generator: R_format(Y,Z) · (α·R_Y + β·R_Z) with R_Y the verifier's score of the proof and
    /// R_Z = (1 − |s'_self − R_Y|) · R_meta(Z), R_meta(Z) the meta-verifier's score of the self-analysis.
    /// </summary>
    public static double Generator(GenerationParse generation, double verifierScore, double selfAnalysisMetaScore, GeneratorRewardOptions? options = null)
    {
        if (!generation.FormatOk) return 0;
        var o = options ?? new GeneratorRewardOptions();
        double rz = (1 - Math.Abs(generation.SelfScore!.Value - verifierScore)) * selfAnalysisMetaScore;
        return o.Alpha * verifierScore + o.Beta * rz;
    }

    /// <summary>
    /// GRPO group-relative advantages: (r − mean) / std within the group (sample std, as torch.std);
    /// a group whose rewards are all equal gets zero advantages.
    /// </summary>
    public static double[] GroupAdvantages(IReadOnlyList<double> rewards, double epsilon = 1e-6)
    {
        int g = rewards.Count;
        if (g == 0) return [];
        double mean = rewards.Average();
        double std = g < 2 ? 0 : Math.Sqrt(rewards.Sum(r => (r - mean) * (r - mean)) / (g - 1));
        return rewards.Select(r => std < epsilon ? 0 : (r - mean) / (std + epsilon)).ToArray();
    }
}
