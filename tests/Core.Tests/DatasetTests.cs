using System.Text.RegularExpressions;
using System.Text.Json;
using MathV2.Core.Datasets;
using MathV2.Core.Demo;
using MathV2.Core.Method;

namespace MathV2.Core.Tests;

public sealed class DatasetTests
{
    const string Dv = """
        {"problemId":"p1","problem":"Prove 1+1=2.","proof":"Step 1: 1 + 1 = 2, so 1 + 1 = 2.","score":1}
        {"problemId":"p2","problem":"Prove 2+2=4.","proof":"obvious","score":"1/2"}

        {"problemId":"p3","problem":"Prove 3+3=6.","proof":"","score":1}
        {"problemId":"p4","problem":"Prove 4+4=8.","proof":"x","score":0.7}
        not json
        """;

    [Fact]
    public void A_dataset_with_bad_rows_is_rejected_whole_naming_file_line_and_field()
    {
        var e = Assert.Throws<DatasetException>(() => Jsonl.Read<GradedProofRow>(Dv, "dv.jsonl"));
        Assert.Equal(["dv.jsonl:4: proof must not be empty", "dv.jsonl:5: score must be 0, 0.5 or 1 (got 0.7)"],
            e.Errors.Take(2).Select(x => x.ToString()));
        Assert.Equal(6, e.Errors[2].Line);
        Assert.Contains("dv.jsonl:4", e.Message);
    }

    [Fact]
    public void A_field_the_row_does_not_have_is_an_error_naming_the_nearest_known_one()
    {
        const string problems = """
            {"id":"p1","problem":"Prove 1+1=2.","difficulty":1}
            {"id":"p2","problem":"Prove 2+2=4.","difficulity":2}
            """;
        var e = Assert.Throws<DatasetException>(() => Jsonl.Read<ProblemRow>(problems, "problems.jsonl"));
        Assert.Equal("problems.jsonl:2: difficulity is not a field of a problems row; did you mean 'difficulty'? (known here: id, problem, difficulty)",
            Assert.Single(e.Errors).ToString());
        // What the product writes reads back whole, for every kind.
        var demo = new DemoDatasetOptions { ProblemsPerDifficulty = 2 };
        Assert.Equal(4, Jsonl.Read<ProblemRow>(Jsonl.Write(DemoDatasets.ProblemRows(demo)), "p").Rows.Count);
        Assert.NotEmpty(Jsonl.Read<GradedAnalysisRow>(Jsonl.Write(DemoDatasets.GradedAnalyses(demo)), "a").Rows);
        Assert.NotEmpty(Jsonl.Read<DemonstrationRow>(Jsonl.Write(DemoDatasets.Demonstrations(demo)), "d").Rows);
    }

    [Fact]
    public void Skipping_keeps_bad_rows_aside_and_counts_them()
    {
        var r = Jsonl.Read<GradedProofRow>(Dv, "dv.jsonl", skipInvalid: true);
        Assert.Equal(2, r.Rows.Count);
        Assert.Equal(0.5, r.Rows[1].Score);
        Assert.Equal(3, r.RejectedLines.Count);
        Assert.Equal("not json", r.RejectedLines[^1]);
        var again = Jsonl.Read<GradedProofRow>(Jsonl.Write(r.Rows), "out.jsonl");
        Assert.Equal(r.Rows, again.Rows);
    }

    [Fact]
    public void Foreign_layouts_import_by_field_mapping()
    {
        string array = """[{"meta":{"q":"Prove A."},"answer":"A holds.","grade":"\\frac{1}{2}"},{"meta":{"q":"Prove B."},"answer":"B.","grade":1}]""";
        var (jsonl, kind, result) = DatasetImporter.Import(array, "x.json", new FieldMapping { ProblemField = "meta.q", ProofField = "answer", ScoreField = "grade" });
        Assert.Equal(DatasetKind.GradedProofs, kind);
        var rows = Jsonl.Read<GradedProofRow>(jsonl, "imported").Rows;
        Assert.Equal([0.5, 1.0], rows.Select(r => r.Score));
        Assert.Equal(DatasetImporter.IdOf("Prove A."), rows[0].ProblemId);
        Assert.Empty(result.Errors);

        var e = Assert.Throws<DatasetException>(() => DatasetImporter.Import("{\"q\":\"P\"}\n{\"other\":1}\n", "p.jsonl", new FieldMapping { ProblemField = "q" }));
        Assert.Equal("p.jsonl:2: q was not found in the row", Assert.Single(e.Errors).ToString());
        var bad = Assert.Throws<DatasetException>(() => DatasetImporter.Import("{\"q\":\"P\",\"s\":3,\"a\":\"x\"}", "g.jsonl", new FieldMapping { ProblemField = "q", ProofField = "a", ScoreField = "s" }));
        Assert.Equal("s", Assert.Single(bad.Errors).Field);
    }

    [Fact]
    public void Splits_are_deterministic_by_problem_and_near_the_requested_share()
    {
        var problems = Enumerable.Range(0, 2000).Select(i => $"Prove claim number {i}.").ToList();
        var validation = problems.Where(p => Splits.IsValidation(p, 0.2)).ToList();
        Assert.InRange(validation.Count, 330, 470);
        Assert.All(validation, p => Assert.True(Splits.IsValidation("  " + p.ToUpperInvariant() + " ", 0.2)));
    }

    [Fact]
    public void Demo_datasets_are_deterministic_and_graded_by_the_oracle()
    {
        var o = new DemoDatasetOptions { ProblemsPerDifficulty = 5 };
        Assert.Equal(Jsonl.Write(DemoDatasets.GradedProofs(o)), Jsonl.Write(DemoDatasets.GradedProofs(o)));
        var dv = DemoDatasets.GradedProofs(o).ToList();
        Assert.Equal(new[] { 0.0, 0.5, 1.0 }, dv.Select(r => r.Score).Distinct().OrderBy(x => x));
        var dmv = DemoDatasets.GradedAnalyses(o).ToList();
        Assert.Contains(dmv, r => r.Score == 1);
        Assert.Contains(dmv, r => r.Score < 1);
        Assert.NotNull(Jsonl.Read<GradedAnalysisRow>(Jsonl.Write(dmv), "dmv.jsonl"));
    }

    [Fact]
    public void Demonstrations_are_written_for_problems_apart_from_D_p()
    {
        var o = new DemoDatasetOptions { ProblemsPerDifficulty = 10, MaxDifficulty = 2 };
        var dp = DemoDatasets.Problems(o);
        var demo = DemoDatasets.DemonstrationProblems(o);
        Assert.Equal(dp.Count, demo.Count);
        Assert.Equal(6, DemoDatasets.DemonstrationProblems(o with { DemonstrationProblemsPerDifficulty = 3 }).Count);
        Assert.Empty(demo.Select(p => p.Id).Intersect(dp.Select(p => p.Id)));
        // Level 2 has thousands of claims: two draws of ten share hardly any.
        Assert.True(demo.Where(p => p.Difficulty == 2).Select(p => p.Statement).Intersect(dp.Select(p => p.Statement)).Count() <= 1);
        var prompts = DemoDatasets.Demonstrations(o).Where(d => d.Kind != "arithmetic").Select(d => d.Prompt).ToList();
        Assert.All(demo, p => Assert.Contains(prompts, x => x.Contains(p.Statement, StringComparison.Ordinal)));
        Assert.DoesNotContain(prompts, x => dp.Where(p => p.Difficulty == 2 && !demo.Any(q => q.Statement == p.Statement)).Any(p => x.Contains(p.Statement, StringComparison.Ordinal)));
    }

    [Fact]
    public void Verification_demonstrations_have_a_false_step_at_every_step()
    {
        var o = new DemoDatasetOptions { ProblemsPerDifficulty = 5, MaxDifficulty = 3 };
        var verifications = DemoDatasets.Demonstrations(o).Where(d => d.Kind == "verification").ToList();
        foreach (var p in DemoDatasets.DemonstrationProblems(o))
        {
            int steps = ArithmeticDomain.ReferenceSteps(p.Expression).Count;
            var falseAt = Enumerable.Range(0, steps).Select(at => ArithmeticDomain.WriteProof(p, ProofDefect.FalseStep, o.Seed, at)).ToList();
            Assert.Equal(steps, falseAt.Distinct().Count());
            Assert.Contains(ArithmeticDomain.WriteProof(p, ProofDefect.FalseStep, o.Seed), falseAt);
            foreach (var (proof, at) in falseAt.Select((x, i) => (x, i)))
            {
                Assert.Equal([new Defect(at + 1, ProofDefect.FalseStep)], Oracle.AnalysisDefects(p, proof));
                var rows = verifications.Where(v => v.Prompt.Contains($"{p.Statement}\n", StringComparison.Ordinal) && v.Prompt.Contains(proof, StringComparison.Ordinal)).ToList();
                Assert.NotEmpty(rows);
                Assert.All(rows, r => Assert.Contains($"Step {at + 1} is false.", r.Completion));
            }
        }
        // And per problem one false step whose claim is far from the right value (another operator's, zero, a number).
        foreach (var p in DemoDatasets.DemonstrationProblems(o))
        {
            var far = verifications.Where(v => v.Prompt.Contains($"{p.Statement}\n", StringComparison.Ordinal)).Select(v => Oracle.AnalysisDefects(p, ProofOf(v.Prompt)))
                .Where(v => v.Count == 1 && v[0].Kind == ProofDefect.FalseStep).ToList();
            Assert.Equal(ArithmeticDomain.ReferenceSteps(p.Expression).Count + 1 + (DemoDatasets.UnjustifiedFalseStep(p, ArithmeticDomain.WriteProof(p, ProofDefect.OmittedJustification, o.Seed)) != null ? 1 : 0), far.Count);
        }
        var farClaims = verifications.SelectMany(v => Oracle.Computations(ProofOf(v.Prompt))).Where(c => Math.Abs(long.Parse(c.Claimed) - ArithmeticDomain.Evaluate(c.Computation)) > 2).ToList();
        Assert.Equal(DemoDatasets.DemonstrationProblems(o).Count, farClaims.Count);
        Assert.Contains(farClaims, c => ArithmeticDomain.OneOperation(c.Computation) is var (a, op, b) && op != '-' && long.Parse(c.Claimed) == a - b);
        // And per problem (where it concludes another value) one miscopied step: every computation right, the
        // conclusion wrong, and the analysis says the proof does not reach the claim.
        var miscopied = verifications.Where(v => v.Completion.Contains("The proof does not reach the claimed value.", StringComparison.Ordinal)
            && Oracle.Checks(ProofOf(v.Prompt)).All(c => ArithmeticDomain.Evaluate(c.Computation).ToString() == c.Claimed) && ProofOf(v.Prompt).Split('\n')[^1] is var last
            && long.TryParse(last[(last.LastIndexOf(" = ", StringComparison.Ordinal) + 3)..^1], out _)).ToList();
        Assert.InRange(miscopied.Count, DemoDatasets.DemonstrationProblems(o).Count * 0.8, DemoDatasets.DemonstrationProblems(o).Count);
        Assert.All(miscopied, v => Assert.Matches(@"\nConclusion: -?\d+; the proof says -?\d+; -?\d+ - -?\d+ = -?\d+, wrong\.\nThe proof does not reach the claimed value\.\n", v.Completion));
        // The other defect kinds once per problem, the false step at every step and once far: per problem 4 + its step
        // count, and where the omitted justification is the last step's, that step also false.
        Assert.Equal(DemoDatasets.DemonstrationProblems(o).Sum(p => 4 + ArithmeticDomain.ReferenceSteps(p.Expression).Count
            + (DemoDatasets.UnjustifiedFalseStep(p, ArithmeticDomain.WriteProof(p, ProofDefect.OmittedJustification, o.Seed)) != null ? 1 : 0)) + miscopied.Count, verifications.Count);
    }

    /// <summary>The proof in a verification prompt: its lines from the first step to "Therefore …".</summary>
    static string ProofOf(string verificationPrompt)
    {
        var lines = verificationPrompt.Split('\n').SkipWhile(l => !l.StartsWith("Step ", StringComparison.Ordinal) && !l.StartsWith("Therefore ", StringComparison.Ordinal)).ToList();
        return string.Join("\n", lines.Take(lines.FindIndex(l => l.StartsWith("Therefore ", StringComparison.Ordinal)) + 1));
    }

    [Fact]
    public void Arithmetic_facts_are_true_distinct_and_drawn_apart_from_the_problems()
    {
        var o = new DemoDatasetOptions { ProblemsPerDifficulty = 3, FactProblemsPerDifficulty = 200 };
        var facts = DemoDatasets.ArithmeticFacts(o);
        Assert.True(facts.Count > 100, $"{facts.Count} facts");
        Assert.Equal(facts.Count, facts.Distinct().Count());
        foreach (string f in facts)
        {
            var (lhs, rhs) = (f[..f.IndexOf(" = ", StringComparison.Ordinal)], f[(f.IndexOf(" = ", StringComparison.Ordinal) + 3)..]);
            Assert.Equal(ArithmeticDomain.Evaluate(lhs), long.Parse(rhs, System.Globalization.CultureInfo.InvariantCulture));
        }
        Assert.Equal(facts, DemoDatasets.ArithmeticFacts(o));   // deterministic
        var rows = DemoDatasets.Demonstrations(o).Where(d => d.Kind == "arithmetic").ToList();
        Assert.Equal((facts.Count + DemoDatasets.FactsPerRow - 1) / DemoDatasets.FactsPerRow, rows.Count);
        Assert.Equal(facts.Select(f => $"Fact: {f}."), rows.SelectMany(r => r.Completion.Split('\n')));
        // The facts are knowledge, not D_p: the same with another number of D_p problems, none without facts.
        Assert.Equal(facts, DemoDatasets.ArithmeticFacts(o with { ProblemsPerDifficulty = 7 }));
        Assert.DoesNotContain(DemoDatasets.Demonstrations(o with { FactProblemsPerDifficulty = 0 }), d => d.Kind == "arithmetic");
    }

    [Fact]
    public void Fact_checks_judge_each_claim_as_an_analysis_would_and_half_of_them_are_wrong()
    {
        var o = new DemoDatasetOptions { ProblemsPerDifficulty = 3, FactProblemsPerDifficulty = 200, FactChecks = 2 };
        var facts = DemoDatasets.ArithmeticFacts(o);
        var lines = DemoDatasets.FactCheckLines(o).ToList();
        Assert.Equal(2 * facts.Count, lines.Count);
        var check = new System.Text.RegularExpressions.Regex(@"^Step [12]: (.+) = (-?\d+); the proof says (-?\d+); (-?\d+) - (-?\d+) = (-?\d+), (right|wrong)\.$");
        int wrong = 0;
        foreach (string line in lines)
        {
            var m = check.Match(line);
            Assert.True(m.Success, line);
            Assert.Contains($"{m.Groups[1].Value} = {m.Groups[2].Value}", facts);
            bool same = m.Groups[2].Value == m.Groups[3].Value;
            Assert.Equal((m.Groups[3].Value, m.Groups[2].Value), (m.Groups[4].Value, m.Groups[5].Value));
            Assert.Equal(long.Parse(m.Groups[3].Value) - long.Parse(m.Groups[2].Value), long.Parse(m.Groups[6].Value));
            Assert.Equal(same ? "right" : "wrong", m.Groups[7].Value);
            if (!same) wrong++;
        }
        Assert.InRange(wrong, lines.Count * 0.4, lines.Count * 0.6);
        // Half of the wrong claims are one or two off, as the domain's false steps; some are another operator's value.
        var offs = lines.Select(l => check.Match(l)).Where(m => m.Groups[7].Value == "wrong").Select(m => Math.Abs(long.Parse(m.Groups[6].Value))).ToList();
        Assert.InRange(offs.Count(d => d <= 2), wrong * 0.4, wrong * 0.6);
        int otherOperator = lines.Select(l => check.Match(l)).Count(m => m.Groups[7].Value == "wrong" && ArithmeticDomain.OneOperation(m.Groups[1].Value) is var (a, op, b)
            && Math.Abs(long.Parse(m.Groups[6].Value)) > 2 && new[] { a + b, a - b, a * b }.Contains(long.Parse(m.Groups[3].Value)));
        Assert.InRange(otherOperator, wrong * 0.05, wrong * 0.25);
        // Each fact is checked FactChecks times; the lines are what the verifier writes for a proof's step.
        Assert.All(facts, f => Assert.Equal(2, lines.Count(l => l.Contains($": {f};", StringComparison.Ordinal))));
        var p = ArithmeticDomain.Problem(1, 0, 2);
        string falseProof = ArithmeticDomain.WriteProof(p, ProofDefect.FalseStep, 1);
        var (step, computation, claimed) = Oracle.Computations(falseProof).First(c => ArithmeticDomain.Evaluate(c.Computation).ToString() != c.Claimed);
        Assert.Contains(Oracle.CheckLine(step, computation, ArithmeticDomain.Evaluate(computation), claimed) + "\n", Oracle.WriteAnalysis(Oracle.ScoreProof(p, falseProof).Defects, proof: falseProof));
        var rows = DemoDatasets.Demonstrations(o).Where(d => d.Prompt == "Arithmetic checks:\n").ToList();
        Assert.Equal(lines, rows.SelectMany(r => r.Completion.Split('\n')));
        Assert.All(rows, r => Assert.Equal("arithmetic", r.Kind));
        Assert.DoesNotContain(DemoDatasets.Demonstrations(o with { FactChecks = 0 }), d => d.Prompt == "Arithmetic checks:\n");
    }

    [Fact]
    public void Refinement_demonstrations_end_with_the_problem_and_some_candidates_miscopied_it()
    {
        var o = new DemoDatasetOptions { ProblemsPerDifficulty = 20, Prompts = "compact" };
        var problems = DemoDatasets.DemonstrationProblems(o).GroupBy(p => p.Statement).ToDictionary(g => g.Key, g => g.First());
        var rows = DemoDatasets.Demonstrations(o).Where(d => d.Kind == "refinement").ToList();
        Assert.NotEmpty(rows);
        int miscopied = 0;
        foreach (var r in rows)
        {
            var m = Regex.Match(r.Prompt, @"\nProblem: (.+)\nImprove the proof, then evaluate it\.\n$");
            Assert.True(m.Success, r.Prompt);
            var p = problems[m.Groups[1].Value];
            // The answer is the problem's own proof, whatever the candidate started from.
            Assert.StartsWith($"## Solution\n{ArithmeticDomain.WriteProof(p)}\n", r.Completion);
            var first = Regex.Match(r.Prompt, @"^## Candidate 1 \(score 0\)\nStep 1: .+?, so (.+?) = ");
            if (first.Success && ArithmeticDomain.Normalize(first.Groups[1].Value) != ArithmeticDomain.Normalize(p.Expression)) miscopied++;
        }
        // Half of the false-step candidates (one of three refinement rows per problem) miscopied the expression.
        Assert.InRange(miscopied, rows.Count / 12, rows.Count / 4);
    }

    [Fact]
    public void Demonstrations_are_in_the_formats_the_parsers_accept()
    {
        var demos = DemoDatasets.Demonstrations(new DemoDatasetOptions { ProblemsPerDifficulty = 3 }).ToList();
        Assert.Equal(["generation", "meta-verification", "refinement", "verification"], demos.Select(d => d.Kind).Distinct().Order());
        foreach (var d in demos)
        {
            bool ok = d.Kind switch
            {
                "generation" or "refinement" => Parsers.Generation(d.Completion).FormatOk,
                "verification" => Parsers.Verification(d.Completion).FormatOk,
                _ => Parsers.MetaVerification(d.Completion).FormatOk,
            };
            Assert.True(ok, $"{d.Kind} demonstration does not parse:\n{d.Completion}");
        }
    }
}
