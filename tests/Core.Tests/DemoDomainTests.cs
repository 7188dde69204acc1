using System.Text.RegularExpressions;
using MathV2.Core;
using MathV2.Core.Demo;
using MathV2.Core.Method;

namespace MathV2.Core.Tests;

public sealed class DemoDomainTests
{
    public static IEnumerable<object[]> Problems() =>
        from d in Enumerable.Range(1, 4) from i in Enumerable.Range(0, 25) select new object[] { d, i };

    [Theory]
    [InlineData("2 + 3 * 4", 14)]
    [InlineData("(2 + 3) * 4", 20)]
    [InlineData("10 - 2 - 3", 5)]
    [InlineData("2 * (3 - 5) * 4", -16)]
    public void Evaluation_follows_precedence_and_parentheses(string expr, long value) =>
        Assert.Equal(value, ArithmeticDomain.Evaluate(expr));

    /// <summary>Model-written proofs contain anything: the oracle must reject, never crash.</summary>
    [Theory]
    [InlineData("1) + (2")]
    [InlineData("(3 + 4")]
    [InlineData("99999999999999999999 + 1")]
    [InlineData("2 + ")]
    public void Malformed_expressions_are_not_evaluable_and_a_proof_made_of_them_scores_zero(string expr)
    {
        Assert.False(ArithmeticDomain.TryEvaluate(expr, out _));
        var p = ArithmeticDomain.Problem(1, 0, 1);
        Assert.Equal(0, Oracle.ScoreProof(p, $"{expr} = 3 (by arithmetic)\n{p.Expression} = {p.Value}").Score);
    }

    [Theory]
    [MemberData(nameof(Problems))]
    public void Reference_proofs_score_one_and_each_injected_defect_gets_its_rubric_score(int difficulty, int index)
    {
        var p = ArithmeticDomain.Problem(seed: 11, index, difficulty);
        Assert.Equal(p.Value, ArithmeticDomain.Evaluate(p.Expression));
        var clean = Oracle.ScoreProof(p, ArithmeticDomain.WriteProof(p));
        Assert.Equal(1, clean.Score);
        Assert.Empty(clean.Defects);
        foreach (var defect in new[] { ProofDefect.FalseStep, ProofDefect.OmittedJustification, ProofDefect.NotReachingClaim })
        {
            var v = Oracle.ScoreProof(p, ArithmeticDomain.WriteProof(p, defect, seed: index));
            Assert.Equal(ArithmeticDomain.ScoreOf(defect), v.Score);
            Assert.Contains(v.Defects, d => d.Kind == defect);
        }
    }

    [Fact]
    public void False_steps_claim_one_or_two_more_or_less_in_a_seeded_mix()
    {
        // Always one more would let a verifier find the right value as "the claim minus one" without computing.
        var offsets = Enumerable.Range(0, 200).Select(i => ArithmeticDomain.WrongValue(12, $"p{i}", i % 3) - 12).ToList();
        Assert.Equal([-2, -1, 1, 2], offsets.Distinct().Order());
        Assert.All(offsets.GroupBy(o => o), g => Assert.InRange(g.Count(), 25, 75));
        Assert.Equal(ArithmeticDomain.WrongValue(12, "p1", 0), ArithmeticDomain.WrongValue(12, "p1", 0));
        var p = new ArithmeticProblem("q", "4 * 3", 12, 1);
        Assert.Equal($"Step 1: 4 * 3 = {ArithmeticDomain.WrongValue(12, "q", 0)}, so", ArithmeticDomain.WriteProof(p, ProofDefect.FalseStep, 0)[..22]);
    }

    [Fact]
    public void Far_wrong_values_are_another_operators_zero_or_a_number_and_never_near_the_right_one()
    {
        // 5 * 5: 5 + 5, 5 - 5, 0 or 5, as a generator that confuses operators writes it; never 23..27.
        var values = Enumerable.Range(0, 200).Select(i => ArithmeticDomain.FarWrongValue(5, '*', 5, $"p{i}", i % 2)).ToList();
        Assert.Equal([0, 5, 10], values.Distinct().Order());
        Assert.Equal(ArithmeticDomain.FarWrongValue(5, '*', 5, "p1", 0), ArithmeticDomain.FarWrongValue(5, '*', 5, "p1", 0));
        Assert.All(Enumerable.Range(0, 50), i => Assert.InRange(Math.Abs(ArithmeticDomain.FarWrongValue(3, '-', 4, $"p{i}", 0) + 1), 3, 20));
        // Nothing far among them (1 * 1: 2, 0, 1): three more.
        Assert.Equal(4, ArithmeticDomain.FarWrongValue(1, '*', 1, "p", 0));
        var p = new ArithmeticProblem("q", "2 + 5 * 5", 27, 2);
        string proof = ArithmeticDomain.WriteProof(p, ProofDefect.FalseStep, 0, 0, farOff: true);
        Assert.Matches(@"^Step 1: 5 \* 5 = (0|5|10), so 2 \+ 5 \* 5 = 2 \+ \1\.\nStep 2: 2 \+ \1 = (2|7|12), so", proof);
        Assert.Equal([new Defect(1, ProofDefect.FalseStep)], Oracle.AnalysisDefects(p, proof));
        Assert.Equal((5L, '*', -3L), ArithmeticDomain.OneOperation("5 *  -3"));
        Assert.Null(ArithmeticDomain.OneOperation("5 * 3 + 1"));
    }

    [Fact]
    public void A_miscopied_draft_starts_from_another_expression_and_slips_its_first_computation()
    {
        int miscopied = 0;
        foreach (var p in Enumerable.Range(0, 30).Select(i => ArithmeticDomain.Problem(3, i, 2)))
        {
            string draft = ArithmeticDomain.WriteMiscopiedDraft(p, 1);
            Assert.Equal(draft, ArithmeticDomain.WriteMiscopiedDraft(p, 1));
            var first = Regex.Match(draft, @"^Step 1: (.+?) = (-?\d+), so (.+?) = ");
            Assert.True(first.Success, draft);
            // The expression differs from the problem's (but where a 1 lowered by two is written 1 again); the first
            // computation is wrong, so the evaluation sees a false step.
            if (ArithmeticDomain.Normalize(p.Expression) != ArithmeticDomain.Normalize(first.Groups[3].Value)) miscopied++;
            Assert.False(Oracle.ComputesRight(first.Groups[1].Value, first.Groups[2].Value), draft);
            var verdict = Oracle.ScoreProof(p, draft);
            Assert.Equal(0, verdict.Score);
            Assert.Contains(new Defect(1, ProofDefect.FalseStep), verdict.Defects);
            Assert.Contains("Step 1 is false.", Oracle.WriteAnalysis(verdict.Defects, proof: draft));
        }
        Assert.InRange(miscopied, 25, 30);
    }

    [Fact]
    public void The_conclusion_is_checked_against_the_claim_so_a_miscopied_step_is_seen()
    {
        var p = new ArithmeticProblem("m", "2 + 4 * 3", 14, 2);
        // The result written wrong into the expression: every computation checks out, the conclusion does not.
        string result = ArithmeticDomain.WriteMiscopiedProof(p, 0, startMiscopied: false);
        Assert.Matches(@"^Step 1: 4 \* 3 = 12, so 2 \+ 4 \* 3 = 2 \+ (-?\d+)\.\nStep 2: 2 \+ \1 = (-?\d+), so 2 \+ \1 = \2\.\nTherefore 2 \+ 4 \* 3 = \2\.$", result);
        Assert.DoesNotContain("2 + 12.", result);
        Assert.Equal([new Defect(1, ProofDefect.FalseStep), new Defect(0, ProofDefect.NotReachingClaim)], Oracle.ScoreProof(p, result).Defects);
        Assert.Equal([new Defect(0, ProofDefect.NotReachingClaim)], Oracle.AnalysisDefects(p, result));
        string analysis = Oracle.WriteAnalysis(Oracle.AnalysisDefects(p, result), proof: result, claim: p.Value);
        Assert.Matches(@"\nStep 2: 2 \+ -?\d+ = -?\d+; the proof says -?\d+; -?\d+ - -?\d+ = 0, right\.\nConclusion: 14; the proof says (-?\d+); \1 - 14 = -?[1-9]\d*, wrong\.\nThe proof does not reach the claimed value\.\n", analysis);
        Assert.Equal(1, Oracle.JudgeAnalysis(p, result, analysis));
        Assert.Equal(0, Parsers.Verification(analysis).Score);
        // The meta-verifier checks a "does not reach" claim by the conclusion.
        Assert.Contains("Claim: The proof does not reach the claimed value.\nConclusion: 14; the proof says ", Oracle.WriteMetaVerification(p, result, analysis));
        // The expression the step starts from miscopied (one number changed): the step is right in itself.
        string start = ArithmeticDomain.WriteMiscopiedProof(p, 1, startMiscopied: true);
        Assert.StartsWith("Step 1: 4 * 3 = 12, so 2 + 4 * 3 = 2 + 12.\nStep 2: ", start);
        Assert.DoesNotContain("Step 2: 2 + 12 = 14", start);
        Assert.Equal(new Defect(2, ProofDefect.FalseStep), Oracle.ScoreProof(p, start).Defects[0]);
        Assert.Equal(start, ArithmeticDomain.WriteMiscopiedProof(p, 1, startMiscopied: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => ArithmeticDomain.WriteMiscopiedProof(p, 2, false));

        // A generator's slip: "1 * 1 * 4" read as "1 * 4 * 4"; an unfinished chain; none at all.
        Assert.Equal("Conclusion: 4; the proof says 16; 16 - 4 = 12, wrong.", Oracle.ConclusionLine(4, "Step 1: 1 * 4 = 4, so 1 * 4 * 4 = 4 * 4.\nStep 2: 4 * 4 = 16, so 4 * 4 = 16.\nTherefore 1 * 4 * 4 = 16."));
        Assert.Equal("Conclusion: 14; the proof says 2 + 12, wrong.", Oracle.ConclusionLine(14, "Step 1: 4 * 3 = 12, so 2 + 4 * 3 = 2 + 12.\nTherefore 2 + 4 * 3 = 2 + 12."));
        Assert.Equal("Conclusion: -1; the proof says -1; -1 - -1 = 0, right.", Oracle.ConclusionLine(-1, "Therefore 3 - 4 = -1."));
        Assert.Equal("Conclusion: 7; the proof says nothing, wrong.", Oracle.ConclusionLine(7, "it is obvious"));
        // A right proof: nothing to name.
        Assert.Empty(Oracle.AnalysisDefects(p, ArithmeticDomain.WriteProof(p)));
    }

    [Fact]
    public void Problems_and_proofs_are_deterministic_in_the_seed()
    {
        Assert.Equal(ArithmeticDomain.Problem(3, 7, 2), ArithmeticDomain.Problem(3, 7, 2));
        Assert.NotEqual(ArithmeticDomain.Problem(3, 7, 2).Expression, ArithmeticDomain.Problem(4, 7, 2).Expression);
        var p = ArithmeticDomain.Problem(3, 7, 2);
        Assert.Equal(ArithmeticDomain.WriteProof(p, ProofDefect.FalseStep, 5), ArithmeticDomain.WriteProof(p, ProofDefect.FalseStep, 5));
    }

    [Fact]
    public void The_demo_domain_is_the_same_in_every_process()
    {
        // Pinned values: a per-process randomised hash (HashCode.Combine) would change them from run to run.
        Assert.Equal("Prove that 5 * 2 = 10.", ArithmeticDomain.Problem(1, 0, 1).Statement);
        Assert.Equal("Prove that 1 * 3 = 3.", ArithmeticDomain.Problem(1, 1, 1).Statement);
        Assert.Equal("Prove that 1 * 2 - 5 = -3.", ArithmeticDomain.Problem(1, 1, 2).Statement);
        Assert.Equal(StableHash.Seed("a", 1, 2), StableHash.Seed("a", 1, 2));
        Assert.NotEqual(StableHash.Seed("a", 1, 2), StableHash.Seed("a", 2, 1));
        Assert.Equal(1220578217, StableHash.Seed("problem", 1, 0, 1));   // FNV-1a 64 of "problem|1|0|1", folded
    }

    [Fact]
    public void An_analysis_given_the_proof_redoes_each_steps_computation_before_its_verdict()
    {
        var p = new ArithmeticProblem("t", "2 + 4 * 3", 14, 2);
        string proof = "Step 1: 4 * 3 = 13, so 2 + 4 * 3 = 2 + 13.\nStep 2: 2 + 13 = 15, so 2 + 13 = 15.\nTherefore 2 + 4 * 3 = 15.";
        var verdict = Oracle.ScoreProof(p, proof);
        // The false step, and so the proof does not reach the claim; the analysis names the step, which explains it.
        Assert.Equal([new Defect(1, ProofDefect.FalseStep), new Defect(0, ProofDefect.NotReachingClaim)], verdict.Defects);
        Assert.Equal([new Defect(1, ProofDefect.FalseStep)], Oracle.AnalysisDefects(p, proof));
        string analysis = Oracle.WriteAnalysis(Oracle.AnalysisDefects(p, proof), proof: proof, claim: p.Value);
        Assert.Equal("Here is my evaluation of the solution:\nStep 1: 4 * 3 = 12; the proof says 13; 13 - 12 = 1, wrong.\nStep 2: 2 + 13 = 15; the proof says 15; 15 - 15 = 0, right.\n" +
            "Conclusion: 14; the proof says 15; 15 - 14 = 1, wrong.\nStep 1 is false.\n" +
            "Based on my evaluation, the final overall score should be: \\boxed{0}", analysis);
        Assert.Equal(Oracle.AnalysisDefects(p, proof), Oracle.ClaimedDefects(analysis));
        Assert.Equal(1, Oracle.JudgeAnalysis(p, proof, analysis));
        Assert.Equal(0, Parsers.Verification(analysis).Score);
    }

    [Fact]
    public void An_unjustified_step_is_checked_too_when_it_is_one_operation()
    {
        var p = new ArithmeticProblem("t", "5 + 5", 10, 1);
        string hidden = "Step 1: 5 + 5 = 11.\nTherefore 5 + 5 = 11.";
        Assert.Equal([new Defect(1, ProofDefect.FalseStep)], Oracle.AnalysisDefects(p, hidden));
        string analysis = Oracle.WriteAnalysis(Oracle.AnalysisDefects(p, hidden), proof: hidden);
        Assert.Equal("Here is my evaluation of the solution:\nStep 1: 5 + 5 = 10; the proof says 11; 11 - 10 = 1, wrong.\nStep 1 is false.\n" +
            "Based on my evaluation, the final overall score should be: \\boxed{0}", analysis);
        Assert.Contains("Claim: Step 1 is false.\nStep 1: 5 + 5 = 10; the proof says 11; 11 - 10 = 1, wrong.\nThe claim is true.", Oracle.WriteMetaVerification(p, hidden, analysis));

        // A right unjustified step: checked, and still an omitted justification (0.5); its meta claim asks whether it computes.
        string omitted = "Step 1: 5 + 5 = 10.\nTherefore 5 + 5 = 10.";
        var defects = Oracle.ScoreProof(p, omitted).Defects;
        Assert.Equal([new Defect(1, ProofDefect.OmittedJustification)], defects);
        string faithful = Oracle.WriteAnalysis(defects, proof: omitted);
        Assert.StartsWith("Here is my evaluation of the solution:\nStep 1: 5 + 5 = 10; the proof says 10; 10 - 10 = 0, right.\nStep 1 omits its justification.", faithful);
        Assert.Contains("Claim: Step 1 omits its justification.\nStep 1: the proof gives no computation.\nThe claim is true.", Oracle.WriteMetaVerification(p, omitted, faithful));
        long w = ArithmeticDomain.WrongValue(10, "t", 0);
        Assert.Equal($"Step 1: 5 + 5 = {w}.\nTherefore 5 + 5 = {w}.", DemoDatasets.UnjustifiedFalseStep(p, omitted));

        // Rewrites of more than one operation are not checked (which operation came first is the justification's job).
        Assert.Empty(Oracle.Checks("Step 1: 2 + 4 * 3 = 2 + 12.\nTherefore 2 + 4 * 3 = 14."));
        Assert.Null(DemoDatasets.UnjustifiedFalseStep(new ArithmeticProblem("u", "2 + 4 * 3", 14, 2), "Step 1: 2 + 4 * 3 = 2 + 12.\nStep 2: 2 + 12 = 14, so 2 + 12 = 14.\nTherefore 2 + 4 * 3 = 14."));
        var demos = DemoDatasets.Demonstrations(new DemoDatasetOptions { ProblemsPerDifficulty = 20 }).Where(d => d.Kind == "verification").ToList();
        Assert.Contains(demos, d => System.Text.RegularExpressions.Regex.IsMatch(d.Prompt, @"Step \d+: -?\d+ [-+*] -?\d+ = -?\d+\.\n") && d.Completion.Contains(" is false.", StringComparison.Ordinal));
    }

    [Fact]
    public void Garbage_and_bare_claims_score_zero()
    {
        var p = ArithmeticDomain.Problem(1, 1, 2);
        Assert.Equal(0, Oracle.ScoreProof(p, "it is obvious").Score);
        Assert.Equal(0, Oracle.ScoreProof(p, "").Score);
        Assert.Equal(0, Oracle.ScoreProof(p, $"Therefore {p.Expression} = {p.Value + 1}.").Score);
    }

    [Fact]
    public void A_meta_verification_checks_each_claimed_defect_against_the_proof_before_its_rating()
    {
        var p = new ArithmeticProblem("t", "2 + 4 * 3", 14, 2);
        string proof = "Step 1: 4 * 3 = 13, so 2 + 4 * 3 = 2 + 13.\nStep 2: 2 + 13 = 15, so 2 + 13 = 15.\nTherefore 2 + 4 * 3 = 15.";
        var actual = Oracle.AnalysisDefects(p, proof);
        Assert.Equal("Here is my analysis of the evaluation:\nClaim: Step 1 is false.\nStep 1: 4 * 3 = 12; the proof says 13; 13 - 12 = 1, wrong.\nThe claim is true.\n" +
            "The score 0 follows from the claims.\nEvery claimed defect exists and the score follows from them.\n" +
            "Based on my analysis, the quality score of the evaluation should be: \\boxed{1}", Oracle.WriteMetaVerification(p, proof, Oracle.WriteAnalysis(actual, proof: proof)));

        // A verifier's slip: step 2 miscomputed (15 - 16 = -1, wrong) and called false. The meta-verifier redoes step 2.
        string slip = Oracle.WriteAnalysis([.. actual, new Defect(2, ProofDefect.FalseStep)], proof: proof, miscomputedStep: 2);
        Assert.Contains("Step 2: 2 + 13 = 16; the proof says 15; 15 - 16 = -1, wrong.", slip);
        Assert.Equal(0.5, Oracle.JudgeAnalysis(p, proof, slip));
        string meta = Oracle.WriteMetaVerification(p, proof, slip);
        Assert.Contains("Claim: Step 2 is false.\nStep 2: 2 + 13 = 15; the proof says 15; 15 - 15 = 0, right.\nThe claim is false.\n", meta);
        Assert.Equal(0.5, Parsers.MetaVerification(meta).Score);

        // A misread claim: step 2's check quotes a value the proof does not say, and calls the step false. The
        // meta-verifier quotes the proof.
        string misread = Oracle.WriteAnalysis([.. actual, new Defect(2, ProofDefect.FalseStep)], proof: proof, misreadStep: 2);
        Assert.Matches(@"\nStep 2: 2 \+ 13 = 15; the proof says (-11|26|0|2); \1 - 15 = -?\d+, wrong\.\n", misread);
        Assert.Equal(0.5, Oracle.JudgeAnalysis(p, proof, misread));
        Assert.Contains("Claim: Step 2 is false.\nStep 2: 2 + 13 = 15; the proof says 15; 15 - 15 = 0, right.\nThe claim is false.\n", Oracle.WriteMetaVerification(p, proof, misread));
        // D_mv's unfaithful analyses include misread claims.
        var o = new DemoDatasetOptions { ProblemsPerDifficulty = 10 };
        var misreads = DemoDatasets.GradedAnalyses(o).Where(r => System.Text.RegularExpressions.Regex.Matches(r.Analysis, @"Step (\d+): (.+?) = (-?\d+); the proof says (-?\d+);")
            .Any(m => Oracle.Checks(r.Proof).Any(c => c.Step.ToString() == m.Groups[1].Value && c.Claimed != m.Groups[4].Value))).ToList();
        Assert.NotEmpty(misreads);
        Assert.All(misreads, r => Assert.True(r.Score < 1));

        // Claims of omitted justifications and of not reaching the claim, and a score that does not follow.
        string omitted = "Step 1: 2 + 4 * 3 = 2 + 12.\nStep 2: 2 + 12 = 14, so 2 + 12 = 14.\nTherefore 2 + 4 * 3 = 14.";
        string bogus = Oracle.WriteAnalysis([new Defect(1, ProofDefect.OmittedJustification), new Defect(2, ProofDefect.OmittedJustification)], score: 1, proof: omitted);
        meta = Oracle.WriteMetaVerification(p, omitted, bogus);
        Assert.Contains("Claim: Step 1 omits its justification.\nStep 1: the proof gives no computation.\nThe claim is true.\n", meta);
        Assert.Contains("Claim: Step 2 omits its justification.\nStep 2: 2 + 12 = 14; the proof says 14; 14 - 14 = 0, right.\nThe claim is false.\n", meta);
        Assert.Contains("The score 1 does not follow from the claims.", meta);
        Assert.Contains("Claim: The proof does not reach the claimed value.\nConclusion: 14; the proof says 14; 14 - 14 = 0, right.\nThe claim is false.", Oracle.WriteMetaVerification(p, omitted, Oracle.WriteAnalysis([new Defect(0, ProofDefect.NotReachingClaim)])));
        Assert.Equal(0, Parsers.MetaVerification(Oracle.WriteMetaVerification(p, omitted, "garbage")).Score);
    }

    [Fact]
    public void Unfaithful_analyses_in_D_mv_and_the_demonstrations_come_in_three_slips()
    {
        var o = new DemoDatasetOptions { ProblemsPerDifficulty = 20 };
        var unfaithful = DemoDatasets.GradedAnalyses(o).Where((_, i) => i % 2 == 1).ToList();
        Assert.Contains(unfaithful, r => r.Analysis.Contains("omits its justification") && r.Score < 1);
        Assert.Contains(unfaithful, r => Oracle.ClaimedDefects(r.Analysis).Count == 0 && Parsers.Verification(r.Analysis).Score == 0);
        var slips = unfaithful.Where(r => System.Text.RegularExpressions.Regex.IsMatch(r.Analysis, @"says (-?\d+); \1 - (-?\d+) = -1, wrong")).ToList();
        Assert.NotEmpty(slips);
        Assert.All(slips, r => Assert.True(r.Score < 1, r.Analysis));
        Assert.All(unfaithful, r => Assert.True(r.Score < 1, r.Analysis));
        // A false step named an omission (its check reads wrong, the score still 0): rated 0, and the meta-verification
        // shows the step's computation and calls the claim false.
        var misnamed = unfaithful.Where(r => System.Text.RegularExpressions.Regex.Match(r.Analysis, @"\nStep (\d+): [^\n]*, wrong\.\n(?:[^\n]*\n)*Step \1 omits its justification\.") is { Success: true }).ToList();
        Assert.NotEmpty(misnamed);
        foreach (var r in misnamed)
        {
            var p = ArithmeticDomainIds.TryProblem(r.ProblemId)!;
            Assert.Equal(0, r.Score);
            Assert.Equal(0, Parsers.Verification(r.Analysis).Score);
            Assert.DoesNotContain(" is false.", r.Analysis);
            Assert.Matches(@"Claim: Step (\d+) omits its justification\.\nStep \1: [^\n]*, wrong\.\nThe claim is false\.", Oracle.WriteMetaVerification(p, r.Proof, r.Analysis));
        }
        var metas = DemoDatasets.Demonstrations(o).Where(d => d.Kind == "meta-verification").Select(d => Parsers.MetaVerification(d.Completion).Score).ToList();
        Assert.Contains(1.0, metas);
        Assert.Contains(0.5, metas);
        Assert.Contains(0.0, metas);
    }

    [Fact]
    public void The_oracle_judges_analyses_as_the_meta_rubric_reads()
    {
        var p = ArithmeticDomain.Problem(2, 3, 3);
        string omitted = ArithmeticDomain.WriteProof(p, ProofDefect.OmittedJustification, 1);
        var actual = Oracle.ScoreProof(p, omitted).Defects;
        Assert.Equal(1, Oracle.JudgeAnalysis(p, omitted, Oracle.WriteAnalysis(actual)));
        Assert.Equal(0, Oracle.JudgeAnalysis(p, omitted, Oracle.WriteAnalysis([new Defect(99, ProofDefect.FalseStep)])));
        Assert.Equal(0.5, Oracle.JudgeAnalysis(p, omitted, Oracle.WriteAnalysis([.. actual, new Defect(99, ProofDefect.FalseStep)])));
        Assert.Equal(0.5, Oracle.JudgeAnalysis(p, omitted, Oracle.WriteAnalysis(actual, score: 1)));
        Assert.Equal(0, Oracle.JudgeAnalysis(p, omitted, "Step 1 omits its justification. \\boxed{0.5}"));

        var parsed = Parsers.Verification(Oracle.WriteAnalysis(actual));
        Assert.True(parsed.FormatOk);
        Assert.Equal(0.5, parsed.Score);
        var meta = Parsers.MetaVerification(Oracle.WriteMetaVerification(p, omitted, Oracle.WriteAnalysis(actual)));
        Assert.Equal(1, meta.Score);
    }
}
