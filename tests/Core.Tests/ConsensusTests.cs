using MathV2.Core.Method;

namespace MathV2.Core.Tests;

public sealed class ConsensusTests
{
    sealed class Scripted(double[] analyses, Func<int, int, double?> meta) : IConsensusSamples
    {
        public double AnalysisScore(int i) => analyses[i];
        public double? MetaScore(int a, int j) => meta(a, j);
    }

    static readonly ConsensusOptions O = new() { N = 4, M = 3, K = 2 };

    /// <summary>Both rules on the same samples.</summary>
    static IEnumerable<ConsensusResult> Both(IConsensusSamples s, ConsensusOptions o) => [ConsensusLabeler.Fixed(s, o), ConsensusLabeler.Adaptive(s, o)];

    [Fact]
    public void Unreadable_meta_verdicts_abstain_so_a_flagged_proof_is_never_labelled_one_from_them()
    {
        // Every analysis reports an issue; none of the meta-verifications could be read (cut at the token cap, malformed).
        foreach (var r in Both(new Scripted([0, 0, 0.5, 0], (_, _) => null), O))
        {
            Assert.Equal(ConsensusDecision.Discarded, r.Decision);
            Assert.Null(r.Label);
        }
        // One readable "bogus" verdict of three is no majority: the rest abstain, not vote bogus.
        foreach (var r in Both(new Scripted([0, 1, 1, 1], (_, j) => j == 0 ? 0 : null), O))
            Assert.Equal(ConsensusDecision.Discarded, r.Decision);
        // A readable majority still decides, abstentions or not: bogus by 2 of 3 → 1; confirmed by 2 of 3 → 0.
        foreach (var r in Both(new Scripted([0, 1, 1, 1], (_, j) => j < 2 ? 0 : null), O))
            Assert.Equal((ConsensusDecision.Labeled, 1.0), (r.Decision, r.Label!.Value));
        foreach (var r in Both(new Scripted([0, 0, 1, 1], (_, j) => j == 1 ? null : 1), O))
            Assert.Equal((ConsensusDecision.Labeled, 0.0), (r.Decision, r.Label!.Value));
    }

    [Fact]
    public void Truncated_and_malformed_meta_outputs_of_a_lap_abstain()
    {
        var proof = new Laps.ConsensusProof { Id = "x1", ProblemId = "not-a-demo-problem", Problem = "Prove 2 + 2 = 4.", Proof = "Step 1: 2 + 2 = 5." };
        string flagged = Demo.Oracle.WriteAnalysis([new Demo.Defect(0, Demo.ProofDefect.FalseStep)]);
        Assert.Equal(0, Parsers.Verification(flagged).Score);
        var analyses = Enumerable.Range(0, 2).Select(i => new Laps.SampleCompletion { Id = "x1", Index = i, Completion = flagged }).ToList();
        string bogus = "Here is my analysis: the claim is wrong.\nBased on my analysis, the quality score of the evaluation should be: \\boxed{0}";
        var metas = new List<Laps.SampleCompletion>();
        for (int i = 0; i < 2; i++)
        {
            string id = Laps.AutoLabelling.MetaId("x1", i);
            metas.Add(new() { Id = id, Index = 0, Completion = bogus[..40], FinishReason = "length" });   // cut at the token cap
            metas.Add(new() { Id = id, Index = 1, Completion = "no verdict at all" });                    // malformed
            // the third is missing
        }
        var label = Assert.Single(Laps.AutoLabelling.Label([proof], analyses, metas, new ConsensusOptions { N = 2, M = 3, K = 2 }));
        Assert.Equal(ConsensusDecision.Discarded, label.Fixed.Decision);
        Assert.Equal(ConsensusDecision.Discarded, label.Adaptive.Decision);
        Assert.All(label.Fixed.Evidence, a => Assert.All(a.MetaScores, Assert.Null));
    }

    [Fact]
    public void No_issue_reported_labels_one()
    {
        var r = ConsensusLabeler.Fixed(new Scripted([1, 1, 1, 1], (_, _) => throw new InvalidOperationException()), O);
        Assert.Equal((ConsensusDecision.Labeled, 1.0), (r.Decision, r.Label!.Value));
        Assert.Equal(0, r.MetaSampled);
    }

    [Fact]
    public void At_least_k_valid_lowest_score_analyses_label_the_proof_with_that_score()
    {
        var r = ConsensusLabeler.Fixed(new Scripted([0, 1, 0, 0.5], (_, _) => 1), O);
        Assert.Equal(0, r.Label);
        Assert.Equal(3 * 3, r.MetaSampled);
        Assert.Equal(3, r.Evidence.Count(a => a.Valid == true));
    }

    [Fact]
    public void Bogus_issue_reports_label_one_and_a_lone_valid_one_is_discarded()
    {
        var allBogus = ConsensusLabeler.Fixed(new Scripted([0, 1, 0.5, 1], (_, _) => 0), O);
        Assert.Equal(1, allBogus.Label);
        Assert.Contains("bogus", allBogus.Reason);

        // analysis 0 (score 0) valid, analysis 2 (score 0) bogus: 1 < k valid at the lowest score → discard
        var lone = ConsensusLabeler.Fixed(new Scripted([0, 1, 0, 1], (a, _) => a == 0 ? 1 : 0), O);
        Assert.Equal(ConsensusDecision.Discarded, lone.Decision);
        Assert.Null(lone.Label);
    }

    [Fact]
    public void Issue_reports_rated_half_are_not_bogus_so_the_proof_goes_to_humans()
    {
        // Every analysis says 0 and every meta-verification rates it 0.5 (its claims partly right, or its score misread):
        // no report is confirmed, none is judged bogus, so the proof is not labelled 1 but discarded.
        var half = new Scripted([0, 0, 0, 0], (_, _) => 0.5);
        foreach (var r in new[] { ConsensusLabeler.Fixed(half, O), ConsensusLabeler.Adaptive(half, O) })
        {
            Assert.Equal(ConsensusDecision.Discarded, r.Decision);
            Assert.Null(r.Label);
            Assert.Contains("neither confirmed nor judged bogus", r.Reason);
        }
        // A majority of 0s makes a report bogus even with a 0.5 among them; one report short of it keeps the proof from 1.
        Assert.Equal(1, ConsensusLabeler.Fixed(new Scripted([0, 1, 0.5, 1], (_, j) => j == 0 ? 0.5 : 0), O).Label);
        var oneShort = new Scripted([0, 1, 0.5, 1], (a, j) => a == 0 ? (j == 0 ? 0 : 0.5) : 0);
        Assert.Equal(ConsensusDecision.Discarded, ConsensusLabeler.Fixed(oneShort, O).Decision);
        Assert.Equal(ConsensusDecision.Discarded, ConsensusLabeler.Adaptive(oneShort, O).Decision);
    }

    [Fact]
    public void The_meta_majority_decides_validity()
    {
        // 2 of 3 confirm → valid; 1 of 3 → not
        var r = ConsensusLabeler.Fixed(new Scripted([0.5, 0.5, 1, 1], (a, j) => a == 0 ? (j < 2 ? 1 : 0) : (j < 1 ? 1 : 0)), O);
        Assert.Equal([true, false], r.Evidence.Where(e => e.Score < 1).Select(e => e.Valid!.Value));
        Assert.Equal(ConsensusDecision.Discarded, r.Decision);
    }

    sealed class Random3(int seed) : IConsensusSamples
    {
        public double AnalysisScore(int i) => Scores.Allowed[(int)(Hash(seed, i, -1) % 3)];
        public double? MetaScore(int a, int j) => Scores.Allowed[(int)(Hash(seed, a, j) % 3)];
        static ulong Hash(int s, int a, int b) => (ulong)HashCode.Combine(s, a, b) & 0x7fffffff;
    }

    [Fact]
    public void Adaptive_labeling_reaches_the_fixed_outcome_with_no_more_samples()
    {
        var o = new ConsensusOptions();
        long fixedSamples = 0, adaptiveSamples = 0;
        for (int seed = 0; seed < 3000; seed++)
        {
            var s = new Random3(seed);
            var f = ConsensusLabeler.Fixed(s, o);
            var a = ConsensusLabeler.Adaptive(s, o);
            Assert.Equal((f.Decision, f.Label), (a.Decision, a.Label));
            Assert.True(a.SamplesUsed <= f.SamplesUsed, $"seed {seed}: adaptive {a.SamplesUsed} > fixed {f.SamplesUsed}");
            fixedSamples += f.SamplesUsed;
            adaptiveSamples += a.SamplesUsed;
        }
        Assert.True(adaptiveSamples < fixedSamples * 0.8, $"adaptive {adaptiveSamples} vs fixed {fixedSamples}");
    }

    [Fact]
    public void The_simulated_benchmark_is_deterministic_and_adaptive_saves_samples()
    {
        var sim = new ConsensusSimulationOptions { Proofs = 500 };
        var (f1, a1) = ConsensusSimulation.Run(sim, new ConsensusOptions());
        var (f2, a2) = ConsensusSimulation.Run(sim, new ConsensusOptions());
        Assert.Equal((f1, a1), (f2, a2));
        Assert.Equal(f1.Agreement, a1.Agreement);
        Assert.True(a1.Samples < f1.Samples);
        Assert.True(f1.Agreement > 0.8, $"agreement {f1.Agreement}");
    }

    [Fact]
    public void Options_are_validated() =>
        Assert.Contains(new ConsensusOptions { N = 2, K = 3 }.Validate(), e => e.Field == "k");
}
