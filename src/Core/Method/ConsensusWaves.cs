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
        var parsed = Parse(d);
        int drawn = d.Analyses.Count;
        if (parsed.Count == 0)
            return drawn >= o.N
                ? (new ConsensusResult { Decision = ConsensusDecision.Discarded, Reason = "no parsable verifier analysis; to humans", Evidence = [], AnalysesSampled = drawn }, null)
                : (null, new ConsensusSample(drawn, null));
        // The rule sees the parsable analyses renumbered; those not drawn yet may all parse.
        var opts = o with { N = parsed.Count + Math.Max(0, o.N - drawn) };
        try
        {
            var r = ConsensusLabeler.Adaptive(new Drawn(d, parsed), opts);
            // Analyses counted as drawn up to the last one the rule read, unparsable ones included (all when it read to the end).
            int read = r.AnalysesSampled;
            return (r with { AnalysesSampled = read == opts.N && drawn >= o.N ? drawn : read == 0 ? 0 : parsed[read - 1].Index + 1 }, null);
        }
        catch (MissingSample e)
        {
            return (null, e.Sample);
        }
    }

    /// <summary>
    /// What an unsettled proof draws in wave <paramref name="wave"/> (0-based) of <paramref name="waves"/>: the
    /// samples the rule asks for along its likeliest path. The rule is run on the draws with each sample not drawn
    /// yet predicted (an analysis scores as the last one drawn did, 0 when none was; a verdict repeats the last one
    /// drawn of that analysis, else of the proof, else confirms), and every sample it asks for that a job can draw
    /// now is drawn: analyses, and verdicts of analyses already drawn. Right predictions settle the proof in this
    /// wave; a wrong one costs a wave and the samples asked for after it. The last two waves draw all the fixed
    /// rule still would.
    /// </summary>
    public static ConsensusWaveRequest Plan(ConsensusDraws d, ConsensusOptions o, int wave, int waves)
    {
        int drawn = d.Analyses.Count;
        if (wave >= waves - 2)
        {
            var rest = new Dictionary<int, IReadOnlyList<int>>();
            foreach (int i in Enumerable.Range(0, drawn).Where(i => d.Analyses[i] < 1 && (d.Metas.GetValueOrDefault(i)?.Count ?? 0) < o.M))
                rest[i] = Range(d.Metas.GetValueOrDefault(i)?.Count ?? 0, o.M);
            return new(wave >= waves - 1 ? [] : Range(drawn, o.N), rest);
        }
        var likeliest = new Likeliest(d);
        ConsensusLabeler.Adaptive(likeliest, o with { N = likeliest.Parsed.Count + Math.Max(0, o.N - drawn) });
        return new(likeliest.Analyses, likeliest.Metas.ToDictionary(x => x.Key, x => (IReadOnlyList<int>)x.Value));
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
            Draw(d, Plan(d, o, w, waves), analysis, meta);
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

    static int[] Range(int from, int to) => Enumerable.Range(from, Math.Max(0, to - from)).ToArray();

    sealed class MissingSample(ConsensusSample sample) : Exception
    {
        public ConsensusSample Sample { get; } = sample;
    }

    /// <summary>The draws with every sample not drawn yet predicted; records those a job can draw now, in the order asked.</summary>
    sealed class Likeliest(ConsensusDraws d) : IConsensusSamples
    {
        public List<(int Index, double Score)> Parsed { get; } = Parse(d);
        public List<int> Analyses { get; } = [];
        public SortedDictionary<int, List<int>> Metas { get; } = [];

        public double AnalysisScore(int i)
        {
            if (i < Parsed.Count) return Parsed[i].Score;
            Analyses.Add(d.Analyses.Count + i - Parsed.Count);   // predicted parsable, so the rule's i-th is this index
            return Parsed.Count > 0 ? Parsed[^1].Score : 0;
        }

        public double? MetaScore(int analysis, int j)
        {
            if (analysis >= Parsed.Count) return 1;   // of a predicted analysis: not drawable yet
            int index = Parsed[analysis].Index;
            var list = d.Metas.GetValueOrDefault(index) ?? [];
            if (j < list.Count) return list[j];
            if (!Metas.TryGetValue(index, out var asked)) Metas[index] = asked = [];
            asked.Add(j);
            return list.LastOrDefault(v => v != null) ?? d.Metas.Values.SelectMany(v => v).LastOrDefault(v => v != null) ?? 1;
        }
    }

    static List<(int Index, double Score)> Parse(ConsensusDraws d) =>
        d.Analyses.Select((s, i) => (Index: i, Score: s)).Where(x => x.Score != null).Select(x => (x.Index, x.Score!.Value)).ToList();

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
