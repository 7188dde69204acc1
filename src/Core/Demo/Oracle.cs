using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using MathV2.Core.Method;

namespace MathV2.Core.Demo;

/// <summary>A defect the oracle found in (or an analysis claims for) a proof. Step 0 means the proof as a whole.</summary>
public sealed record Defect(int Step, ProofDefect Kind);

/// <summary>The oracle's verdict on a proof.</summary>
public sealed record OracleVerdict(double Score, IReadOnlyList<Defect> Defects);

/// <summary>
/// The annotator that stands in for experts on the demo domain: it scores proofs exactly as the rubric reads
/// (a false step → 0, an omitted justification → 0.5, not reaching the claim → 0) and judges verifier analyses
/// as the meta-rubric reads (do the claimed defects exist, does the score follow from them).
/// </summary>
public static class Oracle
{
    // "Step n: a op b = c, so before = after." (the computation is the justification) or "Step n: before = after."
    static readonly Regex StepLine = new(@"^Step\s+(\d+):\s*(?:(.+?)\s*=\s*(-?\d+)\s*,\s*so\s+)?(.+?)\s*=\s*([^,=]+?)\s*\.?\s*$", RegexOptions.Compiled);
    static readonly Regex Conclusion = new(@"^Therefore\s+(.+)\s*=\s*(.+?)\s*\.?\s*$", RegexOptions.Compiled);

    public static OracleVerdict ScoreProof(ArithmeticProblem problem, string proof)
    {
        var defects = new List<Defect>();
        string expected = ArithmeticDomain.Normalize(problem.Expression);
        string? last = null;
        bool concluded = false;
        int stepsSeen = 0;
        foreach (string raw in proof.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0))
        {
            var m = StepLine.Match(raw);
            if (m.Success && !concluded)
            {
                int n = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                stepsSeen++;
                string before = ArithmeticDomain.Normalize(m.Groups[4].Value), after = ArithmeticDomain.Normalize(m.Groups[5].Value);
                bool chained = before == (last ?? expected);
                bool equal = ArithmeticDomain.TryEvaluate(before, out long vb) & ArithmeticDomain.TryEvaluate(after, out long va) && vb == va;
                bool justified = m.Groups[2].Success;
                bool justificationTrue = !justified || (ArithmeticDomain.TryEvaluate(m.Groups[2].Value, out long j)
                    && long.TryParse(m.Groups[3].Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long claimed) && j == claimed);
                if (!chained || !equal || !justificationTrue) defects.Add(new Defect(n, ProofDefect.FalseStep));
                else if (!justified) defects.Add(new Defect(n, ProofDefect.OmittedJustification));
                last = after;
                continue;
            }
            var c = Conclusion.Match(raw);
            if (c.Success && !concluded)
            {
                concluded = true;
                string lhs = ArithmeticDomain.Normalize(c.Groups[1].Value), rhs = ArithmeticDomain.Normalize(c.Groups[2].Value);
                bool reaches = lhs == expected && long.TryParse(rhs, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v)
                    && v == problem.Value && (last ?? expected) == rhs;
                if (!reaches && !defects.Any(d => d.Kind == ProofDefect.FalseStep)) defects.Add(new Defect(0, ProofDefect.NotReachingClaim));
                continue;
            }
            defects.Add(new Defect(0, ProofDefect.NotReachingClaim)); // unreadable or trailing text: the chain is broken
            break;
        }
        if (!concluded && !defects.Any(d => d.Kind == ProofDefect.NotReachingClaim)) defects.Add(new Defect(0, ProofDefect.NotReachingClaim));
        return new OracleVerdict(ScoreFor(defects), defects.Distinct().ToList());
    }

    /// <summary>The score the rubric implies for a set of defects.</summary>
    public static double ScoreFor(IEnumerable<Defect> defects)
    {
        var d = defects.ToList();
        if (d.Any(x => x.Kind is ProofDefect.FalseStep or ProofDefect.NotReachingClaim)) return 0;
        return d.Any(x => x.Kind == ProofDefect.OmittedJustification) ? 0.5 : 1;
    }

    /// <summary>
    /// A verifier analysis in the method's format that names the given defects and the score they imply. Given the
    /// proof, it first redoes each step the way a careful reader checks a chain: the step's computation next to what
    /// the proof claims ("Step 2: 4 * 3 = 12; the proof says 13; 13 - 12 = 1, wrong"), then the rewrite the step
    /// should make of the expression the chain is at and what the proof wrote ("so 2 + 4 * 3 = 2 + 12, the proof has
    /// 2 + 13, wrong"), so that a false step, a
    /// miscopied expression or a broken chain is one the analysis can see.
    /// </summary>
    /// <param name="expression">The problem's expression, where the chain starts (null: the proof's conclusion's).</param>
    /// <param name="miscomputedStep">A step whose computation the analysis gets wrong (one too many): a verifier's slip.</param>
    /// <param name="misreadStep">A step whose claim the analysis quotes wrong (a far value, <see cref="ArithmeticDomain.FarWrongValue"/>): a verifier's slip.</param>
    public static string WriteAnalysis(IEnumerable<Defect> claimed, double? score = null, string? proof = null, int? miscomputedStep = null, int? misreadStep = null, string? expression = null)
    {
        var list = claimed.ToList();
        var sb = new StringBuilder("Here is my evaluation of the solution:\n");
        foreach (var c in StepChecks(proof ?? "", expression))
        {
            string? quoted = c.Step == misreadStep && c.Computation != null && ArithmeticDomain.OneOperation(c.Computation) is var (a, op, b)
                ? ArithmeticDomain.FarWrongValue(a, op, b, c.Computation, c.Step).ToString(CultureInfo.InvariantCulture) : c.Claimed;
            sb.AppendLine(CheckLine(c, c.Step == miscomputedStep ? 1 : 0, quoted));
        }
        if (list.Count == 0) sb.AppendLine("Every step is correct and justified.");
        foreach (var d in list)
            sb.AppendLine(d.Kind switch
            {
                ProofDefect.FalseStep => $"Step {d.Step} is false.",
                ProofDefect.OmittedJustification => $"Step {d.Step} omits its justification.",
                _ => "The proof does not reach the claimed value.",
            });
        double s = score ?? ScoreFor(list);
        sb.Append($"Based on my evaluation, the final overall score should be: \\boxed{{{s.ToString("0.#", CultureInfo.InvariantCulture)}}}");
        return sb.ToString();
    }

    /// <summary>
    /// An analysis' check of one step: "Step 2: 4 * 3 = 12; the proof says 13; 13 - 12 = 1, wrong." The claim is
    /// compared by subtracting (an arithmetic fact, which a small model learns) and reading the difference.
    /// </summary>
    public static string CheckLine(int step, string computation, long value, string written)
    {
        string v = value.ToString(CultureInfo.InvariantCulture);
        string diff = long.TryParse(written, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long c)
            ? $"; {written} - {v} = {(c - value).ToString(CultureInfo.InvariantCulture)}" : "";
        return $"Step {step}: {ArithmeticDomain.Normalize(computation)} = {v}; the proof says {written}{diff}, {(written == v ? "right" : "wrong")}.";
    }

    /// <summary>
    /// A step's whole check: its computation's (<see cref="CheckLine(int, string, long, string)"/>, when it has one),
    /// then its rewrite: "; so 2 + 4 * 3 = 2 + 12, the proof has 2 + 12, right." (the expression the chain is at,
    /// what the step's computation makes of it, and what the proof wrote: right when the proof's step starts there
    /// and keeps the value, as the oracle reads it).
    /// </summary>
    static string CheckLine(StepCheck c, long miscomputed = 0, string? quoted = null)
    {
        // What the proof wrote: its result, or the whole step where it does not start where the chain is.
        string has = c.Before == c.From ? c.After : $"{c.Before} = {c.After}";
        string rewrite = $"so {c.From} = {c.To}, the proof has {has}, {(c.RewriteRight ? "right" : "wrong")}.";
        return c.Computation != null && ArithmeticDomain.TryEvaluate(c.Computation, out long value)
            ? $"{CheckLine(c.Step, c.Computation, value + miscomputed, quoted ?? c.Claimed!)[..^1]}; {rewrite}"
            : $"Step {c.Step}: {rewrite}";
    }

    /// <summary>
    /// A step as an analysis checks it: its computation and claim (the justification's, or for an unjustified step
    /// of one operation that operation; null when none), where the chain is (From: the problem's expression, then the
    /// previous step's result as written), the rewrite the step should make of it (To: its computation replaced by
    /// the right value, or the next reference step where that does not keep the value), and whether the proof's
    /// step (Before = After) starts at From and keeps its value.
    /// </summary>
    public sealed record StepCheck(int Step, string? Computation, string? Claimed, string From, string To, string Before, string After, bool RewriteRight);

    /// <summary>The steps of a proof as an analysis checks them, in order.</summary>
    public static IReadOnlyList<StepCheck> StepChecks(string proof, string? expression = null)
    {
        var lines = proof.Split('\n').Select(l => l.Trim()).ToList();
        string? from = expression is null ? null : ArithmeticDomain.Normalize(expression);
        if (from is null && lines.Select(l => Conclusion.Match(l)).FirstOrDefault(m => m.Success) is { } conclusion)
            from = ArithmeticDomain.Normalize(conclusion.Groups[1].Value);
        var result = new List<StepCheck>();
        foreach (string line in lines)
        {
            if (StepLine.Match(line) is not { Success: true } m) continue;
            int step = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            string before = ArithmeticDomain.Normalize(m.Groups[4].Value), after = ArithmeticDomain.Normalize(m.Groups[5].Value);
            from ??= before;
            string? computation = null, claimed = null;
            if (m.Groups[2].Success) (computation, claimed) = (ArithmeticDomain.Normalize(m.Groups[2].Value), m.Groups[3].Value);
            else if (OneOperation.IsMatch(before) && long.TryParse(after, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)) (computation, claimed) = (before, after);
            bool right = before == from && ArithmeticDomain.TryEvaluate(before, out long vb) && ArithmeticDomain.TryEvaluate(after, out long va) && vb == va;
            result.Add(new StepCheck(step, computation, claimed, from, Rewrite(from, computation), before, after, right));
            from = after;
        }
        return result;
    }

    /// <summary>The expression with the computation replaced by its value where that keeps the value; else the next reference step.</summary>
    static string Rewrite(string from, string? computation)
    {
        if (!ArithmeticDomain.TryEvaluate(from, out long value)) return from;
        if (computation != null && ArithmeticDomain.TryEvaluate(computation, out long v))
        {
            var at = Regex.Match(from, $@"(?<![\d])(?<!-){Regex.Escape(computation)}(?![\d])");
            if (at.Success)
            {
                string to = ArithmeticDomain.Normalize(from[..at.Index] + v.ToString(CultureInfo.InvariantCulture) + from[(at.Index + at.Length)..]);
                if (ArithmeticDomain.TryEvaluate(to, out long tv) && tv == value) return to;
            }
        }
        var steps = ArithmeticDomain.ReferenceSteps(from);
        return steps.Count > 0 ? steps[0].After : from;
    }

    /// <summary>The computations of a proof's steps ("a op b" and the claimed c of "Step n: a op b = c, so …"), in order.</summary>
    public static IEnumerable<(int Step, string Computation, string Claimed)> Computations(string proof) => Steps(proof, unjustified: false);

    static readonly Regex OneOperation = new(@"^-?\d+ [-+*] -?\d+$", RegexOptions.Compiled);

    /// <summary>
    /// What an analysis checks, step by step: each step's computation and claim, and for a step without one whose
    /// rewrite is a single operation ("Step 1: 5 + 5 = 9.") that operation and its result, so an unjustified step is
    /// checked too (a generator that leaves out justifications cannot hide a false step that way).
    /// </summary>
    public static IEnumerable<(int Step, string Computation, string Claimed)> Checks(string proof) => Steps(proof, unjustified: true);

    static IEnumerable<(int Step, string Computation, string Claimed)> Steps(string proof, bool unjustified)
    {
        foreach (string line in proof.Split('\n').Select(l => l.Trim()))
            if (StepLine.Match(line) is { Success: true } m)
            {
                int step = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                if (m.Groups[2].Success) yield return (step, m.Groups[2].Value, m.Groups[3].Value);
                else if (unjustified && ArithmeticDomain.Normalize(m.Groups[4].Value) is var before && OneOperation.IsMatch(before)
                    && long.TryParse(m.Groups[5].Value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
                    yield return (step, before, m.Groups[5].Value.Trim());
            }
    }

    /// <summary>The defects an analysis claims (parsed from the demo analysis phrasing).</summary>
    public static IReadOnlyList<Defect> ClaimedDefects(string analysis)
    {
        var result = new List<Defect>();
        foreach (Match m in Regex.Matches(analysis, @"Step\s+(\d+)\s+is\s+false", RegexOptions.IgnoreCase))
            result.Add(new Defect(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), ProofDefect.FalseStep));
        foreach (Match m in Regex.Matches(analysis, @"Step\s+(\d+)\s+omits\s+its\s+justification", RegexOptions.IgnoreCase))
            result.Add(new Defect(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), ProofDefect.OmittedJustification));
        if (Regex.IsMatch(analysis, @"does\s+not\s+reach\s+the\s+claimed\s+value", RegexOptions.IgnoreCase))
            result.Add(new Defect(0, ProofDefect.NotReachingClaim));
        return result;
    }

    /// <summary>
    /// Meta-rubric rating of an analysis: 0 if every claimed defect is bogus (or the output is unusable), 0.5 if
    /// some are bogus or the score does not follow from the claimed defects, else 1.
    /// </summary>
    public static double JudgeAnalysis(ArithmeticProblem problem, string proof, string analysis)
    {
        var parsed = Parsers.Verification(analysis);
        return parsed.FormatOk ? Judge(parsed, ScoreProof(problem, proof).Defects, ClaimedDefects(parsed.Analysis)) : 0;
    }

    static double Judge(AnalysisParse parsed, IReadOnlyList<Defect> actual, IReadOnlyList<Defect> claimed)
    {
        int bogus = claimed.Count(c => !actual.Contains(c));
        if (claimed.Count > 0 && bogus == claimed.Count) return 0;
        if (bogus > 0 || parsed.Score != ScoreFor(claimed)) return 0.5;
        return 1;
    }

    /// <summary>
    /// A meta-verification in the method's format with the oracle's rating. Before its finding it checks each defect
    /// the analysis claims against the proof, the way the verifier checks steps ("Claim: Step 1 is false." then the
    /// step's check, then "The claim is true." or "The claim is false."), and whether the score follows.
    /// </summary>
    public static string WriteMetaVerification(ArithmeticProblem problem, string proof, string analysis)
    {
        double rating = 0;
        var sb = new StringBuilder("Here is my analysis of the evaluation:\n");
        var parsed = Parsers.Verification(analysis);
        if (parsed.FormatOk)
        {
            var actual = ScoreProof(problem, proof).Defects;
            var claimed = ClaimedDefects(parsed.Analysis);
            rating = Judge(parsed, actual, claimed);
            // A claimed false step is checked as the analysis checks it; a claimed omission by whether the step computes.
            var computations = Computations(proof).ToList();
            var checks = StepChecks(proof, problem.Expression);
            foreach (var c in claimed)
            {
                sb.AppendLine(c.Kind switch
                {
                    ProofDefect.FalseStep => $"Claim: Step {c.Step} is false.",
                    ProofDefect.OmittedJustification => $"Claim: Step {c.Step} omits its justification.",
                    _ => "Claim: The proof does not reach the claimed value.",
                });
                if (c.Kind == ProofDefect.FalseStep)
                    sb.AppendLine(checks.FirstOrDefault(x => x.Step == c.Step) is { } check ? CheckLine(check) : $"Step {c.Step}: the proof has no such step.");
                else if (c.Kind == ProofDefect.OmittedJustification)
                {
                    var step = computations.FirstOrDefault(x => x.Step == c.Step);
                    sb.AppendLine(step.Computation == null ? $"Step {c.Step}: the proof gives no computation."
                        : ArithmeticDomain.TryEvaluate(step.Computation, out long value) ? CheckLine(step.Step, step.Computation, value, step.Claimed)
                        : $"Step {c.Step}: the proof computes {step.Computation}.");
                }
                sb.AppendLine(actual.Contains(c) ? "The claim is true." : "The claim is false.");
            }
            if (parsed.Score is { } sc)
                sb.AppendLine($"The score {sc.ToString("0.#", CultureInfo.InvariantCulture)} {(sc == ScoreFor(claimed) ? "follows" : "does not follow")} from the claims.");
        }
        sb.AppendLine(rating switch
        {
            1 => "Every claimed defect exists and the score follows from them.",
            0.5 => "Some claimed defects do not exist or the score does not follow from them.",
            _ => "The claimed defects do not exist.",
        });
        sb.Append($"Based on my analysis, the quality score of the evaluation should be: \\boxed{{{rating.ToString("0.#", CultureInfo.InvariantCulture)}}}");
        return sb.ToString();
    }
}
