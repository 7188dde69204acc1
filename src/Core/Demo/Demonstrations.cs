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
    /// <summary>The prompt set of the demonstrations: "standard", "compact" (for tiny models on a CPU), or a set of one's own.</summary>
    public PromptSet Prompts { get; init; } = Method.Prompts.Standard;
    /// <summary>
    /// Problems per difficulty whose reference steps make up the arithmetic-facts demonstrations (0: none): the
    /// stand-in for what a pretrained base model knows. Drawn from their own seed stream, not from D_p.
    /// </summary>
    public int FactProblemsPerDifficulty { get; init; }
    /// <summary>How many times each fact is shown (each time in another seeded order and row).</summary>
    public int FactRepeats { get; init; } = 1;
    /// <summary>
    /// How many times each arithmetic fact is also shown as a step check in the analyses' format ("Step 2: 3 + 2 = 5;
    /// the proof says 6, wrong."), half of them with a wrong claim: checks in verifications are mostly "right" (a
    /// proof has at most one false step), and these teach the comparison itself. 0: none.
    /// </summary>
    public int FactChecks { get; init; }
    /// <summary>
    /// Share of problems that also get a flawed generation demonstration (a proof with one defect and an honest
    /// self-evaluation naming it): the base model then sometimes errs and says so, as real base models do, which is
    /// what refinement and the generator's reward have to work with.
    /// </summary>
    public double FlawedProofShare { get; init; } = 0.25;
    /// <summary>
    /// Problems per difficulty that the bootstrap's proof, verification, meta-verification and refinement
    /// demonstrations are written for, drawn from a seed stream of their own (null: as many as D_p has). Apart from
    /// D_p, as the paper's base model never saw D_p graded: RL on D_p and D_v then has to generalise, not recall.
    /// </summary>
    public int? DemonstrationProblemsPerDifficulty { get; init; }
}

/// <summary>The demo datasets (D_p, D_v, D_mv) and the bootstrap SFT demonstrations, all from a seed.</summary>
public static class DemoDatasets
{
    static readonly ProofDefect[] Defects = [ProofDefect.None, ProofDefect.FalseStep, ProofDefect.OmittedJustification, ProofDefect.NotReachingClaim];

    public static IReadOnlyList<ArithmeticProblem> Problems(DemoDatasetOptions o) =>
        (from d in Enumerable.Range(1, o.MaxDifficulty) from i in Enumerable.Range(0, o.ProblemsPerDifficulty) select ArithmeticDomain.Problem(o.Seed, i, d)).ToList();

    public static IEnumerable<ProblemRow> ProblemRows(DemoDatasetOptions o) =>
        Problems(o).Select(p => new ProblemRow { Id = p.Id, Problem = p.Statement, Difficulty = p.Difficulty });

    /// <summary>The problems the bootstrap's demonstrations are written for: their own seed stream, apart from D_p.</summary>
    public static IReadOnlyList<ArithmeticProblem> DemonstrationProblems(DemoDatasetOptions o)
    {
        int seed = StableHash.Seed("demonstrations", o.Seed);
        return (from d in Enumerable.Range(1, o.MaxDifficulty)
                from i in Enumerable.Range(0, o.DemonstrationProblemsPerDifficulty ?? o.ProblemsPerDifficulty)
                select ArithmeticDomain.Problem(seed, i, d)).ToList();
    }

    /// <summary>
    /// Held-out problems for the lap report: up to perDifficulty at every difficulty, from the indices after D_p's,
    /// each statement once and none that is also in D_p or among the demonstrations' problems, so no held-out
    /// problem was trained on (level 1 has only 75 distinct claims, so it may have fewer).
    /// </summary>
    public static IReadOnlyList<ArithmeticProblem> HeldOutProblems(DemoDatasetOptions o, int perDifficulty)
    {
        var seen = Problems(o).Concat(DemonstrationProblems(o)).Select(p => p.Statement).ToHashSet();
        return (from d in Enumerable.Range(1, o.MaxDifficulty)
                from p in Enumerable.Range(o.ProblemsPerDifficulty, 8 * perDifficulty).Select(i => ArithmeticDomain.Problem(o.Seed, i, d))
                    .Where(p => seen.Add(p.Statement)).Take(perDifficulty)
                select p).ToList();
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
    public static IEnumerable<GradedAnalysisRow> GradedAnalyses(DemoDatasetOptions o) => GradedAnalyses(Problems(o), o.Seed);

    /// <summary>Graded analyses of the held-out problems' graded proofs: what the report measures meta-verifiers on.</summary>
    public static IEnumerable<GradedAnalysisRow> HeldOutGradedAnalyses(DemoDatasetOptions o, int perDifficulty) => GradedAnalyses(HeldOutProblems(o, perDifficulty), o.Seed);

    static IEnumerable<GradedAnalysisRow> GradedAnalyses(IEnumerable<ArithmeticProblem> problems, int seed)
    {
        foreach (var p in problems)
            foreach (var d in Defects)
            {
                string proof = ArithmeticDomain.WriteProof(p, d, seed);
                var actual = Oracle.AnalysisDefects(p, proof);
                string faithful = Oracle.WriteAnalysis(actual, proof: proof, claim: p.Value);
                foreach (string analysis in new[] { faithful, CorruptedAnalysis(p, proof, actual, (int)d) })
                    yield return new GradedAnalysisRow
                    {
                        ProblemId = p.Id, Problem = p.Statement, Proof = proof, Analysis = analysis,
                        Score = Oracle.JudgeAnalysis(p, proof, analysis),
                    };
            }
    }

    /// <summary>
    /// An unfaithful analysis of a proof, one of four slips by problem and proof: a bogus omitted justification (at a
    /// right step, or naming a miscomputed false step an omission, as RL'd verifiers drifted to), a score that does
    /// not follow, a step miscomputed, or a step's claim misread (a right step called false either way, and the score
    /// from that).
    /// </summary>
    public static string CorruptedAnalysis(ArithmeticProblem p, string proof, IReadOnlyList<Defect> actual, int variant = 0)
    {
        int kind = (p.Id.Sum(c => c) + variant) % 4;
        // Steps the proof got right (a computation, true, no defect): where a slip can claim a defect that is not there.
        var right = Oracle.Computations(proof).Where(c => Oracle.ComputesRight(c.Computation, c.Claimed))
            .Select(c => c.Step).Where(step => !actual.Any(a => a.Step == step)).ToList();
        // A false step whose computation is shown wrong: a slip can name it an omission (the score still 0).
        var miscomputed = Oracle.Computations(proof).Where(c => !Oracle.ComputesRight(c.Computation, c.Claimed))
            .Select(c => c.Step).FirstOrDefault(step => actual.Contains(new Defect(step, ProofDefect.FalseStep)));
        if (kind == 0 && miscomputed > 0)
            return Oracle.WriteAnalysis([.. actual.Where(a => a.Step != miscomputed), new Defect(miscomputed, ProofDefect.OmittedJustification)],
                score: Oracle.ScoreFor(actual), proof: proof, claim: p.Value);
        if (right.Count == 0) kind = 1;
        int at = right.Count == 0 ? 0 : right[(p.Id.Length + variant) % right.Count];
        return kind switch
        {
            0 => Oracle.WriteAnalysis([.. actual, new Defect(at, ProofDefect.OmittedJustification)], proof: proof, claim: p.Value),
            // Miscompute a right step: its check reads "wrong", and the analysis calls it false.
            2 => Oracle.WriteAnalysis([.. actual, new Defect(at, ProofDefect.FalseStep)], proof: proof, miscomputedStep: at, claim: p.Value),
            // Misread a right step's claim: its check quotes another value, and the analysis calls it false.
            3 => Oracle.WriteAnalysis([.. actual, new Defect(at, ProofDefect.FalseStep)], proof: proof, misreadStep: at, claim: p.Value),
            _ => Oracle.WriteAnalysis(actual, score: Oracle.ScoreFor(actual) == 1 ? 0 : 1, proof: proof, claim: p.Value),
        };
    }

    /// <summary>
    /// A proof whose unjustified last step is also false ("Step 1: 5 + 5 = 11." then "Therefore 5 + 5 = 11.": a seeded
    /// wrong value, <see cref="ArithmeticDomain.WrongValue"/>), from a
    /// proof that omits the last step's justification; null when the omitted step is another one. The analysis
    /// checks such a step too, so the verifier learns that leaving out a justification hides nothing.
    /// </summary>
    public static string? UnjustifiedFalseStep(ArithmeticProblem p, string omittedProof)
    {
        var lines = omittedProof.Split('\n').ToList();
        string v = p.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        int last = lines.FindLastIndex(l => l.StartsWith("Step ", StringComparison.Ordinal));
        if (last < 0 || lines[last].Contains(", so ", StringComparison.Ordinal) || !lines[last].EndsWith($" = {v}.", StringComparison.Ordinal)
            || lines[^1] != $"Therefore {p.Expression} = {v}.") return null;
        string wrong = ArithmeticDomain.WrongValue(p.Value, p.Id, last).ToString(System.Globalization.CultureInfo.InvariantCulture);
        lines[last] = lines[last][..^(v.Length + 1)] + wrong + ".";
        lines[^1] = $"Therefore {p.Expression} = {wrong}.";
        string proof = string.Join("\n", lines);
        return Oracle.ScoreProof(p, proof).Defects.Any(d => d.Kind == ProofDefect.FalseStep) && Oracle.Checks(proof).Any() ? proof : null;
    }

    /// <summary>Facts per arithmetic-facts demonstration.</summary>
    public const int FactsPerRow = 20;
    /// <summary>Step checks per arithmetic-checks demonstration (a check is about three facts long).</summary>
    public const int ChecksPerRow = 8;

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
    /// Step checks of the arithmetic facts in the analyses' format, <see cref="DemoDatasetOptions.FactChecks"/> per fact
    /// in a seeded order: the claim is the fact's value or, half the time, a wrong one: one or two more or less, as the
    /// domain's false steps have it (half of the wrong ones), three to five off, or a far one
    /// (<see cref="ArithmeticDomain.FarWrongValue"/>: another operator's value, zero, one of the numbers).
    /// </summary>
    public static IEnumerable<string> FactCheckLines(DemoDatasetOptions o)
    {
        var facts = ArithmeticFacts(o);
        var rng = new Random(StableHash.Seed("fact-checks", o.Seed));
        for (int r = 0; r < o.FactChecks; r++)
            foreach (string fact in facts.OrderBy(_ => rng.Next()).ToList())
            {
                int eq = fact.LastIndexOf(" = ", StringComparison.Ordinal);
                string computation = fact[..eq];
                long value = long.Parse(fact[(eq + 3)..], System.Globalization.CultureInfo.InvariantCulture);
                var (a, op, b) = ArithmeticDomain.OneOperation(computation) ?? throw new InvalidOperationException($"fact '{fact}' is not one operation");
                long claimed = rng.Next(2) == 0 ? value : rng.Next(4) switch
                {
                    0 => value + (rng.Next(2) == 0 ? 1 : -1),
                    1 => value + (rng.Next(2) == 0 ? 2 : -2),
                    2 => value + rng.Next(3, 6) * (rng.Next(2) == 0 ? 1 : -1),
                    _ => ArithmeticDomain.FarWrongValue(a, op, b, fact, rng.Next()),
                };
                yield return Oracle.CheckLine(1 + rng.Next(Math.Max(2, o.MaxDifficulty)), computation, value, claimed.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
    }

    /// <summary>
    /// Bootstrap SFT demonstrations in the method's prompt formats: proofs with honest self-evaluations,
    /// verifications, meta-verifications and refinements (defective candidate → correct proof); then the
    /// arithmetic facts, <see cref="FactsPerRow"/> to a row, as lines "Fact: a op b = c." (kind "arithmetic"), and
    /// their step checks, <see cref="ChecksPerRow"/> to a row ("Arithmetic checks:", also kind "arithmetic").
    /// </summary>
    public static IEnumerable<DemonstrationRow> Demonstrations(DemoDatasetOptions o)
    {
        foreach (var row in ProofDemonstrations(o)) yield return row;
        var facts = ArithmeticFacts(o);
        var rng = new Random(StableHash.Seed("fact-rows", o.Seed));
        for (int r = 0; r < o.FactRepeats; r++)
            foreach (var chunk in (r == 0 ? facts : facts.OrderBy(_ => rng.Next()).ToList()).Chunk(FactsPerRow))
                yield return new DemonstrationRow { Kind = "arithmetic", Prompt = "Arithmetic facts:\n", Completion = string.Join("\n", chunk.Select(f => $"Fact: {f}.")) };
        foreach (var chunk in FactCheckLines(o).Chunk(ChecksPerRow))
            yield return new DemonstrationRow { Kind = "arithmetic", Prompt = "Arithmetic checks:\n", Completion = string.Join("\n", chunk) };
    }

    static IEnumerable<DemonstrationRow> ProofDemonstrations(DemoDatasetOptions o)
    {
        var set = o.Prompts;
        // A proof's verification with the oracle's faithful analysis.
        DemonstrationRow Verification(ArithmeticProblem p, string proof) => new()
        {
            Kind = "verification", Prompt = Method.Prompts.RenderVerification(p.Statement, proof, set.Verification),
            Completion = Oracle.WriteAnalysis(Oracle.AnalysisDefects(p, proof), proof: proof, claim: p.Value),
        };
        foreach (var p in DemonstrationProblems(o))
        {
            string correct = ArithmeticDomain.WriteProof(p);
            yield return new DemonstrationRow
            {
                Kind = "generation",
                Prompt = Method.Prompts.RenderGeneration(p.Statement, set.Generation),
                Completion = $"## Solution\n{correct}\n\n## Self Evaluation\n{Oracle.WriteAnalysis([], proof: correct, claim: p.Value)}",
            };
            var pick = new Random(StableHash.Seed("flawed", o.Seed, p.Id));
            if (pick.NextDouble() < o.FlawedProofShare)
            {
                // One of the injected defects, or a miscopied step (the slip generators make most).
                int kind = pick.Next(Defects.Length);
                string flawed = kind < Defects.Length - 1 ? ArithmeticDomain.WriteProof(p, Defects[1 + kind], o.Seed)
                    : ArithmeticDomain.WriteMiscopiedProof(p, pick.Next(ArithmeticDomain.ReferenceSteps(p.Expression).Count), pick.Next(2) == 0);
                yield return new DemonstrationRow
                {
                    Kind = "generation",
                    Prompt = Method.Prompts.RenderGeneration(p.Statement, set.Generation),
                    Completion = $"## Solution\n{flawed}\n\n## Self Evaluation\n{Oracle.WriteAnalysis(Oracle.AnalysisDefects(p, flawed), proof: flawed, claim: p.Value)}",
                };
            }
            foreach (var d in Defects)
            {
                string proof = ArithmeticDomain.WriteProof(p, d, o.Seed);
                var verdict = Oracle.ScoreProof(p, proof);
                string analysis = Oracle.WriteAnalysis(Oracle.AnalysisDefects(p, proof), proof: proof, claim: p.Value);
                yield return new DemonstrationRow { Kind = "verification", Prompt = Method.Prompts.RenderVerification(p.Statement, proof, set.Verification), Completion = analysis };
                // Meta-verification judges the faithful analysis of half of the proofs and an unfaithful one of the others.
                string judged = (p.Id.Sum(c => c) + (int)d) % 2 == 0 ? CorruptedAnalysis(p, proof, Oracle.AnalysisDefects(p, proof), (int)d) : analysis;
                yield return new DemonstrationRow
                {
                    Kind = "meta-verification",
                    Prompt = Method.Prompts.RenderMetaVerification(p.Statement, proof, judged, set.MetaVerification),
                    Completion = Oracle.WriteMetaVerification(p, proof, judged, set.MetaLead, set.MetaClosing),
                };
                if (d == ProofDefect.FalseStep)
                {
                    // A false step at every other step too: in the proofs' own text a step's claim is almost always
                    // right, so these keep the check from copying it instead of computing.
                    int steps = ArithmeticDomain.ReferenceSteps(p.Expression).Count;
                    for (int at = 0; at < steps; at++)
                    {
                        string other = ArithmeticDomain.WriteProof(p, d, o.Seed, at);
                        if (other == proof) continue;
                        yield return Verification(p, other);
                    }
                    // And one far from the right value (another operator's, zero, one of the numbers), as a
                    // generator's slips have it: the check has to quote the proof's claim, whatever it is.
                    yield return Verification(p, ArithmeticDomain.WriteProof(p, d, o.Seed, new Random(StableHash.Seed("far-step", o.Seed, p.Id)).Next(steps), farOff: true));
                    // And one miscopied step (the result written wrong into the expression, or the expression the step
                    // starts from miscopied): the generator's commonest slip, seen by the conclusion check.
                    var slip = new Random(StableHash.Seed("miscopied-step", o.Seed, p.Id));
                    string miscopied = ArithmeticDomain.WriteMiscopiedProof(p, slip.Next(steps), slip.Next(2) == 0);
                    if (Oracle.AnalysisDefects(p, miscopied).Any(x => x.Kind == ProofDefect.NotReachingClaim)) yield return Verification(p, miscopied);
                }
                if (d == ProofDefect.OmittedJustification && UnjustifiedFalseStep(p, proof) is { } unjustified)
                    yield return Verification(p, unjustified);
                if (d != ProofDefect.None)
                {
                    // Half of the false-step candidates are drafts that also miscopied the expression, as a small
                    // generator's are: the revision takes the expression from the problem, not from the candidate.
                    string candidate = proof, critique = analysis;
                    double candidateScore = verdict.Score;
                    if (d == ProofDefect.FalseStep && new Random(StableHash.Seed("miscopied-candidate", o.Seed, p.Id)).Next(2) == 0)
                    {
                        candidate = ArithmeticDomain.WriteMiscopiedDraft(p, o.Seed);
                        (critique, candidateScore) = (Oracle.WriteAnalysis(Oracle.AnalysisDefects(p, candidate), proof: candidate, claim: p.Value), Oracle.ScoreProof(p, candidate).Score);
                    }
                    yield return new DemonstrationRow
                    {
                        Kind = "refinement",
                        Prompt = Method.Prompts.RenderRefinement(p.Statement, [(candidate, critique, candidateScore)], set),
                        Completion = $"## Solution\n{correct}\n\n## Self Evaluation\n{Oracle.WriteAnalysis([], proof: correct, claim: p.Value)}",
                    };
                }
            }
        }
    }
}
