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
    public void Prompts_render_once_and_the_compact_refinement_lists_the_weakest_first()
    {
        string v = Prompts.RenderVerification("Show {proof} is odd", "trivial");
        Assert.Contains("Show {proof} is odd", v);
        Assert.Contains("## Solution\ntrivial", v);
        string r = Prompts.RenderRefinement("P", [("good proof", "fine", 1), ("bad proof", "wrong", 0), ("ok proof", "gap", 0.5)], Prompts.Compact);
        Assert.True(r.IndexOf("bad proof", StringComparison.Ordinal) < r.IndexOf("ok proof", StringComparison.Ordinal));
        Assert.True(r.IndexOf("ok proof", StringComparison.Ordinal) < r.IndexOf("good proof", StringComparison.Ordinal));
        Assert.StartsWith("## Candidate 1 (score 0)\nbad proof\n\n## Evaluation of candidate 1\nwrong\n\n## Candidate 2", r);
    }

    // Golden outputs in the reference code's formats (its normaliser, split and box rules).

    const string PaperMeta = """
        Here is my analysis of the "solution evaluation":
        The evaluation claims step 2 is wrong; it is.
        Based on my analysis, I will rate the "solution evaluation" as:
        \boxed{0.5}
        """;

    [Fact]
    public void The_papers_meta_phrases_parse_and_so_do_the_compact_sets()
    {
        var m = Parsers.MetaVerification(PaperMeta);
        Assert.True(m.FormatOk, m.Failure.ToString());
        Assert.Equal(0.5, m.Score);
        Assert.Equal("The evaluation claims step 2 is wrong; it is.", m.Analysis);
        var curly = Parsers.MetaVerification(PaperMeta.Replace("\"solution evaluation\"", "“solution evaluation”"));
        Assert.True(curly.FormatOk);
        Assert.True(Parsers.MetaVerification("Here is my analysis of the evaluation: fine. Based on my analysis, the quality score of the evaluation should be: \\boxed{1}").FormatOk);
        // A verification's phrases are not a meta-verification's.
        Assert.Equal(ParseFailure.MissingLeadPhrase, Parsers.MetaVerification(Good).Failure);
    }

    [Fact]
    public void Bold_headings_are_a_solution_and_a_self_evaluation_as_the_reference_normalises_them()
    {
        var g = Parsers.Generation($"**Solution**\nSince 2+2=4, done.\n\n**Self Evaluation**\n{Good}");
        Assert.True(g.FormatOk, g.Failure.ToString());
        Assert.Equal("Since 2+2=4, done.", g.Proof);
        Assert.Equal(0.5, g.SelfScore);
        Assert.True(Parsers.Generation($"<think>draft</think>\n** Solution **\np\n*** Self Evaluation ***\n{Good}").FormatOk);
    }

    [Fact]
    public void The_split_is_at_the_first_self_evaluation_and_the_proof_ends_at_a_second_solution_heading()
    {
        string second = Good.Replace("\\boxed{0.5}", "\\boxed{1}");
        var g = Parsers.Generation($"## Solution\nfirst proof\n## Self Evaluation\n{Good}\n## Self Evaluation\n{second}");
        Assert.Equal("first proof", g.Proof);
        Assert.Equal(0.5, g.SelfScore);
        Assert.DoesNotContain("\\boxed{1}", g.SelfEvaluation);
        var twice = Parsers.Generation($"## Solution\ndraft\n## Solution\nfinal\n## Self Evaluation\n{Good}");
        Assert.Equal("draft", twice.Proof);
        // A self-evaluation before any solution: the reference finds no solution in front of it.
        Assert.Equal(ParseFailure.MissingSolution, Parsers.Generation($"## Self Evaluation\n{Good}\n## Solution\nlate\n## Self Evaluation\n{Good}").Failure);
    }

    [Fact]
    public void The_score_box_must_follow_the_closing_phrase()
    {
        var p = Parsers.Verification("Here is my evaluation of the solution: \\boxed{1} is what I think. Based on my evaluation, the final overall score should be: (see above)");
        Assert.False(p.FormatOk);
        Assert.Equal(ParseFailure.ScoreBeforeClosingPhrase, p.Failure);
        Assert.Equal(1, p.Score);
        var ok = Parsers.Verification("Here is my evaluation of the solution: step 1 \\boxed{0} looks off but holds. Based on my evaluation, the final overall score should be: \\boxed{1}");
        Assert.True(ok.FormatOk);
        Assert.Equal(1, ok.Score);
    }

    [Fact]
    public void An_empty_trailing_box_is_skipped_as_the_reference_skips_it()
    {
        Assert.Equal("1", Boxed.Last("\\boxed{1} then \\boxed{} and \\boxed{  }"));
        var p = Parsers.Verification(Good + "\n\\boxed{}");
        Assert.True(p.FormatOk);
        Assert.Equal(0.5, p.Score);
        Assert.Equal(ParseFailure.NoBoxedScore, Parsers.Verification("Here is my evaluation of the solution: x. Based on my evaluation, the final overall score should be: \\boxed{}").Failure);
    }

    [Fact]
    public void A_reference_format_generation_with_the_official_misspelling_parses()
    {
        const string output = """
            <think>Let me try n = 1 first.</think>
            ## Solution
            For n = 1 the sum is 1 = 1^2; if it holds for n, adding 2n + 1 gives (n + 1)^2.

            ## Self Evaluation

            Here is my evaluation of the solution:
            The induction step is correct and the base case is checked.

            Based on my evaluation, the final overal score should be:
            \boxed{1}
            """;
        var g = Parsers.Generation(output);
        Assert.True(g.FormatOk, g.Failure.ToString());
        Assert.Equal(1, g.SelfScore);
        Assert.StartsWith("For n = 1", g.Proof);
    }
}
