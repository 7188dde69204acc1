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
            metas.Add(new() { Id = id, Index = 2, Completion = "" });                                       // empty
        }
        var label = Assert.Single(Laps.AutoLabelling.Label([proof], analyses, metas, new ConsensusOptions { N = 2, M = 3, K = 2 }));
        Assert.Equal(ConsensusDecision.Discarded, label.Fixed!.Decision);
        Assert.Equal(ConsensusDecision.Discarded, label.Adaptive.Decision);
        Assert.All(label.Fixed.Evidence, a => Assert.All(a.MetaScores, Assert.Null));
        // Drawn adaptively, two unreadable verdicts of three settle it: no majority can confirm or reject either report.
        var adaptive = Assert.Single(Laps.AutoLabelling.Label([proof], analyses, metas.Where(m => m.Index < 2).ToList(), new ConsensusOptions { N = 2, M = 3, K = 2 }));
        Assert.Null(adaptive.Fixed);
        Assert.Equal((ConsensusDecision.Discarded, 6), (adaptive.Outcome.Decision, adaptive.Drawn));
    }

    [Fact]
    public void Samples_count_the_unparsable_analyses_drawn_for_both_rules()
    {
        var proof = new Laps.ConsensusProof { Id = "x1", ProblemId = "p", Problem = "Prove 2 + 2 = 4.", Proof = "Step 1: 2 + 2 = 5." };
        string flagged = Demo.Oracle.WriteAnalysis([new Demo.Defect(0, Demo.ProofDefect.FalseStep)]);
        string confirm = $"{Prompts.CompactMetaLead}\nRight.\n{Prompts.CompactMetaClosing} \\boxed{{1}}";
        Laps.SampleCompletion[] analyses = [new() { Id = "x1", Index = 0, Completion = "garbage" }, new() { Id = "x1", Index = 1, Completion = flagged }];
        Laps.SampleCompletion[] metas = [new() { Id = "x1#1", Index = 0, Completion = confirm }, new() { Id = "x1#1", Index = 1, Completion = confirm }];
        var label = Assert.Single(Laps.AutoLabelling.Label([proof], analyses, metas, new ConsensusOptions { N = 2, M = 2, K = 1 }));
        Assert.Equal((0.0, 4, 4, 4), (label.Outcome.Label!.Value, label.Drawn, label.Fixed!.SamplesUsed, label.Adaptive.SamplesUsed));
    }

    [Fact]
    public void Labelling_names_the_proof_and_the_sample_when_one_the_rule_needs_was_not_drawn_or_an_index_is_missing()
    {
        var proof = new Laps.ConsensusProof { Id = "x1", ProblemId = "p", Problem = "Prove 2 + 2 = 4.", Proof = "Step 1: 2 + 2 = 5." };
        string flagged = Demo.Oracle.WriteAnalysis([new Demo.Defect(0, Demo.ProofDefect.FalseStep)]);
        var o = new ConsensusOptions { N = 1, M = 3, K = 1 };
        var e = Assert.Throws<InvalidDataException>(() => Laps.AutoLabelling.Label([proof], [new() { Id = "x1", Index = 0, Completion = flagged }], [], o));
        Assert.Contains("proof x1", e.Message);
        Assert.Contains("meta-verification 0 of analysis 0", e.Message);
        e = Assert.Throws<InvalidDataException>(() => Laps.AutoLabelling.Label([proof], [new() { Id = "x1", Index = 1, Completion = flagged }], [], o));
        Assert.Contains("proof x1: analysis 0 is missing", e.Message);
        e = Assert.Throws<InvalidDataException>(() => Laps.AutoLabelling.Label([proof], [new() { Id = "x1", Index = 0, Completion = flagged }],
            [new() { Id = "x1#0", Index = 0, Completion = "" }, new() { Id = "x1#0", Index = 0, Completion = "" }], o));
        Assert.Contains("meta-verification 0 of analysis 0 is drawn twice", e.Message);
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

    /// <summary>Scores and verdicts from {0, 0.5, 1, unreadable}, a pure function of (seed, analysis, index).</summary>
    static double? Draw(int seed, int a, int j, bool unreadable) =>
        (int)(StableHash.Seed64($"{seed}", $"{a}", $"{j}") & 0x7fffffff) % (unreadable ? 4 : 3) is var v && v == 3 ? null : Scores.Allowed[v];

    [Fact]
    public void Drawn_in_waves_the_consensus_is_the_fixed_rules_on_the_same_samples_with_no_more_samples()
    {
        long fixedSamples = 0, drawnSamples = 0;
        for (int seed = 0; seed < 4000; seed++)
        {
            var rng = new Random(seed);
            var o = new ConsensusOptions { N = rng.Next(1, 9), M = rng.Next(1, 6) };
            o = o with { K = rng.Next(1, o.N + 1) };
            int waves = rng.Next(2, 9);
            bool unreadable = seed % 2 == 0;
            double? Analysis(int i) => Draw(seed, i, -1, unreadable);
            double? Meta(int i, int j) => Draw(seed, i, j, unreadable);
            var (r, d, used) = ConsensusWaves.Run(Analysis, Meta, o, waves);
            // The fixed rule on all the samples, the parsable analyses renumbered as the lap does.
            var parsed = Enumerable.Range(0, o.N).Where(i => Analysis(i) != null).ToList();
            var f = parsed.Count == 0 ? null
                : ConsensusLabeler.Fixed(new Scripted(parsed.Select(i => Analysis(i)!.Value).ToArray(), (a, j) => Meta(parsed[a], j)), o with { N = parsed.Count });
            Assert.Equal((f?.Decision ?? ConsensusDecision.Discarded, f?.Label), (r.Decision, r.Label));
            int fixedCount = o.N + parsed.Count(i => Analysis(i) < 1) * o.M;
            Assert.True(d.Count <= fixedCount, $"seed {seed}: drew {d.Count} > fixed {fixedCount}");
            Assert.True(used <= waves, $"seed {seed}: {used} waves of {waves}");
            Assert.True(r.SamplesUsed <= d.Count);
            if (waves == 2) Assert.True(d.Count == fixedCount && d.HoldsFixedRule(o), $"seed {seed}: two waves are the fixed rule");
            if (waves > 2)
            {
                fixedSamples += fixedCount;
                drawnSamples += d.Count;
            }
        }
        Assert.True(drawnSamples < fixedSamples, $"drawn {drawnSamples} vs fixed {fixedSamples}");
    }

    [Fact]
    public void A_wave_draws_what_the_rule_asks_for_along_its_likeliest_path_and_the_last_two_draw_the_rest()
    {
        var o = new ConsensusOptions { N = 8, M = 4, K = 2 };
        static ConsensusDraws Drawn(double?[] analyses, params (int Analysis, double?[] Verdicts)[] metas)
        {
            var d = new ConsensusDraws();
            d.Analyses.AddRange(analyses);
            foreach (var (i, v) in metas) d.Metas[i] = [.. v];
            return d;
        }
        // Nothing drawn: analyses are predicted 0, so the rule asks for k of them (then verdicts a job cannot draw yet).
        var first = ConsensusWaves.Plan(Drawn([]), o, 0, 6);
        Assert.Equal([0, 1], first.Analyses);
        Assert.Empty(first.Metas);
        // Two 0s: both reports' verdicts, predicted to confirm: a majority of m each, in one wave.
        var zeros = ConsensusWaves.Plan(Drawn([0, 0]), o, 1, 6);
        Assert.Empty(zeros.Analyses);
        Assert.Equal([0, 1], zeros.Metas.Keys);
        Assert.All(zeros.Metas.Values, js => Assert.Equal([0, 1, 2], js));
        var (r, _) = ConsensusWaves.Replay(Drawn([0, 0], (0, [1, 1, 1]), (1, [1, 1, 1])), o);
        Assert.Equal((ConsensusDecision.Labeled, 0.0), (r!.Decision, r.Label!.Value));
        // A 0 then a 1: the rest predicted 1, so all analyses and, after them, the 0's verdicts, in the same wave.
        var mixed = ConsensusWaves.Plan(Drawn([0, 1]), o, 1, 6);
        Assert.Equal([2, 3, 4, 5, 6, 7], mixed.Analyses);
        Assert.Equal([0, 1, 2], mixed.Metas[0]);
        // Predicted to confirm, the verdicts rejected the report: the same three settle it (judged bogus: label 1), nothing more to draw.
        var rejected = Drawn([0, 1, 1, 1, 1, 1, 1, 1], (0, [0, 0, 0]));
        Assert.Equal(1.0, ConsensusWaves.Replay(rejected, o).Result!.Label);
        // Predicted to confirm, they were split: the rule needs the fourth, drawn in the next wave.
        var split = Drawn([0, 1, 1, 1, 1, 1, 1, 1], (0, [1, 1, 0]));
        Assert.Null(ConsensusWaves.Replay(split, o).Result);
        Assert.Equal([3], ConsensusWaves.Plan(split, o, 2, 6).Metas[0]);
        // In the second-last wave: every analysis left and every verdict left of the reports drawn; in the last, the verdicts.
        var penultimate = ConsensusWaves.Plan(Drawn([0.5, 1], (0, [1])), o, 4, 6);
        Assert.Equal([2, 3, 4, 5, 6, 7], penultimate.Analyses);
        Assert.Equal([1, 2, 3], penultimate.Metas[0]);
        var last = ConsensusWaves.Plan(Drawn([0.5, 1, 0.5, 1, 1, 1, 0, 1], (0, [1])), o, 5, 6);
        Assert.Empty(last.Analyses);
        Assert.Equal([0, 2, 6], last.Metas.Keys.Order());
        Assert.Equal([1, 2, 3], last.Metas[0]);
    }

    [Fact]
    public void The_simulated_benchmark_in_waves_saves_samples_at_the_same_agreement()
    {
        var sim = new ConsensusSimulationOptions { Proofs = 1000 };
        var (f, a) = ConsensusSimulation.Run(sim, new ConsensusOptions());
        var (w, meanWaves, maxWaves) = ConsensusSimulation.RunInWaves(sim, new ConsensusOptions(), 6);
        Assert.Equal((f.Labeled, f.Agreeing), (w.Labeled, w.Agreeing));
        Assert.InRange(w.Samples, a.Samples, (long)(f.Samples * 0.75));
        Assert.True(w.Samples < f.Samples * 0.6, $"drew {w.Samples} of the fixed rule's {f.Samples}");
        Assert.True(meanWaves < 4 && maxWaves <= 6, $"waves {meanWaves} mean, {maxWaves} max");
    }

    [Fact]
    public void Options_are_validated() =>
        Assert.Contains(new ConsensusOptions { N = 2, K = 3 }.Validate(), e => e.Field == "k");
}
