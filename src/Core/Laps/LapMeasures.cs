using System.Text.Json;
using MathV2.Core.Datasets;
using MathV2.Core.Demo;
using MathV2.Core.Method;

namespace MathV2.Core.Laps;

/// <summary>A line of a sample job's completions.jsonl.</summary>
public sealed record SampleCompletion
{
    public required string Id { get; init; }
    public int Index { get; init; }
    public string Completion { get; init; } = "";
    public string FinishReason { get; init; } = "stop";

    public static List<SampleCompletion> Read(string text, string fileName = LapFiles.Completions)
    {
        var errors = new List<DatasetError>();
        var rows = Jsonl.Lines(text, fileName, errors).Select(x => new SampleCompletion
        {
            Id = x.Row.GetProperty("id").GetString() ?? "",
            Index = x.Row.TryGetProperty("index", out var i) ? i.GetInt32() : 0,
            Completion = x.Row.TryGetProperty("completion", out var c) ? c.GetString() ?? "" : "",
            FinishReason = x.Row.TryGetProperty("finishReason", out var f) ? f.GetString() ?? "stop" : "stop",
        }).ToList();
        if (errors.Count > 0) throw new DatasetException(errors);
        return rows;
    }
}

/// <summary>One try of phase 3's refinement loop: the generation (proof + self-evaluation) and its self-score.</summary>
public sealed record RefinementAttempt
{
    public int Iteration { get; init; }
    public string Completion { get; init; } = "";
    public string FinishReason { get; init; } = "stop";
    public double? SelfScore { get; init; }
}

/// <summary>A line of a refine job's refinements.jsonl: one trajectory of a problem, the last attempt being the answer.</summary>
public sealed record RefinementRecord
{
    public required string Id { get; init; }
    public string Problem { get; init; } = "";
    /// <summary>Which of the problem's trajectories (0-based) when the job refines each problem more than once.</summary>
    public int Sample { get; init; }
    public List<RefinementAttempt> Attempts { get; init; } = [];
}

/// <summary>
/// The lap report's measures on held-out data (pure functions of the samples and labels). Keys are
/// "{subject}.{measure}" (e.g. verifierV2.accuracy) plus "parseFailures.{reason}" counts. Oracle measures need
/// the oracle (demo laps) and demo problem ids; otherwise they are left out.
/// </summary>
public static class LapMeasures
{
    /// <summary>
    /// A verifier on held-out graded proofs (completion ids row-{i}): score accuracy (exact), mean |s′ − s| (an
    /// unparsable analysis counts as error 1), format rate, and the oracle's meta-rubric rating of the analyses.
    /// </summary>
    public static Dictionary<string, double> Verifier(string subject, IReadOnlyList<GradedProofRow> rows, IReadOnlyList<SampleCompletion> completions, bool oracle = true)
    {
        var m = new Dictionary<string, double>();
        if (completions.Count == 0) return m;
        int correct = 0, formatOk = 0, judged = 0;
        double absErr = 0, meta = 0;
        foreach (var c in completions)
        {
            var row = rows[RowIndex(c.Id)];
            var a = Parsers.Verification(c.Completion, c.FinishReason);
            CountFailure(m, a.Failure);
            if (a.FormatOk) formatOk++;
            if (a.FormatOk && a.Score == row.Score) correct++;
            absErr += a.FormatOk && a.Score is { } s ? Math.Abs(s - row.Score) : 1;
            if (Demo(row.ProblemId, oracle) is { } p)
            {
                meta += Oracle.JudgeAnalysis(p, row.Proof, c.Completion);
                judged++;
            }
        }
        int n = completions.Count;
        m[$"{subject}.accuracy"] = Round(correct / (double)n);
        m[$"{subject}.meanAbsError"] = Round(absErr / n);
        m[$"{subject}.formatRate"] = Round(formatOk / (double)n);
        if (judged > 0) m[$"{subject}.metaQuality"] = Round(meta / judged);
        m[$"{subject}.samples"] = n;
        return m;
    }

    /// <summary>
    /// A meta-verifier on held-out rated analyses (row-i ids): accuracy (its score equals the rating; an unparsable
    /// output is wrong), mean |ms′ − ms| (unparsable counts 1), format rate. Its parse failures are not added to the
    /// lap's parseFailures (those count the verifiers and generators).
    /// </summary>
    public static Dictionary<string, double> MetaVerifier(string subject, IReadOnlyList<GradedAnalysisRow> rows, IReadOnlyList<SampleCompletion> completions)
    {
        var m = new Dictionary<string, double>();
        if (completions.Count == 0) return m;
        int correct = 0, formatOk = 0;
        double absErr = 0;
        foreach (var c in completions)
        {
            var row = rows[RowIndex(c.Id)];
            var a = Parsers.MetaVerification(c.Completion, c.FinishReason);
            if (a.FormatOk) formatOk++;
            if (a.FormatOk && a.Score == row.Score) correct++;
            absErr += a.FormatOk && a.Score is { } s ? Math.Abs(s - row.Score) : 1;
        }
        int n = completions.Count;
        m[$"{subject}.accuracy"] = Round(correct / (double)n);
        m[$"{subject}.meanAbsError"] = Round(absErr / n);
        m[$"{subject}.formatRate"] = Round(formatOk / (double)n);
        m[$"{subject}.samples"] = n;
        return m;
    }

    /// <summary>
    /// Proofs of held-out problems: oracle pass rate (score 1), mean oracle score, format rate, honesty of the
    /// self-score, and the share of proofs failing each way (<see cref="FailureKind"/>: {subject}.failed.{kind}).
    /// </summary>
    public static Dictionary<string, double> Generator(string subject, IReadOnlyList<SampleCompletion> completions, bool oracle = true)
    {
        var m = new Dictionary<string, double>();
        if (completions.Count == 0) return m;
        int formatOk = 0, judged = 0, passed = 0, selfScored = 0;
        double score = 0, honesty = 0;
        var failed = new Dictionary<string, int>();
        foreach (var c in completions)
        {
            var g = Parsers.Generation(c.Completion, c.FinishReason);
            CountFailure(m, g.Failure);
            if (g.FormatOk) formatOk++;
            if (Demo(c.Id, oracle) is not { } p) continue;
            double s = OracleScore(p, g);
            judged++;
            score += s;
            if (s >= 1) passed++;
            else if (FailureKind(p, g.Proof) is { } kind) failed[kind] = failed.GetValueOrDefault(kind) + 1;
            if (g.SelfScore is { } self) { selfScored++; honesty += 1 - Math.Abs(self - s); }
        }
        m[$"{subject}.formatRate"] = Round(formatOk / (double)completions.Count);
        m[$"{subject}.samples"] = completions.Count;
        if (judged > 0)
        {
            m[$"{subject}.oraclePassRate"] = Round(passed / (double)judged);
            m[$"{subject}.oracleMeanScore"] = Round(score / judged);
            foreach (var (kind, n) in failed) m[$"{subject}.failed.{kind}"] = Round(n / (double)judged);
        }
        if (selfScored > 0) m[$"{subject}.selfScoreHonesty"] = Round(honesty / selfScored);
        return m;
    }

    /// <summary>
    /// How a demo-domain proof fails, by the oracle (null when it passes): "noProof"; "computation" (a step computes
    /// wrong: the analyses' step checks see it); "miscopy" (a false step whose computation is right, or has none: the
    /// expression was miscopied or the chain broken, which the step checks do not see); "notReaching" (no false step,
    /// the chain stops short or concludes otherwise); "omitted" (only an omitted justification, 0.5).
    /// </summary>
    public static string? FailureKind(ArithmeticProblem p, string? proof)
    {
        if (proof is not { Length: > 0 }) return "noProof";
        var defects = Oracle.ScoreProof(p, proof).Defects;
        if (defects.Count == 0) return null;
        var falseSteps = defects.Where(d => d.Kind == ProofDefect.FalseStep).Select(d => d.Step).ToHashSet();
        if (falseSteps.Count > 0)
            return Oracle.Checks(proof).Any(c => falseSteps.Contains(c.Step) && !Oracle.ComputesRight(c.Computation, c.Claimed)) ? "computation" : "miscopy";
        return defects.Any(d => d.Kind == ProofDefect.NotReachingClaim) ? "notReaching" : "omitted";
    }

    /// <summary>A verifier's verdicts on a generator's proofs: pass rate (score 1) and mean score; unparsable verdicts count as 0.</summary>
    public static Dictionary<string, double> JudgedByVerifier(string subject, IReadOnlyList<SampleCompletion> verdicts)
    {
        var m = new Dictionary<string, double>();
        if (verdicts.Count == 0) return m;
        var scores = verdicts.Select(v => Parsers.Verification(v.Completion, v.FinishReason) is { FormatOk: true, Score: { } s } ? s : 0).ToList();
        m[$"{subject}.verifierPassRate"] = Round(scores.Count(s => s >= 1) / (double)scores.Count);
        m[$"{subject}.verifierMeanScore"] = Round(scores.Average());
        return m;
    }

    /// <summary>
    /// Refinement: pass@1 by the oracle when the loop is capped at 1 iteration and at the job's cap (the answer is the
    /// last attempt within the cap), mean iterations used, and how often the loop ended on a self-score of 1.
    /// </summary>
    public static Dictionary<string, double> Refinement(IReadOnlyList<RefinementRecord> records, int maxIterations, bool oracle = true)
    {
        var m = new Dictionary<string, double>();
        if (records.Count == 0) return m;
        int judged = 0, pass1 = 0, passMax = 0, selfAccepted = 0;
        foreach (var r in records)
        {
            foreach (var a in r.Attempts) CountFailure(m, Parsers.Generation(a.Completion, a.FinishReason).Failure);
            if (r.Attempts.Count > 0 && r.Attempts[^1].SelfScore >= 1) selfAccepted++;
            if (Demo(r.Id, oracle) is not { } p || r.Attempts.Count == 0) continue;
            judged++;
            if (OracleScore(p, Parsers.Generation(r.Attempts[0].Completion, r.Attempts[0].FinishReason)) >= 1) pass1++;
            var last = r.Attempts.Take(maxIterations).Last();
            if (OracleScore(p, Parsers.Generation(last.Completion, last.FinishReason)) >= 1) passMax++;
        }
        m["refinement.maxIterations"] = maxIterations;
        m["refinement.meanIterations"] = Round(records.Average(r => (double)r.Attempts.Count));
        m["refinement.selfAcceptedRate"] = Round(selfAccepted / (double)records.Count);
        if (judged > 0)
        {
            m["refinement.passAt1Iteration"] = Round(pass1 / (double)judged);
            m["refinement.passAtMaxIterations"] = Round(passMax / (double)judged);
        }
        return m;
    }

    /// <summary>The oracle's score of a parsed generation: 0 when no proof could be read.</summary>
    public static double OracleScore(ArithmeticProblem p, GenerationParse g) =>
        g.Proof is { Length: > 0 } proof ? Oracle.ScoreProof(p, proof).Score : 0;

    /// <summary>The demo problem the oracle judges, when the lap has the oracle (a dataset lap never does, whatever its ids).</summary>
    public static ArithmeticProblem? Demo(string problemId, bool oracle) => oracle ? ArithmeticDomainIds.TryProblem(problemId) : null;

    public static int RowIndex(string id) =>
        id.StartsWith("row-", StringComparison.Ordinal) && int.TryParse(id.AsSpan(4), System.Globalization.CultureInfo.InvariantCulture, out int i) ? i
        : throw new FormatException($"'{id}' is not a row id (row-N)");

    static void CountFailure(Dictionary<string, double> m, ParseFailure f)
    {
        if (f == ParseFailure.None) return;
        string key = $"parseFailures.{JsonNamingPolicy.CamelCase.ConvertName(f.ToString())}";
        m[key] = m.GetValueOrDefault(key) + 1;
    }

    static double Round(double x) => Math.Round(x, 4);

    /// <summary>Merges measures; parse-failure counts add up, everything else is overwritten.</summary>
    public static void Merge(Dictionary<string, double> into, IReadOnlyDictionary<string, double> from)
    {
        foreach (var (k, v) in from) into[k] = k.StartsWith("parseFailures.", StringComparison.Ordinal) ? into.GetValueOrDefault(k) + v : v;
    }
}
