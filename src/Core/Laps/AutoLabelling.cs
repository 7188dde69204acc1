using MathV2.Core.Demo;
using MathV2.Core.Method;

namespace MathV2.Core.Laps;

/// <summary>A proof phase 4 labels: the improved generator's, for a D_p problem.</summary>
public sealed record ConsensusProof
{
    public required string Id { get; init; }
    public required string ProblemId { get; init; }
    public required string Problem { get; init; }
    public required string Proof { get; init; }
}

/// <summary>A line of consensus.jsonl (and of discarded.jsonl for the proofs not labelled): decision, evidence, cost.</summary>
public sealed record ConsensusLabel
{
    public required ConsensusProof Proof { get; init; }
    public required ConsensusResult Fixed { get; init; }
    /// <summary>What the adaptive rule decides from the same samples, and what it would have cost.</summary>
    public required ConsensusResult Adaptive { get; init; }
    /// <summary>The oracle's score (demo problems only): what the label is measured against.</summary>
    public double? Oracle { get; init; }
}

/// <summary>
/// Phase 4 on sampled outputs: analysis completions have the proof's id and index i (0..n−1); meta-verification
/// completions have the id "{proofId}#{i}" and index j. An unparsable analysis is left out (n shrinks for that
/// proof; a proof without a parsable analysis is discarded); an unparsable or missing meta-verdict abstains (it
/// neither confirms nor rejects the analysis).
/// </summary>
public static class AutoLabelling
{
    public static string MetaId(string proofId, int analysis) => $"{proofId}#{analysis}";

    /// <summary>The analyses of one proof that report an issue (parsable, score below 1): they need meta-verification.</summary>
    public static IEnumerable<(int Index, string Analysis)> IssueReports(IEnumerable<SampleCompletion> analysesOfProof) =>
        analysesOfProof.OrderBy(a => a.Index).Select(a => (a.Index, p: Parsers.Verification(a.Completion, a.FinishReason), a.Completion))
            .Where(x => x.p.FormatOk && x.p.Score < 1).Select(x => (x.Index, x.Completion));

    public static List<ConsensusLabel> Label(IReadOnlyList<ConsensusProof> proofs, IReadOnlyList<SampleCompletion> analyses, IReadOnlyList<SampleCompletion> metas, ConsensusOptions o,
        bool oracle = true)
    {
        var byProof = analyses.GroupBy(a => a.Id).ToDictionary(g => g.Key, g => g.OrderBy(a => a.Index).ToList());
        var metaById = metas.GroupBy(m => m.Id).ToDictionary(g => g.Key, g => g.OrderBy(m => m.Index).ToList());
        var labels = new List<ConsensusLabel>();
        foreach (var proof in proofs)
        {
            var parsed = byProof.GetValueOrDefault(proof.Id, [])
                .Select(a => (a.Index, p: Parsers.Verification(a.Completion, a.FinishReason))).Where(x => x.p.FormatOk).ToList();
            var samples = new Samples(proof.Id, parsed.Select(x => (x.Index, x.p.Score!.Value)).ToList(), metaById);
            var opts = o with { N = parsed.Count };
            ConsensusResult fixedResult, adaptive;
            if (parsed.Count == 0)
                fixedResult = adaptive = new ConsensusResult { Decision = ConsensusDecision.Discarded, Reason = "no parsable verifier analysis; to humans", Evidence = [] };
            else
            {
                fixedResult = ConsensusLabeler.Fixed(samples, opts);
                adaptive = ConsensusLabeler.Adaptive(samples, opts);
            }
            double? oracleScore = LapMeasures.Demo(proof.ProblemId, oracle) is { } p ? Oracle.ScoreProof(p, proof.Proof).Score : null;
            labels.Add(new ConsensusLabel { Proof = proof, Fixed = fixedResult, Adaptive = adaptive, Oracle = oracleScore });
        }
        return labels;
    }

    /// <summary>Report measures: labelled / discarded counts, agreement of labels with the oracle, samples used by both rules.</summary>
    public static Dictionary<string, double> Measures(IReadOnlyList<ConsensusLabel> labels)
    {
        var m = new Dictionary<string, double>();
        if (labels.Count == 0) return m;
        var labelled = labels.Where(l => l.Fixed.Decision == ConsensusDecision.Labeled).ToList();
        m["consensus.proofs"] = labels.Count;
        m["consensus.labelled"] = labelled.Count;
        m["consensus.discardRate"] = Math.Round(1 - labelled.Count / (double)labels.Count, 4);
        var judged = labelled.Where(l => l.Oracle != null).ToList();
        if (judged.Count > 0) m["consensus.agreement"] = Math.Round(judged.Count(l => l.Fixed.Label == l.Oracle) / (double)judged.Count, 4);
        m["consensus.samplesFixed"] = labels.Sum(l => l.Fixed.SamplesUsed);
        m["consensus.samplesAdaptive"] = labels.Sum(l => l.Adaptive.SamplesUsed);
        m["consensus.adaptiveSameOutcome"] = Math.Round(labels.Count(l => l.Adaptive.Decision == l.Fixed.Decision && l.Adaptive.Label == l.Fixed.Label) / (double)labels.Count, 4);
        return m;
    }

    /// <summary>The audit item id of the consensus label at <paramref name="index"/> in consensus.jsonl.</summary>
    public static string AuditItemId(int index) => $"proof-{index:00000}";

    /// <summary>
    /// Phase 4's audit: up to <paramref name="size"/> labelled proofs, stratified over labels (each label's share of
    /// the batch as of the labelled proofs, at least one of each label while the size allows), in a seeded order.
    /// Returns indices into <paramref name="labels"/>, ascending.
    /// </summary>
    public static List<int> PickAudit(IReadOnlyList<ConsensusLabel> labels, int size, string seed)
    {
        var strata = labels.Select((l, i) => (l, i)).Where(x => x.l.Fixed.Decision == ConsensusDecision.Labeled)
            .GroupBy(x => x.l.Fixed.Label!.Value).OrderBy(g => g.Key)
            .Select(g => g.Select(x => x.i).OrderBy(i => new Random(StableHash.Seed(seed, labels[i].Proof.Id)).Next()).ThenBy(i => i).ToList()).ToList();
        int total = strata.Sum(s => s.Count);
        if (size <= 0 || total == 0) return [];
        if (size >= total) return strata.SelectMany(s => s).Order().ToList();
        // Largest remainder over the strata's shares, after one each while the size allows.
        var take = strata.Select(_ => 0).ToArray();
        int left = size;
        for (int s = 0; s < strata.Count && left > 0; s++) { take[s] = 1; left--; }
        var want = strata.Select((st, s) => Math.Max(0, st.Count * (double)size / total - take[s])).ToArray();
        for (int s = 0; s < strata.Count; s++)
        {
            int add = Math.Min((int)Math.Floor(want[s]), Math.Min(left, strata[s].Count - take[s]));
            take[s] += add;
            left -= add;
        }
        foreach (int s in Enumerable.Range(0, strata.Count).OrderByDescending(s => want[s] - Math.Floor(want[s])).ThenBy(s => s))
            if (left > 0 && take[s] < strata[s].Count) { take[s]++; left--; }
        for (int s = 0; left > 0 && s < strata.Count; s++)
        {
            int add = Math.Min(left, strata[s].Count - take[s]);
            take[s] += add;
            left -= add;
        }
        return strata.SelectMany((st, s) => st.Take(take[s])).Order().ToList();
    }

    /// <summary>Audit measures: items people checked, the share where the consensus label equals theirs, and per label.</summary>
    public static Dictionary<string, double> AuditMeasures(IReadOnlyList<ConsensusLabel> labels, IReadOnlyDictionary<int, double> people)
    {
        var m = new Dictionary<string, double>();
        if (people.Count == 0) return m;
        m["consensus.audit.items"] = people.Count;
        m["consensus.audit.agreement"] = Math.Round(people.Count(p => labels[p.Key].Fixed.Label == p.Value) / (double)people.Count, 4);
        foreach (var g in people.GroupBy(p => labels[p.Key].Fixed.Label!.Value))
            m[$"consensus.audit.agreement.label{g.Key.ToString(System.Globalization.CultureInfo.InvariantCulture)}"] = Math.Round(g.Count(p => labels[p.Key].Fixed.Label == p.Value) / (double)g.Count(), 4);
        return m;
    }

    /// <summary>The parsable analyses of one proof, renumbered 0..n′−1, and their meta-verdicts.</summary>
    sealed class Samples(string proofId, List<(int Index, double Score)> parsed, Dictionary<string, List<SampleCompletion>> metas) : IConsensusSamples
    {
        public double AnalysisScore(int i) => parsed[i].Score;

        public double? MetaScore(int analysis, int j)
        {
            var list = metas.GetValueOrDefault(MetaId(proofId, parsed[analysis].Index), []);
            if (j >= list.Count) return null;
            return Parsers.MetaVerification(list[j].Completion, list[j].FinishReason) is { FormatOk: true, Score: { } s } ? s : null;
        }
    }
}
