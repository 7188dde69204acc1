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
                bool concludesClaim = long.TryParse(rhs, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) && v == problem.Value;
                bool reaches = lhs == expected && concludesClaim && (last ?? expected) == rhs;
                // A false step explains a wrong conclusion, but the proof still does not reach the claim.
                if (!reaches && (!concludesClaim || !defects.Any(d => d.Kind == ProofDefect.FalseStep))) defects.Add(new Defect(0, ProofDefect.NotReachingClaim));
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
    /// proof, it first redoes each step's computation next to what the proof claims ("Step 2: 4 * 3 = 12; the proof
    /// says 13, wrong."), the way a careful reader checks a chain, so that a false step is one the analysis can see.
    /// </summary>
    /// <param name="miscomputedStep">A step whose computation the analysis gets wrong (one too many): a verifier's slip.</param>
    /// <param name="misreadStep">A step whose claim the analysis quotes wrong (a far value, <see cref="ArithmeticDomain.FarWrongValue"/>): a verifier's slip.</param>
    /// <param name="claim">The value the problem claims: given, the analysis also checks the proof's conclusion against it (<see cref="ConclusionLine"/>).</param>
    public static string WriteAnalysis(IEnumerable<Defect> claimed, double? score = null, string? proof = null, int? miscomputedStep = null, int? misreadStep = null, long? claim = null)
    {
        var list = claimed.ToList();
        var sb = new StringBuilder("Here is my evaluation of the solution:\n");
        foreach (var (step, computation, written) in Checks(proof ?? ""))
            if (ArithmeticDomain.TryEvaluate(computation, out long value))
            {
                string quoted = step == misreadStep && ArithmeticDomain.OneOperation(computation) is var (a, op, b)
                    ? ArithmeticDomain.FarWrongValue(a, op, b, computation, step).ToString(CultureInfo.InvariantCulture) : written;
                sb.AppendLine(CheckLine(step, computation, step == miscomputedStep ? value + 1 : value, quoted));
            }
        if (claim is { } v) sb.AppendLine(ConclusionLine(v, proof ?? ""));
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
    public static string CheckLine(int step, string computation, long value, string written) =>
        $"Step {step}: {ArithmeticDomain.Normalize(computation)} = {Compared(value, written)}";

    /// <summary>"12; the proof says 13; 13 - 12 = 1, wrong.": a value against what the proof writes (the difference where it is a number).</summary>
    static string Compared(long value, string written)
    {
        string v = value.ToString(CultureInfo.InvariantCulture);
        string diff = long.TryParse(written, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long c)
            ? $"; {written} - {v} = {(c - value).ToString(CultureInfo.InvariantCulture)}" : "";
        return $"{v}; the proof says {written}{diff}, {(written == v ? "right" : "wrong")}.";
    }

    /// <summary>
    /// An analysis' check of the proof's conclusion against the problem's claim, compared as a step's claim is:
    /// "Conclusion: 14; the proof says 15; 15 - 14 = 1, wrong." A proof that miscopies the expression somewhere
    /// (every computation right, the chain broken) almost always concludes another value, and this line sees it.
    /// </summary>
    public static string ConclusionLine(long claim, string proof)
    {
        var m = proof.Split('\n').Select(l => Conclusion.Match(l.Trim())).FirstOrDefault(x => x.Success);
        return m is null ? $"Conclusion: {claim.ToString(CultureInfo.InvariantCulture)}; the proof says nothing, wrong."
            : $"Conclusion: {Compared(claim, ArithmeticDomain.Normalize(m.Groups[2].Value))}";
    }

    /// <summary>
    /// The defects a faithful analysis names, as its checks show them: the oracle's, less "does not reach the claim"
    /// where a false step's check shows why (the wrong conclusion follows from it), and less a false step whose
    /// computation checks out (a miscopied expression) where the wrong conclusion shows the proof does not reach it.
    /// </summary>
    public static IReadOnlyList<Defect> AnalysisDefects(ArithmeticProblem problem, string proof)
    {
        var defects = ScoreProof(problem, proof).Defects;
        if (!defects.Any(d => d.Kind == ProofDefect.NotReachingClaim)) return defects;
        var computedRight = Checks(proof).Where(c => ComputesRight(c.Computation, c.Claimed)).Select(c => c.Step).ToHashSet();
        var seen = defects.Where(d => !(d.Kind == ProofDefect.FalseStep && computedRight.Contains(d.Step))).ToList();
        return seen.Any(d => d.Kind == ProofDefect.FalseStep) ? seen.Where(d => d.Kind != ProofDefect.NotReachingClaim).ToList() : seen;
    }

    /// <summary>The computations of a proof's steps ("a op b" and the claimed c of "Step n: a op b = c, so …"), in order.</summary>
    public static IEnumerable<(int Step, string Computation, string Claimed)> Computations(string proof) => Steps(proof, unjustified: false);

    /// <summary>Whether a step's computation gives the value it claims.</summary>
    public static bool ComputesRight(string computation, string claimed) =>
        ArithmeticDomain.TryEvaluate(computation, out long v) && v.ToString(CultureInfo.InvariantCulture) == claimed;

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
                else if (unjustified && ArithmeticDomain.Normalize(m.Groups[4].Value) is var before && ArithmeticDomain.OneOperation(before) != null
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
    public static string WriteMetaVerification(ArithmeticProblem problem, string proof, string analysis,
        string lead = Prompts.CompactMetaLead, string closing = Prompts.CompactMetaClosing)
    {
        double rating = 0;
        var sb = new StringBuilder(lead).Append('\n');
        var parsed = Parsers.Verification(analysis);
        if (parsed.FormatOk)
        {
            var actual = ScoreProof(problem, proof).Defects;
            var claimed = ClaimedDefects(parsed.Analysis);
            rating = Judge(parsed, actual, claimed);
            // A claimed false step is checked as the analysis checks it; a claimed omission by whether the step computes.
            var computations = Computations(proof).ToList();
            var checks = Checks(proof).ToList();
            foreach (var c in claimed)
            {
                sb.AppendLine(c.Kind switch
                {
                    ProofDefect.FalseStep => $"Claim: Step {c.Step} is false.",
                    ProofDefect.OmittedJustification => $"Claim: Step {c.Step} omits its justification.",
                    _ => "Claim: The proof does not reach the claimed value.",
                });
                if (c.Kind == ProofDefect.NotReachingClaim)
                    sb.AppendLine(ConclusionLine(problem.Value, proof));
                else
                {
                    var step = (c.Kind == ProofDefect.FalseStep ? checks : computations).FirstOrDefault(x => x.Step == c.Step);
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
        sb.Append($"{closing} \\boxed{{{rating.ToString("0.#", CultureInfo.InvariantCulture)}}}");
        return sb.ToString();
    }
}
