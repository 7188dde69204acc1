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
    /// <summary>The paper's rule, when every sample it draws was drawn (always with consensus.waves 2; with more waves when the proof needed them all); else null.</summary>
    public ConsensusResult? Fixed { get; init; }
    /// <summary>The adaptive rule on the samples drawn: the same outcome as the fixed rule's on the same samples, and what it needed.</summary>
    public required ConsensusResult Adaptive { get; init; }
    /// <summary>Samples drawn for this proof (analyses and meta-verifications, with any a wave drew ahead).</summary>
    public int Drawn { get; init; }
    /// <summary>The outcome: the fixed rule's where it was computed, else the adaptive rule's (the same by construction).</summary>
    [System.Text.Json.Serialization.JsonIgnore] public ConsensusResult Outcome => Fixed ?? Adaptive;
    /// <summary>The oracle's score (demo problems only): what the label is measured against.</summary>
    public double? Oracle { get; init; }
}

/// <summary>
/// Phase 4 on sampled outputs: analysis completions have the proof's id and index i (0..n−1); meta-verification
/// completions have the id "{proofId}#{i}" and index j. An unparsable analysis is left out (n shrinks for that
/// proof; a proof without a parsable analysis is discarded); an unparsable meta-verdict abstains (it neither
/// confirms nor rejects the analysis). Samples are drawn in waves (<see cref="ConsensusWaves"/>): what a proof has
/// drawn is always analyses 0..d−1 and, per analysis, verdicts 0..e−1.
/// </summary>
public static class AutoLabelling
{
    public static string MetaId(string proofId, int analysis) => $"{proofId}#{analysis}";

    /// <summary>The analyses of one proof that report an issue (parsable, score below 1): they need meta-verification.</summary>
    public static IEnumerable<(int Index, string Analysis)> IssueReports(IEnumerable<SampleCompletion> analysesOfProof) =>
        analysesOfProof.OrderBy(a => a.Index).Select(a => (a.Index, p: Parsers.Verification(a.Completion, a.FinishReason), a.Completion))
            .Where(x => x.p.FormatOk && x.p.Score < 1).Select(x => (x.Index, x.Completion));

    /// <summary>
    /// One proof's draws from its completions (analyses by index, verdicts by "{proofId}#{i}" and index); a gap in
    /// either (index 2 without 1) is an error naming the proof, as is a sample drawn twice.
    /// </summary>
    public static ConsensusDraws Draws(string proofId, IEnumerable<SampleCompletion> analysesOfProof, IReadOnlyDictionary<string, List<SampleCompletion>> metasById)
    {
        var d = new ConsensusDraws();
        var ordered = analysesOfProof.OrderBy(a => a.Index).ToList();
        for (int i = 0; i < ordered.Count; i++)
        {
            if (ordered[i].Index != i)
                throw new InvalidDataException($"proof {proofId}: analysis {Math.Min(i, ordered[i].Index)} is {(ordered[i].Index < i ? "drawn twice" : "missing")}");
            var p = Parsers.Verification(ordered[i].Completion, ordered[i].FinishReason);
            d.Analyses.Add(p.FormatOk ? p.Score : null);
            var verdicts = metasById.GetValueOrDefault(MetaId(proofId, i));
            if (verdicts is null) continue;
            var scores = new List<double?>();
            foreach (var m in verdicts.OrderBy(m => m.Index))
            {
                if (m.Index != scores.Count)
                    throw new InvalidDataException($"proof {proofId}: meta-verification {Math.Min(m.Index, scores.Count)} of analysis {i} is {(m.Index < scores.Count ? "drawn twice" : "missing")}");
                scores.Add(Parsers.MetaVerification(m.Completion, m.FinishReason) is { FormatOk: true, Score: { } s } ? s : null);
            }
            d.Metas[i] = scores;
        }
        return d;
    }

    /// <summary>
    /// Labels each proof from the samples drawn: the adaptive rule replayed on them (it must be settled: a sample it
    /// asks for and that was not drawn is an error naming it), and the fixed rule too when all it draws was drawn.
    /// </summary>
    public static List<ConsensusLabel> Label(IReadOnlyList<ConsensusProof> proofs, IReadOnlyList<SampleCompletion> analyses, IReadOnlyList<SampleCompletion> metas, ConsensusOptions o,
        bool oracle = true)
    {
        var byProof = analyses.GroupBy(a => a.Id).ToDictionary(g => g.Key, g => g.ToList());
        var metaById = metas.GroupBy(m => m.Id).ToDictionary(g => g.Key, g => g.ToList());
        var labels = new List<ConsensusLabel>();
        foreach (var proof in proofs)
        {
            var d = Draws(proof.Id, byProof.GetValueOrDefault(proof.Id, []), metaById);
            var (adaptive, missing) = ConsensusWaves.Replay(d, o);
            if (adaptive is null) throw new InvalidDataException($"proof {proof.Id}: the consensus is not settled; it needs {missing}, which was not drawn");
            ConsensusResult? fixedResult = null;
            if (d.HoldsFixedRule(o))
            {
                var parsed = d.Analyses.Select((s, i) => (Index: i, Score: s)).Where(x => x.Score != null).Select(x => (x.Index, x.Score!.Value)).ToList();
                // The fixed rule draws all n analyses, unparsable ones included.
                fixedResult = parsed.Count == 0 ? adaptive : ConsensusLabeler.Fixed(new Samples(d, parsed), o with { N = parsed.Count }) with { AnalysesSampled = d.Analyses.Count };
            }
            double? oracleScore = LapMeasures.Demo(proof.ProblemId, oracle) is { } p ? Oracle.ScoreProof(p, proof.Proof).Score : null;
            labels.Add(new ConsensusLabel { Proof = proof, Fixed = fixedResult, Adaptive = adaptive, Drawn = d.Count, Oracle = oracleScore });
        }
        return labels;
    }

    /// <summary>Report measures: labelled / discarded counts, agreement of labels with the oracle, samples used by both rules.</summary>
    public static Dictionary<string, double> Measures(IReadOnlyList<ConsensusLabel> labels)
    {
        var m = new Dictionary<string, double>();
        if (labels.Count == 0) return m;
        var labelled = labels.Where(l => l.Outcome.Decision == ConsensusDecision.Labeled).ToList();
        m["consensus.proofs"] = labels.Count;
        m["consensus.labelled"] = labelled.Count;
        m["consensus.discardRate"] = Math.Round(1 - labelled.Count / (double)labels.Count, 4);
        var judged = labelled.Where(l => l.Oracle != null).ToList();
        if (judged.Count > 0) m["consensus.agreement"] = Math.Round(judged.Count(l => l.Outcome.Label == l.Oracle) / (double)judged.Count, 4);
        m["consensus.samplesDrawn"] = labels.Sum(l => l.Drawn);
        m["consensus.samplesAdaptive"] = labels.Sum(l => l.Adaptive.SamplesUsed);
        // The paper's rule's cost and agreement only where all it draws was drawn (waves 2).
        if (labels.All(l => l.Fixed != null))
        {
            m["consensus.samplesFixed"] = labels.Sum(l => l.Fixed!.SamplesUsed);
            m["consensus.adaptiveSameOutcome"] = Math.Round(labels.Count(l => l.Adaptive.Decision == l.Fixed!.Decision && l.Adaptive.Label == l.Fixed.Label) / (double)labels.Count, 4);
        }
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
        var strata = labels.Select((l, i) => (l, i)).Where(x => x.l.Outcome.Decision == ConsensusDecision.Labeled)
            .GroupBy(x => x.l.Outcome.Label!.Value).OrderBy(g => g.Key)
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
        m["consensus.audit.agreement"] = Math.Round(people.Count(p => labels[p.Key].Outcome.Label == p.Value) / (double)people.Count, 4);
        foreach (var g in people.GroupBy(p => labels[p.Key].Outcome.Label!.Value))
            m[$"consensus.audit.agreement.label{g.Key.ToString(System.Globalization.CultureInfo.InvariantCulture)}"] = Math.Round(g.Count(p => labels[p.Key].Outcome.Label == p.Value) / (double)g.Count(), 4);
        return m;
    }

    /// <summary>The parsable analyses of one proof, renumbered 0..n′−1, and their meta-verdicts (all drawn).</summary>
    sealed class Samples(ConsensusDraws d, List<(int Index, double Score)> parsed) : IConsensusSamples
    {
        public double AnalysisScore(int i) => parsed[i].Score;
        public double? MetaScore(int analysis, int j) => d.Metas[parsed[analysis].Index][j];
    }
}
