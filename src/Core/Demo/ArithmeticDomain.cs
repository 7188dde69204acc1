using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace MathV2.Core.Demo;

/// <summary>A claim of the demo domain: an integer expression and the value it is claimed to equal.</summary>
public sealed record ArithmeticProblem(string Id, string Expression, long Value, int Difficulty)
{
    public string Statement => $"Prove that {Expression} = {Value}.";
}

/// <summary>Injected defects, with the score the rubric gives each.</summary>
public enum ProofDefect
{
    None,
    /// <summary>A step with wrong arithmetic: 0.</summary>
    FalseStep,
    /// <summary>A step without its justification: 0.5.</summary>
    OmittedJustification,
    /// <summary>The chain stops before the claimed value: 0.</summary>
    NotReachingClaim,
}

/// <summary>
/// The built-in demo domain: claims about integer arithmetic proved by a chain of rewriting steps, each
/// justified by the one operation it performs. Correctness is decidable, so an oracle stands in for experts.
/// Everything is a pure function of the seed.
/// </summary>
public static class ArithmeticDomain
{
    static readonly char[] Ops = ['+', '-', '*'];

    /// <summary>A problem with as many operations as its difficulty (1..4), numbers growing with difficulty.</summary>
    public static ArithmeticProblem Problem(int seed, int index, int difficulty)
    {
        if (difficulty is < 1 or > 4) throw new ArgumentOutOfRangeException(nameof(difficulty), "difficulty must be 1..4");
        var rng = new Random(StableHash.Seed("problem", seed, index, difficulty));
        int max = difficulty switch { 1 or 2 => 5, 3 => 9, _ => 20 };
        string expr = Build(rng, difficulty, max).Text;
        return new ArithmeticProblem($"arith-{seed}-{difficulty}-{index}", expr, Evaluate(expr), difficulty);
    }

    /// <summary>A random expression tree with the given number of operations, parenthesised where precedence needs it.</summary>
    static (string Text, char? Top) Build(Random rng, int ops, int max)
    {
        if (ops == 0) return (rng.Next(1, max + 1).ToString(CultureInfo.InvariantCulture), null);
        int leftOps = rng.Next(ops);
        char op = Ops[rng.Next(Ops.Length)];
        var left = Build(rng, leftOps, max);
        var right = Build(rng, ops - 1 - leftOps, max);
        bool wrapLeft = op == '*' && left.Top is '+' or '-';
        bool wrapRight = right.Top != null && (op != '+' || right.Top != '*');
        string l = wrapLeft ? $"({left.Text})" : left.Text, r = wrapRight ? $"({right.Text})" : right.Text;
        return ($"{l} {op} {r}", op);
    }

    /// <summary>The reference prover: evaluate the innermost, leftmost highest-precedence operation, one step at a time.</summary>
    public static IReadOnlyList<ProofStep> ReferenceSteps(string expression)
    {
        var steps = new List<ProofStep>();
        string current = expression;
        while (!long.TryParse(current, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
        {
            var (a, op, b, start, length) = NextOperation(current);
            long result = Apply(a, op, b);
            string next = Normalize(current[..start] + result.ToString(CultureInfo.InvariantCulture) + current[(start + length)..]);
            steps.Add(new ProofStep(current, next, $"{a} {op} {b} = {result}"));
            current = next;
        }
        return steps;
    }

    /// <summary>Writes a proof of the problem, optionally with one defect injected (deterministic in the seed).</summary>
    public static string WriteProof(ArithmeticProblem p, ProofDefect defect = ProofDefect.None, int seed = 0) => WriteProof(p, defect, seed, null);

    /// <summary>
    /// Writes a proof with the defect at the given step index (0-based; null: a seeded one). A false step claims a
    /// value near the right one (<see cref="WrongValue"/>) or, with farOff, a far one (<see cref="FarWrongValue"/>).
    /// </summary>
    public static string WriteProof(ArithmeticProblem p, ProofDefect defect, int seed, int? at, bool farOff = false)
    {
        var steps = ReferenceSteps(p.Expression).ToList();
        if (at is < 0 || at >= Math.Max(1, steps.Count)) throw new ArgumentOutOfRangeException(nameof(at), $"{p.Id} has {steps.Count} steps");
        int target = steps.Count == 0 ? 0 : at ?? new Random(StableHash.Seed("defect", seed, p.Id)).Next(steps.Count);
        var sb = new StringBuilder();
        long concluded = p.Value;
        int shown = defect == ProofDefect.NotReachingClaim ? Math.Max(0, steps.Count - 1) : steps.Count;
        for (int i = 0; i < shown; i++)
        {
            var s = steps[i];
            if (defect == ProofDefect.FalseStep && i == target)
            {
                // Wrong arithmetic here; later steps follow from the wrong value, so the chain "reaches" a wrong claim.
                var (a, op, b, start, length) = NextOperation(s.Before);
                long wrong = farOff ? FarWrongValue(a, op, b, p.Id, i) : WrongValue(Apply(a, op, b), p.Id, i);
                string after = Normalize(s.Before[..start] + wrong.ToString(CultureInfo.InvariantCulture) + s.Before[(start + length)..]);
                sb.AppendLine(StepLine(i + 1, new ProofStep(s.Before, after, $"{a} {op} {b} = {wrong}")));
                var rest = ReferenceSteps(after);
                for (int r = 0; r < rest.Count; r++)
                    sb.AppendLine(StepLine(i + 2 + r, rest[r]));
                concluded = Evaluate(after);
                break;
            }
            bool omit = defect == ProofDefect.OmittedJustification && i == target;
            sb.AppendLine(StepLine(i + 1, s, omit));
        }
        if (defect == ProofDefect.NotReachingClaim)
            sb.AppendLine($"Therefore {p.Expression} = {(shown == 0 ? p.Expression : steps[shown - 1].After)}.");
        else
            sb.AppendLine($"Therefore {p.Expression} = {concluded}.");
        return sb.ToString().TrimEnd();
    }

    /// <summary>
    /// A first draft as a small generator writes it: the expression miscopied (one number changed by one to three, its
    /// sign dropped, so a 1 lowered by two stays 1) and
    /// the first step's result wrong, the rest following what it wrote ("Therefore 1 * 4 * 4 = 17." for 1 * 1 * 4).
    /// Its evaluation sees the wrong result; the miscopied expression is why a revision starts again from the problem.
    /// </summary>
    public static string WriteMiscopiedDraft(ArithmeticProblem p, int seed)
    {
        var rng = new Random(StableHash.Seed("miscopied-draft", seed, p.Id));
        string expression = Normalize(p.Expression);
        var numbers = Regex.Matches(expression, @"(?<![\d)])\d+").ToList();
        var n = numbers[rng.Next(numbers.Count)];
        long changed = long.Parse(n.Value, CultureInfo.InvariantCulture) + rng.Next(1, 4) * (rng.Next(2) == 0 ? 1 : -1);
        string miscopied = Normalize(expression[..n.Index] + Math.Abs(changed).ToString(CultureInfo.InvariantCulture) + expression[(n.Index + n.Length)..]);
        return WriteProof(p with { Expression = miscopied, Value = Evaluate(miscopied) }, ProofDefect.FalseStep, seed, 0);
    }

    /// <summary>
    /// A proof with a miscopied step at the given index, the slip a generator makes when it rewrites the expression:
    /// the step computes right but writes another value into the rewritten expression ("4 * 3 = 12, so 2 + 4 * 3 = 2 +
    /// 13"), or (startMiscopied) starts from the expression with one number changed ("1 * 1 * 4" read as "1 * 4 * 4");
    /// the rest of the chain follows from what it wrote. Seeded by the problem and the step.
    /// </summary>
    public static string WriteMiscopiedProof(ArithmeticProblem p, int at, bool startMiscopied)
    {
        var steps = ReferenceSteps(p.Expression).ToList();
        if (at < 0 || at >= steps.Count) throw new ArgumentOutOfRangeException(nameof(at), $"{p.Id} has {steps.Count} steps");
        var rng = new Random(StableHash.Seed("miscopied", p.Id, at, startMiscopied ? 1 : 0));
        var sb = new StringBuilder();
        for (int i = 0; i < at; i++) sb.AppendLine(StepLine(i + 1, steps[i]));
        string before = steps[at].Before, after;
        if (startMiscopied)
        {
            // One number of the expression changed by one to three.
            var numbers = Regex.Matches(before, @"(?<![\d)])-?\d+").ToList();
            var n = numbers[rng.Next(numbers.Count)];
            long changed = long.Parse(n.Value, CultureInfo.InvariantCulture) + rng.Next(1, 4) * (rng.Next(2) == 0 ? 1 : -1);
            string miscopied = Normalize(before[..n.Index] + changed.ToString(CultureInfo.InvariantCulture) + before[(n.Index + n.Length)..]);
            var first = ReferenceSteps(miscopied)[0];
            sb.AppendLine(StepLine(at + 1, first));
            after = first.After;
        }
        else
        {
            var (a, op, b, start, length) = NextOperation(before);
            long value = Apply(a, op, b);
            long wrong = rng.Next(2) == 0 ? WrongValue(value, p.Id, at) : FarWrongValue(a, op, b, p.Id, at);
            after = Normalize(before[..start] + wrong.ToString(CultureInfo.InvariantCulture) + before[(start + length)..]);
            sb.AppendLine(StepLine(at + 1, new ProofStep(before, after, $"{a} {op} {b} = {value}")));
        }
        var rest = ReferenceSteps(after);
        for (int r = 0; r < rest.Count; r++) sb.AppendLine(StepLine(at + 2 + r, rest[r]));
        sb.Append($"Therefore {p.Expression} = {Evaluate(after)}.");
        return sb.ToString();
    }

    /// <summary>
    /// A proof step: the one operation computed first, then the rewritten expression ("Step 2: 4 * 3 = 12, so 2 + 4 * 3
    /// = 2 + 12."), so a writer states the result before it uses it; without the computation the step is unjustified.
    /// </summary>
    public static string StepLine(int number, ProofStep s, bool omitJustification = false) =>
        omitJustification ? $"Step {number}: {s.Before} = {s.After}." : $"Step {number}: {s.Justification}, so {s.Before} = {s.After}.";

    /// <summary>
    /// The value a false step claims instead of the right one: one or two more or less, seeded by the problem and the
    /// step (always one more, and a verifier can learn "the right value is one less than the claim" without computing).
    /// </summary>
    public static long WrongValue(long value, string problemId, int step) =>
        value + WrongOffsets[new Random(StableHash.Seed("wrong-value", problemId, step)).Next(WrongOffsets.Length)];

    static readonly int[] WrongOffsets = [1, -1, 2, -2];

    /// <summary>
    /// A wrong value far from the right one, as a generator's slips have it: the same numbers under another operator
    /// ("5 * 5 = 0", "5 * 5 = 10"), zero, or one of the numbers; seeded by the problem and the step.
    /// </summary>
    public static long FarWrongValue(long a, char op, long b, string problemId, int step)
    {
        long right = Apply(a, op, b);
        var candidates = new[] { Apply(a, '+', b), Apply(a, '-', b), Apply(a, '*', b), 0, a, b }
            .Where(v => Math.Abs(v - right) > 2).Distinct().ToList();
        // Nothing far among them (e.g. 1 * 2): then three more than the right value.
        return candidates.Count == 0 ? right + 3 : candidates[new Random(StableHash.Seed("far-wrong-value", problemId, step)).Next(candidates.Count)];
    }

    /// <summary>The numbers and operator of a one-operation computation ("-3 * 4"); null when it is not one.</summary>
    public static (long A, char Op, long B)? OneOperation(string computation)
    {
        var m = Regex.Match(Normalize(computation), @"^(-?\d+) ([-+*]) (-?\d+)$");
        return m.Success ? (long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), m.Groups[2].Value[0], long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture)) : null;
    }

    public static double ScoreOf(ProofDefect d) => d switch { ProofDefect.None => 1, ProofDefect.OmittedJustification => 0.5, _ => 0 };

    // ---- arithmetic ----

    public sealed record ProofStep(string Before, string After, string Justification);

    internal static string Normalize(string expr)
    {
        // Drop parentheses around a lone number: "(12)" → "12".
        string prev;
        do { prev = expr; expr = Regex.Replace(expr, @"\((-?\d+)\)", "$1"); } while (expr != prev);
        return Regex.Replace(expr.Trim(), @"\s+", " ");
    }

    static long Apply(long a, char op, long b) => op switch { '+' => a + b, '-' => a - b, '*' => a * b, _ => throw new FormatException($"unknown operator {op}") };

    /// <summary>The next operation in evaluation order: inside the first innermost parentheses, '*' before '+'/'-', left to right.</summary>
    static (long A, char Op, long B, int Start, int Length) NextOperation(string expr)
    {
        int open = -1, close = -1;
        for (int i = 0; i < expr.Length; i++)
        {
            if (expr[i] == '(') open = i;
            else if (expr[i] == ')' && open >= 0) { close = i; break; }
        }
        if (open >= 0 && close < 0) throw new FormatException($"unbalanced parentheses in '{expr}'");
        int from = open >= 0 ? open + 1 : 0, to = open >= 0 ? close : expr.Length;
        string inner = expr[from..to];
        var bin = new Regex(@"(?<![\d)])(-?\d+)\s*([*])\s*(-?\d+)");
        var m = bin.Match(inner);
        if (!m.Success) m = new Regex(@"(?<![\d)])(-?\d+)\s*([-+])\s*(-?\d+)").Match(inner);
        if (!m.Success) throw new FormatException($"no operation in '{expr}'");
        long a = long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), b = long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
        return (a, m.Groups[2].Value[0], b, from + m.Index, m.Length);
    }

    /// <summary>Evaluates +, -, * with parentheses and the usual precedence; throws FormatException on anything else.</summary>
    public static long Evaluate(string expr)
    {
        string current = Normalize(expr);
        for (int guard = 0; guard < 1000; guard++)
        {
            if (long.TryParse(current, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v)) return v;
            var (a, op, b, start, length) = NextOperation(current);
            current = Normalize(current[..start] + Apply(a, op, b).ToString(CultureInfo.InvariantCulture) + current[(start + length)..]);
        }
        throw new FormatException($"cannot evaluate '{expr}'");
    }

    public static bool TryEvaluate(string expr, out long value)
    {
        try { value = Evaluate(expr); return true; }
        catch (Exception e) when (e is FormatException or OverflowException) { value = 0; return false; }
    }
}

/// <summary>Demo problem ids ("arith-{seed}-{difficulty}-{index}") back to their problems.</summary>
public static class ArithmeticDomainIds
{
    public static ArithmeticProblem? TryProblem(string id)
    {
        var parts = id.Split('-');
        if (parts.Length != 4 || parts[0] != "arith") return null;
        if (!int.TryParse(parts[1], out int seed) || !int.TryParse(parts[2], out int d) || !int.TryParse(parts[3], out int i) || d is < 1 or > 4 || i < 0) return null;
        var p = ArithmeticDomain.Problem(seed, i, d);
        return p.Id == id ? p : null;
    }
}
