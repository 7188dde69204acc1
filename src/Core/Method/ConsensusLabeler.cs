namespace MathV2.Core.Method;

/// <summary>n, m, k of phase 4 (docs/method.md; defaults n=8, m=4, k=2).</summary>
public sealed record ConsensusOptions
{
    /// <summary>Verifier analyses per proof.</summary>
    public int N { get; init; } = 8;
    /// <summary>Meta-verifications per issue-reporting analysis.</summary>
    public int M { get; init; } = 4;
    /// <summary>Valid lowest-score analyses needed to label the proof with that score.</summary>
    public int K { get; init; } = 2;

    public IEnumerable<(string Field, string Message)> Validate()
    {
        if (N < 1) yield return ("n", "must be at least 1");
        if (M < 1) yield return ("m", "must be at least 1");
        if (K < 1 || K > N) yield return ("k", "must be between 1 and n");
    }
}

/// <summary>
/// The samples a consensus decision may draw: analysis i's score, and meta-verdict j on analysis i. Both must
/// be deterministic (the same i and j give the same sample), so fixed and adaptive labeling see the same draws.
/// </summary>
public interface IConsensusSamples
{
    double AnalysisScore(int i);
    /// <summary>The verdict's score, or null when it is unreadable (no verdict, cut at the token cap, malformed): it abstains.</summary>
    double? MetaScore(int analysis, int j);
}

public enum ConsensusDecision { Labeled, Discarded }

/// <summary>One verifier analysis as the decision saw it; a null meta score is an unreadable verdict (an abstention).</summary>
public sealed record ConsensusAnalysis(int Index, double Score, IReadOnlyList<double?> MetaScores, bool? Valid);

/// <summary>The outcome with its evidence and the samples it cost.</summary>
public sealed record ConsensusResult
{
    public required ConsensusDecision Decision { get; init; }
    /// <summary>The label when <see cref="Decision"/> is Labeled.</summary>
    public double? Label { get; init; }
    public required string Reason { get; init; }
    public required IReadOnlyList<ConsensusAnalysis> Evidence { get; init; }
    public int AnalysesSampled { get; init; }
    public int MetaSampled { get; init; }
    public int SamplesUsed => AnalysesSampled + MetaSampled;
}

/// <summary>
/// Phase 4's auto-labeling rule: sample n analyses; an analysis reporting issues (score 0 or 0.5) is valid when
/// the majority of its m meta-verifications confirm it (meta score 1). Take the analyses with the lowest score:
/// if at least k of them are valid, label the proof with that score; if no analysis found a legitimate issue (each
/// issue report judged bogus: the majority of its meta-verifications rate it 0), label it 1; otherwise discard it
/// (or send it to humans). A report rated 0.5 (its defects partly real, or its score not following) is neither.
/// An unreadable meta-verdict abstains: it neither confirms nor rejects, and the majorities stay majorities of m, so
/// a report whose verdicts could not be read is never taken as bogus (no label 1 from unreadable verdicts).
/// </summary>
public static class ConsensusLabeler
{
    /// <summary>The paper's rule: all n analyses, all m meta-verifications of every issue-reporting analysis.</summary>
    public static ConsensusResult Fixed(IConsensusSamples samples, ConsensusOptions o)
    {
        var analyses = new List<ConsensusAnalysis>();
        int metas = 0;
        for (int i = 0; i < o.N; i++)
        {
            double s = samples.AnalysisScore(i);
            if (s >= 1) { analyses.Add(new(i, s, [], null)); continue; }
            var ms = Enumerable.Range(0, o.M).Select(j => samples.MetaScore(i, j)).ToList();
            metas += o.M;
            analyses.Add(new(i, s, ms, Confirms(ms) * 2 > o.M));
        }
        return Decide(analyses, o, o.N, metas);
    }

    /// <summary>
    /// Same outcome as <see cref="Fixed"/> for the same samples, with fewer samples: analyses are drawn one by one
    /// and stop once k valid analyses of score 0 are known (nothing can change that label); meta-verifications are
    /// drawn only for analyses that can still decide the outcome, and stop once the majority is settled.
    /// </summary>
    public static ConsensusResult Adaptive(IConsensusSamples samples, ConsensusOptions o)
    {
        var scores = new List<double>();
        var metaCache = new Dictionary<int, List<double?>>();
        int metas = 0;

        // Draws analysis i's meta-verifications until it is settled whether a majority of the m rate it as counts does.
        bool Majority(int i, Func<double?, bool> counts)
        {
            if (!metaCache.TryGetValue(i, out var ms)) metaCache[i] = ms = [];
            while (true)
            {
                int yes = ms.Count(counts), left = o.M - ms.Count;
                if (yes * 2 > o.M) return true;           // a majority already
                if ((yes + left) * 2 <= o.M) return false; // a majority can no longer be reached
                ms.Add(samples.MetaScore(i, ms.Count));
                metas++;
            }
        }
        bool Validity(int i) => Majority(i, Confirming);
        bool Bogus(int i) => Majority(i, Rejecting);

        // Draw analyses; stop early when k analyses of score 0 are valid (0 is the lowest possible score).
        for (int i = 0; i < o.N; i++)
        {
            scores.Add(samples.AnalysisScore(i));
            var zeros = Enumerable.Range(0, scores.Count).Where(x => scores[x] <= 0).ToList();
            if (zeros.Count >= o.K && zeros.Count(Validity) >= o.K) break;
        }

        // Settle validity lazily: first the lowest-score group, then (only if needed) any other issue report.
        var issues = Enumerable.Range(0, scores.Count).Where(i => scores[i] < 1).ToList();
        if (issues.Count > 0)
        {
            double lowest = issues.Min(i => scores[i]);
            int valid = 0;
            foreach (int i in issues.Where(i => scores[i] == lowest))
                if (Validity(i) && ++valid >= o.K) break;
            // One legitimate issue anywhere decides "discard" over "label 1", and so does one that is not judged bogus.
            if (valid < o.K && !issues.Any(Validity))
                foreach (int i in issues)
                    if (!Bogus(i)) break;
        }

        var analyses = Enumerable.Range(0, scores.Count).Select(i =>
            new ConsensusAnalysis(i, scores[i], metaCache.TryGetValue(i, out var ms) ? ms : [],
                metaCache.ContainsKey(i) ? Confirms(metaCache[i]) * 2 > o.M : null)).ToList();
        return Decide(analyses, o, scores.Count, metas);
    }

    static int Confirms(IEnumerable<double?> metaScores) => metaScores.Count(Confirming);

    /// <summary>A meta-verdict that confirms the analysis (1), and one that calls every claimed defect bogus (0); 0.5 and unreadable are neither.</summary>
    static bool Confirming(double? meta) => meta >= 1;
    static bool Rejecting(double? meta) => meta <= 0;

    /// <summary>Whether the majority of the m meta-verifications rated the analysis 0: every defect it claims is bogus.</summary>
    static bool JudgedBogus(ConsensusAnalysis a, ConsensusOptions o) => a.MetaScores.Count(Rejecting) * 2 > o.M;

    static ConsensusResult Decide(List<ConsensusAnalysis> analyses, ConsensusOptions o, int analysesSampled, int metaSampled)
    {
        var issues = analyses.Where(a => a.Score < 1).ToList();
        ConsensusResult Result(ConsensusDecision d, double? label, string reason) => new()
        {
            Decision = d, Label = label, Reason = reason, Evidence = analyses, AnalysesSampled = analysesSampled, MetaSampled = metaSampled,
        };
        if (issues.Count == 0) return Result(ConsensusDecision.Labeled, 1, "no analysis reported an issue");
        double lowest = issues.Min(a => a.Score);
        int validLowest = issues.Count(a => a.Score == lowest && a.Valid == true);
        if (validLowest >= o.K) return Result(ConsensusDecision.Labeled, lowest, $"{validLowest} valid analyses with the lowest score {lowest:0.#}");
        if (issues.Any(a => a.Valid == true))
            return Result(ConsensusDecision.Discarded, null, $"only {validLowest} of the lowest-score ({lowest:0.#}) analyses are valid (k = {o.K}); to humans");
        if (issues.All(a => JudgedBogus(a, o)))
            return Result(ConsensusDecision.Labeled, 1, "every reported issue was judged bogus by the meta-verifier");
        return Result(ConsensusDecision.Discarded, null, "reported issues were neither confirmed nor judged bogus by the meta-verifier (rated 0.5: partly right); to humans");
    }
}
