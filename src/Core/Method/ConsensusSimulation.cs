namespace MathV2.Core.Method;

/// <summary>Settings of the consensus benchmark's simulated verifiers.</summary>
public sealed record ConsensusSimulationOptions
{
    public int Proofs { get; init; } = 2000;
    /// <summary>Probability that an analysis gives the true score.</summary>
    public double VerifierAccuracy { get; init; } = 0.8;
    /// <summary>Probability that a meta-verification judges an analysis's validity correctly.</summary>
    public double MetaAccuracy { get; init; } = 0.85;
    /// <summary>Share of true labels 0, 0.5 and 1.</summary>
    public double[] LabelMix { get; init; } = [0.35, 0.25, 0.40];
    public int Seed { get; init; } = 7;
}

/// <summary>One side of the benchmark: samples used, agreement with the true label, discard rate.</summary>
public sealed record ConsensusRunStats(int Proofs, int Labeled, int Agreeing, long Samples)
{
    public double Agreement => Labeled == 0 ? 0 : (double)Agreeing / Labeled;
    public double DiscardRate => Proofs == 0 ? 0 : 1 - (double)Labeled / Proofs;
    public double SamplesPerProof => Proofs == 0 ? 0 : (double)Samples / Proofs;
}

/// <summary>
/// Simulated verifiers of stated accuracy for comparing fixed and adaptive consensus labeling. An analysis
/// reporting issues is legitimate when the defects it claims exist (true label ≤ its score &lt; 1); the
/// meta-verifier confirms legitimate analyses with probability MetaAccuracy. Draws are a pure function of
/// (seed, proof, analysis, meta index), so both labelers see the same samples.
/// </summary>
public static class ConsensusSimulation
{
    public static (ConsensusRunStats Fixed, ConsensusRunStats Adaptive) Run(ConsensusSimulationOptions sim, ConsensusOptions o)
    {
        long fixedSamples = 0, adaptiveSamples = 0;
        int fixedLabeled = 0, fixedAgree = 0, adLabeled = 0, adAgree = 0;
        for (int p = 0; p < sim.Proofs; p++)
        {
            double truth = TrueLabel(sim, p);
            var samples = new Samples(sim, p, truth);
            var f = ConsensusLabeler.Fixed(samples, o);
            var a = ConsensusLabeler.Adaptive(samples, o);
            fixedSamples += f.SamplesUsed;
            adaptiveSamples += a.SamplesUsed;
            if (f.Label is { } fl) { fixedLabeled++; if (fl == truth) fixedAgree++; }
            if (a.Label is { } al) { adLabeled++; if (al == truth) adAgree++; }
        }
        return (new ConsensusRunStats(sim.Proofs, fixedLabeled, fixedAgree, fixedSamples),
                new ConsensusRunStats(sim.Proofs, adLabeled, adAgree, adaptiveSamples));
    }

    /// <summary>
    /// The adaptive rule drawn in waves (as phase 4 samples): the proofs' stats with the samples actually drawn
    /// (look-ahead included), and the mean and largest number of waves a proof took.
    /// </summary>
    public static (ConsensusRunStats Stats, double MeanWaves, int MaxWaves) RunInWaves(ConsensusSimulationOptions sim, ConsensusOptions o, int waves)
    {
        long drawn = 0, waveSum = 0;
        int labeled = 0, agree = 0, most = 0;
        for (int p = 0; p < sim.Proofs; p++)
        {
            double truth = TrueLabel(sim, p);
            var samples = new Samples(sim, p, truth);
            var (r, d, w) = ConsensusWaves.Run(i => samples.AnalysisScore(i), samples.MetaScore, o, waves);
            drawn += d.Count;
            waveSum += w;
            most = Math.Max(most, w);
            if (r.Label is { } l) { labeled++; if (l == truth) agree++; }
        }
        return (new ConsensusRunStats(sim.Proofs, labeled, agree, drawn), sim.Proofs == 0 ? 0 : (double)waveSum / sim.Proofs, most);
    }

    static double TrueLabel(ConsensusSimulationOptions sim, int proof)
    {
        double u = Uniform(sim.Seed, proof, -1, -1), acc = 0;
        for (int i = 0; i < Scores.Allowed.Length; i++)
        {
            acc += sim.LabelMix[i];
            if (u < acc) return Scores.Allowed[i];
        }
        return 1;
    }

    /// <summary>A uniform draw in [0,1) that depends only on its coordinates.</summary>
    internal static double Uniform(int seed, int a, int b, int c)
    {
        ulong h = 1469598103934665603UL;
        foreach (int v in new[] { seed, a, b, c })
        {
            h ^= (uint)v;
            h *= 1099511628211UL;
            h ^= h >> 29;
        }
        h *= 0xbf58476d1ce4e5b9UL;
        h ^= h >> 32;
        return (h >> 11) * (1.0 / (1UL << 53));
    }

    sealed class Samples(ConsensusSimulationOptions sim, int proof, double truth) : IConsensusSamples
    {
        public double AnalysisScore(int i)
        {
            if (Uniform(sim.Seed, proof, i, -2) < sim.VerifierAccuracy) return truth;
            var others = Scores.Allowed.Where(s => s != truth).ToArray();
            return others[Uniform(sim.Seed, proof, i, -3) < 0.5 ? 0 : 1];
        }

        public double? MetaScore(int analysis, int j)
        {
            double s = AnalysisScore(analysis);
            bool legitimate = truth <= s && s < 1;
            bool correct = Uniform(sim.Seed, proof, analysis, j) < sim.MetaAccuracy;
            return legitimate == correct ? 1 : 0;
        }
    }
}
