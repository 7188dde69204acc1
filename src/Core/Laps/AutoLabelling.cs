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

    public static List<ConsensusLabel> Label(IReadOnlyList<ConsensusProof> proofs, IReadOnlyList<SampleCompletion> analyses, IReadOnlyList<SampleCompletion> metas, ConsensusOptions o)
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
            double? oracle = ArithmeticDomainIds.TryProblem(proof.ProblemId) is { } p ? Oracle.ScoreProof(p, proof.Proof).Score : null;
            labels.Add(new ConsensusLabel { Proof = proof, Fixed = fixedResult, Adaptive = adaptive, Oracle = oracle });
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
