using MathV2.Core.Method;

namespace MathV2.Core.Tests;

public sealed class MethodParsingTests
{
    const string Good = """
        Here is my evaluation of the solution:
        Step 2 divides by x without checking x != 0.
        Based on my evaluation, the final overall score should be:
        \boxed{0.5}
        """;

    [Theory]
    [InlineData("0", 0.0)]
    [InlineData("1", 1.0)]
    [InlineData("1.00", 1.0)]
    [InlineData("0.5", 0.5)]
    [InlineData(".5", 0.5)]
    [InlineData("0.50", 0.5)]
    [InlineData("1/2", 0.5)]
    [InlineData(" 1 / 2 ", 0.5)]
    [InlineData(@"\frac{1}{2}", 0.5)]
    [InlineData(@"\dfrac12", 0.5)]
    [InlineData(@"\text{1}", 1.0)]
    [InlineData("½", 0.5)]
    public void Accepted_spellings_normalise(string raw, double expected) => Assert.Equal(expected, Scores.Normalize(raw));

    [Theory]
    [InlineData("0.7")]
    [InlineData("2")]
    [InlineData("-1")]
    [InlineData("half")]
    [InlineData("1/0")]
    [InlineData("")]
    public void Other_values_are_rejected(string raw) => Assert.Null(Scores.Normalize(raw));

    [Fact]
    public void Headings_with_nothing_between_them_are_a_missing_solution_not_a_crash()
    {
        foreach (string text in new[] { "## Solution\n\n## Self Evaluation\nx", "## Solution\n## Self Evaluation", "#Solution\n \n ## Self-Evaluation:\n\\boxed{1}" })
        {
            var g = Parsers.Generation(text);
            Assert.Equal(ParseFailure.MissingSolution, g.Failure);
            Assert.Null(g.Proof);
        }
    }

    [Fact]
    public void The_last_brace_balanced_box_after_thinking_wins()
    {
        Assert.Equal(@"\frac{1}{2}", Boxed.Last(@"<think>maybe \boxed{1}</think> first \boxed{0} then \boxed{\frac{1}{2}}"));
        Assert.Null(Boxed.Last(@"<think>\boxed{1}</think> no answer after thinking"));
        Assert.Equal("0", Boxed.Last(@"\boxed{1} \boxed{0} \boxed{unclosed"));
    }

    [Fact]
    public void A_well_formed_verification_parses_with_its_analysis()
    {
        var p = Parsers.Verification(Good);
        Assert.True(p.FormatOk);
        Assert.Equal(ParseFailure.None, p.Failure);
        Assert.Equal(0.5, p.Score);
        Assert.Equal("Step 2 divides by x without checking x != 0.", p.Analysis);
    }

    [Fact]
    public void Key_phrases_match_leniently_including_the_official_misspelling()
    {
        var p = Parsers.Verification("here is my   evaluation of the solution\nfine.\nBased on my evaluation the final overal score should be \\boxed{1}");
        Assert.True(p.FormatOk);
        Assert.Equal(1, p.Score);
    }

    [Theory]
    [InlineData("Here is my evaluation of the solution: ok. Based on my evaluation, the final overall score should be: 1", ParseFailure.NoBoxedScore)]
    [InlineData("Here is my evaluation of the solution: ok. Based on my evaluation, the final overall score should be: \\boxed{0.7}", ParseFailure.InvalidScore)]
    [InlineData("ok. Based on my evaluation, the final overall score should be: \\boxed{1}", ParseFailure.MissingLeadPhrase)]
    [InlineData("Here is my evaluation of the solution: ok. \\boxed{1}", ParseFailure.MissingClosingPhrase)]
    [InlineData("<think>all reasoning</think>   ", ParseFailure.Empty)]
    public void Rejections_carry_their_reason(string text, ParseFailure reason)
    {
        var p = Parsers.Verification(text);
        Assert.False(p.FormatOk);
        Assert.Equal(reason, p.Failure);
    }

    [Fact]
    public void Unfinished_outputs_are_rejected() =>
        Assert.Equal(ParseFailure.Unfinished, Parsers.Verification(Good, finishReason: "length").Failure);

    [Fact]
    public void A_generation_splits_into_proof_and_self_evaluation()
    {
        var g = Parsers.Generation($"## Solution\nSince 2+2=4, done.\n\n## Self Evaluation\n{Good}");
        Assert.True(g.FormatOk);
        Assert.Equal("Since 2+2=4, done.", g.Proof);
        Assert.Equal(0.5, g.SelfScore);
        Assert.Equal(ParseFailure.MissingSelfEvaluation, Parsers.Generation("## Solution\nproof only").Failure);
        Assert.Equal(ParseFailure.MissingSolution, Parsers.Generation("no headings at all \\boxed{1}").Failure);
        Assert.Equal(ParseFailure.MissingLeadPhrase, Parsers.Generation("## Solution\np\n## Self Evaluation\n\\boxed{1}").Failure);
    }

    [Fact]
    public void Meta_verification_uses_its_own_phrases()
    {
        var m = Parsers.MetaVerification("Here is my analysis of the evaluation: the cited defect exists. Based on my analysis, the quality score of the evaluation should be: \\boxed{1}");
        Assert.True(m.FormatOk);
        Assert.Equal(ParseFailure.MissingLeadPhrase, Parsers.MetaVerification(Good).Failure);
    }

    [Fact]
    public void Prompts_render_once_and_refinement_lists_the_weakest_first()
    {
        string v = Prompts.RenderVerification("Show {proof} is odd", "trivial");
        Assert.Contains("Show {proof} is odd", v);
        Assert.Contains("## Proof\ntrivial", v);
        string r = Prompts.RenderRefinement("P", [("good proof", "fine", 1), ("bad proof", "wrong", 0), ("ok proof", "gap", 0.5)]);
        Assert.True(r.IndexOf("bad proof", StringComparison.Ordinal) < r.IndexOf("ok proof", StringComparison.Ordinal));
        Assert.True(r.IndexOf("ok proof", StringComparison.Ordinal) < r.IndexOf("good proof", StringComparison.Ordinal));
        Assert.Contains("## Candidate 1 (score 0)", r);
    }
}
