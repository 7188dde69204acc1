using MathV2.Core.Datasets;
using MathV2.Core.Method;

namespace MathV2.Core.Demo;

/// <summary>Sizes of the demo domain's datasets.</summary>
public sealed record DemoDatasetOptions
{
    public int Seed { get; init; } = 1;
    /// <summary>Problems per difficulty level (levels 1..MaxDifficulty).</summary>
    public int ProblemsPerDifficulty { get; init; } = 50;
    public int MaxDifficulty { get; init; } = 2;
    public double ValidationShare { get; init; } = 0.1;
    /// <summary>The prompt set of the demonstrations: "standard" or "compact" (for tiny models on a CPU).</summary>
    public string Prompts { get; init; } = "standard";
    /// <summary>
    /// Problems per difficulty whose reference steps make up the arithmetic-facts demonstrations (0: none): the
    /// stand-in for what a pretrained base model knows. Drawn from their own seed stream, not from D_p.
    /// </summary>
    public int FactProblemsPerDifficulty { get; init; }
    /// <summary>How many times each fact is shown (each time in another seeded order and row).</summary>
    public int FactRepeats { get; init; } = 1;
    /// <summary>
    /// Share of problems that also get a flawed generation demonstration (a proof with one defect and an honest
    /// self-evaluation naming it): the base model then sometimes errs and says so, as real base models do, which is
    /// what refinement and the generator's reward have to work with.
    /// </summary>
    public double FlawedProofShare { get; init; } = 0.25;
}

/// <summary>The demo datasets (D_p, D_v, D_mv) and the bootstrap SFT demonstrations, all from a seed.</summary>
public static class DemoDatasets
{
    static readonly ProofDefect[] Defects = [ProofDefect.None, ProofDefect.FalseStep, ProofDefect.OmittedJustification, ProofDefect.NotReachingClaim];

    public static IReadOnlyList<ArithmeticProblem> Problems(DemoDatasetOptions o) =>
        (from d in Enumerable.Range(1, o.MaxDifficulty) from i in Enumerable.Range(0, o.ProblemsPerDifficulty) select ArithmeticDomain.Problem(o.Seed, i, d)).ToList();

    public static IEnumerable<ProblemRow> ProblemRows(DemoDatasetOptions o) =>
        Problems(o).Select(p => new ProblemRow { Id = p.Id, Problem = p.Statement, Difficulty = p.Difficulty });

    /// <summary>
    /// Held-out problems for the lap report: the next indices after D_p's at every difficulty, leaving out any whose
    /// statement is also in D_p, so no held-out problem was trained on.
    /// </summary>
    public static IReadOnlyList<ArithmeticProblem> HeldOutProblems(DemoDatasetOptions o, int perDifficulty)
    {
        var seen = Problems(o).Select(p => p.Statement).ToHashSet();
        return (from d in Enumerable.Range(1, o.MaxDifficulty)
                from i in Enumerable.Range(o.ProblemsPerDifficulty, perDifficulty)
                select ArithmeticDomain.Problem(o.Seed, i, d)).Where(p => !seen.Contains(p.Statement)).ToList();
    }

    /// <summary>Graded proofs of the held-out problems: one per defect kind, scored by the oracle.</summary>
    public static IEnumerable<GradedProofRow> HeldOutGradedProofs(DemoDatasetOptions o, int perDifficulty) => GradedProofs(HeldOutProblems(o, perDifficulty), o.Seed);

    /// <summary>D_v: each problem with one proof per defect kind, scored by the oracle.</summary>
    public static IEnumerable<GradedProofRow> GradedProofs(DemoDatasetOptions o) => GradedProofs(Problems(o), o.Seed);

    static IEnumerable<GradedProofRow> GradedProofs(IEnumerable<ArithmeticProblem> problems, int seed) =>
        from p in problems
        from d in Defects
        let proof = ArithmeticDomain.WriteProof(p, d, seed)
        select new GradedProofRow { ProblemId = p.Id, Problem = p.Statement, Proof = proof, Score = Oracle.ScoreProof(p, proof).Score };

    /// <summary>D_mv: for each graded proof, a faithful analysis and a corrupted one (a bogus defect or a wrong score), rated by the oracle.</summary>
    public static IEnumerable<GradedAnalysisRow> GradedAnalyses(DemoDatasetOptions o)
    {
        foreach (var p in Problems(o))
            foreach (var d in Defects)
            {
                string proof = ArithmeticDomain.WriteProof(p, d, o.Seed);
                var actual = Oracle.ScoreProof(p, proof).Defects;
                string faithful = Oracle.WriteAnalysis(actual, proof: proof);
                string corrupted = p.Id.Sum(c => c) % 2 == 0
                    ? Oracle.WriteAnalysis([.. actual, new Defect(1, ProofDefect.OmittedJustification)], proof: proof)
                    : Oracle.WriteAnalysis(actual, score: Oracle.ScoreFor(actual) == 1 ? 0 : 1, proof: proof);
                foreach (string analysis in new[] { faithful, corrupted })
                    yield return new GradedAnalysisRow
                    {
                        ProblemId = p.Id, Problem = p.Statement, Proof = proof, Analysis = analysis,
                        Score = Oracle.JudgeAnalysis(p, proof, analysis),
                    };
            }
    }

    /// <summary>Facts per arithmetic-facts demonstration.</summary>
    public const int FactsPerRow = 20;

    /// <summary>
    /// The distinct one-operation facts ("6 * 7 = 42") of the reference proofs of FactProblemsPerDifficulty problems
    /// per difficulty, drawn from a seed stream of their own, in a seeded order.
    /// </summary>
    public static IReadOnlyList<string> ArithmeticFacts(DemoDatasetOptions o)
    {
        if (o.FactProblemsPerDifficulty <= 0) return [];
        int seed = StableHash.Seed("facts", o.Seed);
        var facts = (from d in Enumerable.Range(1, o.MaxDifficulty)
                     from i in Enumerable.Range(0, o.FactProblemsPerDifficulty)
                     from step in ArithmeticDomain.ReferenceSteps(ArithmeticDomain.Problem(seed, i, d).Expression)
                     select step.Justification).Distinct().Order(StringComparer.Ordinal).ToList();
        var rng = new Random(seed);
        return facts.OrderBy(_ => rng.Next()).ToList();
    }

    /// <summary>
    /// Bootstrap SFT demonstrations in the method's prompt formats: proofs with honest self-evaluations,
    /// verifications, meta-verifications and refinements (defective candidate → correct proof); then the
    /// arithmetic facts, <see cref="FactsPerRow"/> to a row, as lines "Fact: a op b = c." (kind "arithmetic").
    /// </summary>
    public static IEnumerable<DemonstrationRow> Demonstrations(DemoDatasetOptions o)
    {
        foreach (var row in ProofDemonstrations(o)) yield return row;
        var facts = ArithmeticFacts(o);
        var rng = new Random(StableHash.Seed("fact-rows", o.Seed));
        for (int r = 0; r < o.FactRepeats; r++)
            foreach (var chunk in (r == 0 ? facts : facts.OrderBy(_ => rng.Next()).ToList()).Chunk(FactsPerRow))
                yield return new DemonstrationRow { Kind = "arithmetic", Prompt = "Arithmetic facts:\n", Completion = string.Join("\n", chunk.Select(f => $"Fact: {f}.")) };
    }

    static IEnumerable<DemonstrationRow> ProofDemonstrations(DemoDatasetOptions o)
    {
        var set = Method.Prompts.Set(o.Prompts);
        foreach (var p in Problems(o))
        {
            string correct = ArithmeticDomain.WriteProof(p);
            yield return new DemonstrationRow
            {
                Kind = "generation",
                Prompt = Method.Prompts.RenderGeneration(p.Statement, set.Generation),
                Completion = $"## Solution\n{correct}\n\n## Self Evaluation\n{Oracle.WriteAnalysis([], proof: correct)}",
            };
            var pick = new Random(StableHash.Seed("flawed", o.Seed, p.Id));
            if (pick.NextDouble() < o.FlawedProofShare)
            {
                string flawed = ArithmeticDomain.WriteProof(p, Defects[1 + pick.Next(Defects.Length - 1)], o.Seed);
                yield return new DemonstrationRow
                {
                    Kind = "generation",
                    Prompt = Method.Prompts.RenderGeneration(p.Statement, set.Generation),
                    Completion = $"## Solution\n{flawed}\n\n## Self Evaluation\n{Oracle.WriteAnalysis(Oracle.ScoreProof(p, flawed).Defects, proof: flawed)}",
                };
            }
            foreach (var d in Defects)
            {
                string proof = ArithmeticDomain.WriteProof(p, d, o.Seed);
                var verdict = Oracle.ScoreProof(p, proof);
                string analysis = Oracle.WriteAnalysis(verdict.Defects, proof: proof);
                yield return new DemonstrationRow { Kind = "verification", Prompt = Method.Prompts.RenderVerification(p.Statement, proof, set.Verification), Completion = analysis };
                yield return new DemonstrationRow
                {
                    Kind = "meta-verification",
                    Prompt = Method.Prompts.RenderMetaVerification(p.Statement, proof, analysis, set.MetaVerification),
                    Completion = Oracle.WriteMetaVerification(p, proof, analysis),
                };
                if (d != ProofDefect.None)
                    yield return new DemonstrationRow
                    {
                        Kind = "refinement",
                        Prompt = Method.Prompts.RenderRefinement(p.Statement, [(proof, analysis, verdict.Score)], set.Refinement),
                        Completion = $"## Solution\n{correct}\n\n## Self Evaluation\n{Oracle.WriteAnalysis([], proof: correct)}",
                    };
            }
        }
    }
}
