using MathV2.Core.Method;

namespace MathV2.Core.Tests;

/// <summary>Rewards against values computed by hand from docs/method.md's formulas.</summary>
public sealed class RewardTests
{
    static AnalysisParse A(double score) => new() { Score = score, FormatOk = true };
    static readonly AnalysisParse Broken = new() { Failure = ParseFailure.NoBoxedScore };

    [Fact]
    public void Verifier_v1_is_format_times_score_agreement()
    {
        Assert.Equal(1, Rewards.VerifierV1(A(0.5), 0.5));
        Assert.Equal(0.5, Rewards.VerifierV1(A(1), 0.5));
        Assert.Equal(0, Rewards.VerifierV1(A(0), 1));
        Assert.Equal(0, Rewards.VerifierV1(Broken, 1));
    }

    [Fact]
    public void Verifier_v2_multiplies_by_the_meta_score_and_meta_reward_mirrors_v1()
    {
        Assert.Equal(0.25, Rewards.VerifierV2(A(1), 0.5, 0.5));     // 1 · 0.5 · 0.5
        Assert.Equal(0, Rewards.VerifierV2(A(0.5), 0.5, 0));
        Assert.Equal(0.5, Rewards.MetaVerifier(A(0.5), 1));
        Assert.Equal(0, Rewards.MetaVerifier(Broken, 1));
    }

    [Fact]
    public void Generator_reward_weights_proof_and_honest_self_evaluation()
    {
        var g = new GenerationParse { FormatOk = true, SelfScore = 1, Proof = "p", SelfEvaluation = "z" };
        // R_Y = 0.5, R_Z = (1 − |1 − 0.5|) · 1 = 0.5 → 0.76·0.5 + 0.24·0.5 = 0.5
        Assert.Equal(0.5, Rewards.Generator(g, 0.5, 1), 10);
        // honest self-score 0.5, meta 0.5: R_Z = 1 · 0.5 → 0.38 + 0.12 = 0.5
        Assert.Equal(0.5, Rewards.Generator(g with { SelfScore = 0.5 }, 0.5, 0.5), 10);
        // perfect: 0.76 + 0.24 = 1
        Assert.Equal(1, Rewards.Generator(g, 1, 1), 10);
        Assert.Equal(0, Rewards.Generator(g with { FormatOk = false }, 1, 1));
        Assert.Equal(0.76 * 0.5 + 0.1 * 0.5 * 1, Rewards.Generator(g, 0.5, 1, new GeneratorRewardOptions { Alpha = 0.76, Beta = 0.1 }), 10);
    }

    [Fact]
    public void Group_advantages_are_normalised_within_the_group()
    {
        double[] adv = Rewards.GroupAdvantages([1, 0, 0, 1]);
        // mean 0.5, sample std sqrt(1/3) = 0.57735 → ±0.866
        Assert.Equal([0.866, -0.866, -0.866, 0.866], adv.Select(a => Math.Round(a, 3)));
        Assert.Equal(0, adv.Sum(), 9);
        Assert.All(Rewards.GroupAdvantages([0.5, 0.5, 0.5]), a => Assert.Equal(0, a));
        Assert.Equal([0.0], Rewards.GroupAdvantages([1]));
    }

    [Fact]
    public void A_generation_the_verifier_could_not_read_is_masked_not_punished()
    {
        var g = new GenerationParse { FormatOk = true, SelfScore = 0, Proof = "p", SelfEvaluation = "z" };
        // R_Y unknown (the verifier's output did not parse): no reward, neither for the proof nor for a self-score of 0.
        Assert.True(Rewards.IsMasked(Rewards.Generator(g, null, 1)));
        // With a meta-verifier whose output on the self-analysis did not parse: masked too.
        Assert.True(Rewards.IsMasked(Rewards.Generator(g, 1, null)));
        // The policy's own bad format is still its fault: 0, not masked.
        Assert.Equal(0, Rewards.Generator(g with { FormatOk = false }, null, null));
    }

    [Fact]
    public void Masked_rewards_get_no_advantage_and_stay_out_of_the_group_statistics()
    {
        double[] adv = Rewards.GroupAdvantages([1, Rewards.Masked, 0, Rewards.Masked, 0, 1]);
        // The scored four are [1, 0, 0, 1]: the same advantages as a group of four.
        Assert.Equal([0.866, 0, -0.866, 0, -0.866, 0.866], adv.Select(a => Math.Round(a, 3)));
        Assert.Equal(new double[3], Rewards.GroupAdvantages([Rewards.Masked, Rewards.Masked, Rewards.Masked]));
        Assert.Equal(new double[2], Rewards.GroupAdvantages([0.5, Rewards.Masked]));
    }

    [Fact]
    public void Phase_2s_reward_is_the_verifiers_score_of_the_proof_alone()
    {
        const string analysis = "Here is my evaluation of the solution: fine. Based on my evaluation, the final overall score should be: \\boxed{1}";
        var honest = Parsers.Generation($"## Solution\np\n## Self Evaluation\n{analysis}");
        var dishonest = Parsers.Generation($"## Solution\np\n## Self Evaluation\n{analysis.Replace("{1}", "{0}")}");
        // The self-evaluation does not count: an honest and a dishonest one earn the same.
        Assert.Equal(0.5, Rewards.Proof(honest, 0.5));
        Assert.Equal(0.5, Rewards.Proof(dishonest, 0.5));
        // A proof without a self-evaluation is still scored; without a proof, 0; an unreadable verifier output, masked.
        Assert.Equal(1, Rewards.Proof(Parsers.Generation("## Solution\np"), 1));
        Assert.Equal(0, Rewards.Proof(Parsers.Generation("no headings"), 1));
        Assert.Equal(0, Rewards.Proof(Parsers.Generation("## Solution\np", "length"), 1));
        Assert.True(Rewards.IsMasked(Rewards.Proof(honest, null)));
        // The α/β reward of the same generations differs by honesty.
        Assert.True(Rewards.Generator(honest, 1, 1) > Rewards.Generator(dishonest, 1, 1));
    }
}
