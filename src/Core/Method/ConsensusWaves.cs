namespace MathV2.Core.Method;

/// <summary>
/// One proof's consensus samples drawn so far: analyses 0..Analyses.Count−1 in index order (a null score: the
/// analysis could not be parsed) and, by analysis index, its meta-verdicts 0..count−1 (null: unreadable).
/// </summary>
public sealed class ConsensusDraws
{
    public List<double?> Analyses { get; } = [];
    public Dictionary<int, List<double?>> Metas { get; } = [];
    public int Count => Analyses.Count + Metas.Values.Sum(m => m.Count);

    /// <summary>Whether every sample the fixed rule draws is here: all n analyses, all m verdicts of each issue report.</summary>
    public bool HoldsFixedRule(ConsensusOptions o) => Analyses.Count >= o.N
        && Analyses.Select((s, i) => (s, i)).Where(x => x.s < 1).All(x => Metas.GetValueOrDefault(x.i)?.Count >= o.M);
}

/// <summary>A sample of one proof's consensus: analysis <see cref="Analysis"/>, or its meta-verdict <see cref="Meta"/>.</summary>
public readonly record struct ConsensusSample(int Analysis, int? Meta)
{
    public override string ToString() => Meta is { } j ? $"meta-verification {j} of analysis {Analysis}" : $"analysis {Analysis}";
}

/// <summary>The samples of one proof to draw in a wave: analysis indices, and verdict indices by analysis.</summary>
public sealed record ConsensusWaveRequest(IReadOnlyList<int> Analyses, IReadOnlyDictionary<int, IReadOnlyList<int>> Metas)
{
    public int Count => Analyses.Count + Metas.Values.Sum(m => m.Count);
}

/// <summary>
/// Phase 4's consensus drawn adaptively in waves of verification jobs: after each wave the adaptive rule is
/// replayed on what has been drawn; a proof whose outcome is settled draws nothing more, and for the others the
/// next wave draws what the rule asks for next, with some look-ahead so a proof settles in a few waves, not one
/// per sample. Samples are keyed (proof, index), so the outcome is the fixed rule's on the same samples. The last
/// two waves draw whatever the fixed rule would still draw (all analyses, then all verdicts of every issue
/// report), so every proof is settled after <c>waves</c>; two waves is the fixed rule itself.
/// </summary>
public static class ConsensusWaves
{
    /// <summary>Verdicts that make a majority of m.</summary>
    public static int Majority(int m) => m / 2 + 1;

    /// <summary>The adaptive rule on the draws: its result once every sample it asks for is drawn, else the first sample it lacks.</summary>
    public static (ConsensusResult? Result, ConsensusSample? Missing) Replay(ConsensusDraws d, ConsensusOptions o)
    {
        var parsed = d.Analyses.Select((s, i) => (Index: i, Score: s)).Where(x => x.Score != null).Select(x => (x.Index, Score: x.Score!.Value)).ToList();
        int drawn = d.Analyses.Count;
        if (parsed.Count == 0)
            return drawn >= o.N
                ? (new ConsensusResult { Decision = ConsensusDecision.Discarded, Reason = "no parsable verifier analysis; to humans", Evidence = [], AnalysesSampled = drawn }, null)
                : (null, new ConsensusSample(drawn, null));
        // The rule sees the parsable analyses renumbered; those not drawn yet may all parse.
        var opts = o with { N = parsed.Count + Math.Max(0, o.N - drawn) };
        try
        {
            return (ConsensusLabeler.Adaptive(new Drawn(d, parsed), opts), null);
        }
        catch (MissingSample e)
        {
            return (null, e.Sample);
        }
    }

    /// <summary>
    /// What an unsettled proof draws in wave <paramref name="wave"/> (0-based) of <paramref name="waves"/>, given
    /// the sample the rule lacks: analyses up to k (the fewest that can settle a proof), then all n; verdicts of
    /// the issue reports with the lacking one's score, up to a majority of m, then all m. The last two waves draw
    /// all the fixed rule still would.
    /// </summary>
    public static ConsensusWaveRequest Plan(ConsensusDraws d, ConsensusOptions o, int wave, int waves, ConsensusSample missing)
    {
        int drawn = d.Analyses.Count;
        var metas = new Dictionary<int, IReadOnlyList<int>>();
        var issues = d.Analyses.Select((s, i) => (s, i)).Where(x => x.s < 1).Select(x => x.i).ToList();
        int Has(int i) => d.Metas.GetValueOrDefault(i)?.Count ?? 0;
        if (wave >= waves - 2)
        {
            foreach (int i in issues.Where(i => Has(i) < o.M)) metas[i] = Range(Has(i), o.M);
            return new(wave >= waves - 1 ? [] : Range(drawn, o.N), metas);
        }
        if (missing.Meta is null) return new(Range(drawn, drawn < o.K ? o.K : o.N), metas);
        double score = d.Analyses[missing.Analysis]!.Value;
        foreach (int i in issues.Where(i => d.Analyses[i] == score && (i == missing.Analysis || !Settled(d.Metas.GetValueOrDefault(i) ?? [], o.M))))
            if (Has(i) < o.M) metas[i] = Range(Has(i), Has(i) < Majority(o.M) ? Majority(o.M) : o.M);
        return new([], metas);
    }

    /// <summary>
    /// Draws one proof's consensus in waves from a sample source (analysis i's score, null if unparsable; verdict j
    /// on analysis i): the result, the samples drawn and the waves it took (the benchmark and tests).
    /// </summary>
    public static (ConsensusResult Result, ConsensusDraws Draws, int Waves) Run(Func<int, double?> analysis, Func<int, int, double?> meta, ConsensusOptions o, int waves)
    {
        var d = new ConsensusDraws();
        for (int w = 0; ; w++)
        {
            var (result, missing) = Replay(d, o);
            if (result != null) return (result, d, w);
            if (w >= waves) throw new InvalidOperationException($"the consensus is not settled after {waves} waves: it lacks {missing}");
            Draw(d, Plan(d, o, w, waves, missing!.Value), analysis, meta);
        }
    }

    /// <summary>Adds a wave's samples to the draws (analyses in index order, each verdict list in index order).</summary>
    public static void Draw(ConsensusDraws d, ConsensusWaveRequest r, Func<int, double?> analysis, Func<int, int, double?> meta)
    {
        foreach (int i in r.Analyses)
        {
            if (i != d.Analyses.Count) throw new InvalidOperationException($"analysis {i} drawn out of order (have {d.Analyses.Count})");
            d.Analyses.Add(analysis(i));
        }
        foreach (var (i, js) in r.Metas)
        {
            if (!d.Metas.TryGetValue(i, out var list)) d.Metas[i] = list = [];
            foreach (int j in js)
            {
                if (j != list.Count) throw new InvalidOperationException($"verdict {j} of analysis {i} drawn out of order (have {list.Count})");
                list.Add(meta(i, j));
            }
        }
    }

    /// <summary>Whether a verdict list of m settles both majorities the rule may ask about (confirmed, judged bogus).</summary>
    static bool Settled(List<double?> verdicts, int m)
    {
        int left = m - verdicts.Count, yes = verdicts.Count(v => v >= 1), no = verdicts.Count(v => v <= 0);
        static bool Decided(int count, int left, int m) => count * 2 > m || (count + left) * 2 <= m;
        return Decided(yes, left, m) && Decided(no, left, m);
    }

    static int[] Range(int from, int to) => Enumerable.Range(from, Math.Max(0, to - from)).ToArray();

    sealed class MissingSample(ConsensusSample sample) : Exception
    {
        public ConsensusSample Sample { get; } = sample;
    }

    /// <summary>The parsable analyses drawn, renumbered as the rule sees them; a sample not drawn yet stops the replay.</summary>
    sealed class Drawn(ConsensusDraws d, List<(int Index, double Score)> parsed) : IConsensusSamples
    {
        public double AnalysisScore(int i) => i < parsed.Count ? parsed[i].Score : throw new MissingSample(new(d.Analyses.Count, null));

        public double? MetaScore(int analysis, int j)
        {
            int index = parsed[analysis].Index;
            var list = d.Metas.GetValueOrDefault(index) ?? [];
            return j < list.Count ? list[j] : throw new MissingSample(new(index, j));
        }
    }
}
