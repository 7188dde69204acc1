using MathV2.Core.Datasets;
using MathV2.Core.Demo;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using MathV2.Core.Method;

namespace MathV2.Core.Tests;

/// <summary>The lap report's measures, auto-labelling on sampled outputs, the report and the flywheel spec.</summary>
public sealed class LapMeasuresTests
{
    static readonly DemoDatasetOptions O = new() { Seed = 4, ProblemsPerDifficulty = 5, MaxDifficulty = 2, Prompts = "compact" };

    static string Analysis(ArithmeticProblem p, string proof) => Oracle.WriteAnalysis(Oracle.ScoreProof(p, proof).Defects);

    static string Generation(string proof, double selfScore) =>
        $"## Solution\n{proof}\n\n## Self Evaluation\n{Oracle.WriteAnalysis(selfScore >= 1 ? [] : [new Defect(1, selfScore == 0 ? ProofDefect.FalseStep : ProofDefect.OmittedJustification)])}";

    [Fact]
    public void Held_out_problems_are_new_problems_and_their_graded_proofs_cover_every_defect_kind()
    {
        var trained = DemoDatasets.Problems(O).Concat(DemoDatasets.DemonstrationProblems(O)).Select(p => p.Statement).ToHashSet();
        var held = DemoDatasets.HeldOutProblems(O, 4);
        Assert.Equal(4, held.Count(h => h.Difficulty == 2));   // level 2 has thousands of claims: all four found
        Assert.DoesNotContain(held, h => trained.Contains(h.Statement));
        Assert.Equal(held.Count, held.Select(h => h.Statement).Distinct().Count());
        Assert.Equal(held.Select(h => h.Id), DemoDatasets.HeldOutProblems(O, 4).Select(h => h.Id));   // deterministic
        var graded = DemoDatasets.HeldOutGradedProofs(O, 4).ToList();
        Assert.Equal(held.Count * 4, graded.Count);
        Assert.Equal([0, 0.5, 1], graded.Select(g => g.Score).Distinct().Order());
    }

    [Fact]
    public void Verifier_measures_count_exact_scores_errors_and_the_oracles_rating_of_each_analysis()
    {
        var rows = DemoDatasets.HeldOutGradedProofs(O, 1).Take(4).ToList();
        var p = ArithmeticDomainIds.TryProblem(rows[0].ProblemId)!;
        // Row 0 and 1 judged faithfully; row 2 scored 1 regardless (wrong unless it is correct); row 3 cut off.
        var completions = new List<SampleCompletion>
        {
            new() { Id = "row-0", Completion = Analysis(p, rows[0].Proof) },
            new() { Id = "row-1", Completion = Analysis(ArithmeticDomainIds.TryProblem(rows[1].ProblemId)!, rows[1].Proof) },
            new() { Id = "row-2", Completion = Oracle.WriteAnalysis([]) },
            new() { Id = "row-3", Completion = "Here is my evaluation", FinishReason = "length" },
        };
        var m = LapMeasures.Verifier("v", rows, completions);
        double expectedCorrect = 2 + (rows[2].Score == 1 ? 1 : 0);
        Assert.Equal(expectedCorrect / 4, m["v.accuracy"], 4);
        Assert.Equal(Math.Round((Math.Abs(1 - rows[2].Score) + 1) / 4, 4), m["v.meanAbsError"], 4);
        Assert.Equal(0.75, m["v.formatRate"]);
        Assert.Equal(1, m["parseFailures.unfinished"]);
        double meta = completions.Select((c, i) => Oracle.JudgeAnalysis(ArithmeticDomainIds.TryProblem(rows[i].ProblemId)!, rows[i].Proof, c.Completion)).Average();
        Assert.Equal(Math.Round(meta, 4), m["v.metaQuality"], 4);
        Assert.True(m["v.metaQuality"] < 1);

        // Sampled analyses: several per row (same id, their index), each measured.
        var sampled = LapMeasures.Verifier("v.sampled", rows, [
            new() { Id = "row-0", Index = 0, Completion = Analysis(p, rows[0].Proof) },
            new() { Id = "row-0", Index = 1, Completion = "Here is my evaluation", FinishReason = "length" },
        ]);
        Assert.Equal(2, sampled["v.sampled.samples"]);
        Assert.Equal(0.5, sampled["v.sampled.accuracy"]);
        Assert.Equal(0.5, sampled["v.sampled.metaQuality"]);
    }

    [Fact]
    public void Generator_measures_use_the_oracle_and_the_honesty_of_the_self_score()
    {
        var held = DemoDatasets.HeldOutProblems(O, 1);
        var a = held[0];
        var b = held[1];
        var completions = new List<SampleCompletion>
        {
            new() { Id = a.Id, Completion = Generation(ArithmeticDomain.WriteProof(a), 1) },                             // correct, honest
            new() { Id = b.Id, Completion = Generation(ArithmeticDomain.WriteProof(b, ProofDefect.FalseStep, 4), 1) },  // wrong, claims 1
            new() { Id = b.Id, Completion = "no sections at all" },
        };
        var m = LapMeasures.Generator("g", completions);
        Assert.Equal(Math.Round(1 / 3.0, 4), m["g.oraclePassRate"]);
        Assert.Equal(Math.Round(2 / 3.0, 4), m["g.formatRate"]);
        Assert.Equal(0.5, m["g.selfScoreHonesty"]);   // (1 + 0) / 2
        Assert.Equal(1, m["parseFailures.missingSolution"]);
        // Of three: one false step (its computation wrong), one without a proof.
        Assert.Equal((Math.Round(1 / 3.0, 4), Math.Round(1 / 3.0, 4)), (m["g.failed.computation"], m["g.failed.noProof"]));
        Assert.False(m.ContainsKey("g.failed.miscopy"));
        var judged = LapMeasures.JudgedByVerifier("g", [new SampleCompletion { Id = "x", Completion = Oracle.WriteAnalysis([]) }, new SampleCompletion { Id = "y", Completion = "?" }]);
        Assert.Equal(0.5, judged["g.verifierPassRate"]);
        Assert.Equal(0.5, judged["g.verifierMeanScore"]);
    }

    [Fact]
    public void Failures_are_told_apart_by_what_the_step_checks_can_see()
    {
        var p = new ArithmeticProblem("t", "2 + 4 * 3", 14, 2);
        Assert.Null(LapMeasures.FailureKind(p, ArithmeticDomain.WriteProof(p)));
        Assert.Equal("computation", LapMeasures.FailureKind(p, "Step 1: 4 * 3 = 13, so 2 + 4 * 3 = 2 + 13.\nStep 2: 2 + 13 = 15, so 2 + 13 = 15.\nTherefore 2 + 4 * 3 = 15."));
        // Every computation right, the expression miscopied (a generator's commonest slip).
        Assert.Equal("miscopy", LapMeasures.FailureKind(p, "Step 1: 4 * 3 = 12, so 2 + 4 * 3 = 2 + 13.\nStep 2: 2 + 13 = 15, so 2 + 13 = 15.\nTherefore 2 + 4 * 3 = 15."));
        Assert.Equal("miscopy", LapMeasures.FailureKind(p, "Step 1: 4 * 3 = 12, so 2 + 4 * 4 = 2 + 16.\nStep 2: 2 + 16 = 18, so 2 + 16 = 18.\nTherefore 2 + 4 * 3 = 18."));
        Assert.Equal("notReaching", LapMeasures.FailureKind(p, ArithmeticDomain.WriteProof(p, ProofDefect.NotReachingClaim)));
        Assert.Equal("omitted", LapMeasures.FailureKind(p, ArithmeticDomain.WriteProof(p, ProofDefect.OmittedJustification)));
        Assert.Equal("noProof", LapMeasures.FailureKind(p, null));
    }

    [Fact]
    public void Refinement_pass_at_1_and_at_the_cap_read_the_last_attempt_within_the_cap()
    {
        var held = DemoDatasets.HeldOutProblems(O, 1);
        var p = held[0];
        string wrong = Generation(ArithmeticDomain.WriteProof(p, ProofDefect.NotReachingClaim, 4), 0), right = Generation(ArithmeticDomain.WriteProof(p), 1);
        var records = new List<RefinementRecord>
        {
            new() { Id = p.Id, Attempts = [new() { Iteration = 1, Completion = wrong, SelfScore = 0 }, new() { Iteration = 2, Completion = right, SelfScore = 1 }] },
            new() { Id = held[1].Id, Attempts = [new() { Iteration = 1, Completion = Generation(ArithmeticDomain.WriteProof(held[1]), 1), SelfScore = 1 }] },
        };
        var m = LapMeasures.Refinement(records, 8);
        Assert.Equal(0.5, m["refinement.passAt1Iteration"]);
        Assert.Equal(1, m["refinement.passAtMaxIterations"]);
        Assert.Equal(1.5, m["refinement.meanIterations"]);
        Assert.Equal(1, m["refinement.selfAcceptedRate"]);
        Assert.Equal(0.5, LapMeasures.Refinement(records, 1)["refinement.passAtMaxIterations"]);
    }

    [Fact]
    public void Auto_labelling_applies_the_consensus_rule_to_parsed_samples_and_keeps_the_evidence()
    {
        var p = DemoDatasets.Problems(O)[0];
        string correct = ArithmeticDomain.WriteProof(p), flawed = ArithmeticDomain.WriteProof(p, ProofDefect.FalseStep, 4);
        var proofs = new List<ConsensusProof>
        {
            new() { Id = "proof|a|0", ProblemId = p.Id, Problem = p.Statement, Proof = correct },
            new() { Id = "proof|b|0", ProblemId = p.Id, Problem = p.Statement, Proof = flawed },
            new() { Id = "proof|c|0", ProblemId = p.Id, Problem = p.Statement, Proof = flawed },
        };
        string issue = Analysis(p, flawed), clean = Oracle.WriteAnalysis([]);
        string confirm = Oracle.WriteMetaVerification(p, flawed, issue);
        var analyses = new List<SampleCompletion>
        {
            // a: nobody finds an issue → 1. b: two issue reports, both confirmed → 0. c: unparsable only → discarded.
            new() { Id = "proof|a|0", Index = 0, Completion = clean }, new() { Id = "proof|a|0", Index = 1, Completion = clean },
            new() { Id = "proof|b|0", Index = 0, Completion = issue }, new() { Id = "proof|b|0", Index = 1, Completion = issue },
            new() { Id = "proof|c|0", Index = 0, Completion = "garbage" }, new() { Id = "proof|c|0", Index = 1, Completion = "x", FinishReason = "length" },
        };
        Assert.Equal([0, 1], AutoLabelling.IssueReports(analyses.Where(x => x.Id == "proof|b|0")).Select(x => x.Index));
        var metas = new List<SampleCompletion>();
        foreach (int i in new[] { 0, 1 })
            for (int j = 0; j < 2; j++) metas.Add(new() { Id = AutoLabelling.MetaId("proof|b|0", i), Index = j, Completion = confirm });
        var labels = AutoLabelling.Label(proofs, analyses, metas, new ConsensusOptions { N = 2, M = 2, K = 2 });
        Assert.Equal(1, labels[0].Fixed!.Label);
        Assert.Equal(0, labels[1].Fixed!.Label);
        Assert.Equal(2, labels[1].Fixed!.Evidence.Count(e => e.Valid == true));
        Assert.Equal(ConsensusDecision.Discarded, labels[2].Fixed!.Decision);
        Assert.Equal([1.0, 0.0, 0.0], labels.Select(l => l.Oracle!.Value));
        Assert.All(labels, l => Assert.Equal(l.Fixed!.Label, l.Adaptive.Label));

        var m = AutoLabelling.Measures(labels);
        Assert.Equal(2, m["consensus.labelled"]);
        Assert.Equal(Math.Round(1 / 3.0, 4), m["consensus.discardRate"]);
        Assert.Equal(1, m["consensus.agreement"]);
        Assert.Equal(2 + (2 + 2 * 2) + 2, m["consensus.samplesFixed"]);   // c's two unparsable analyses were drawn too
        Assert.Equal(m["consensus.samplesFixed"], m["consensus.samplesDrawn"]);
        Assert.True(m["consensus.samplesAdaptive"] <= m["consensus.samplesFixed"]);
    }

    [Fact]
    public void The_report_sums_job_seconds_merges_measures_and_checks_the_targets()
    {
        var t0 = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        GpuJobOutcome Job(double seconds) => new() { JobId = "j", Status = GpuJobStatus.Succeeded, Summary = System.Text.Json.JsonSerializer.SerializeToElement(new { seconds }) };
        var phases = new List<PhaseResult>
        {
            new() { Phase = "1a", Started = t0, Finished = t0.AddSeconds(90), Jobs = [Job(40), Job(20)], Metrics = new() { ["base.oraclePassRate"] = 0.2, ["parseFailures.unfinished"] = 3 } },
            new() { Phase = "1b", Started = t0, Finished = t0, Jobs = [Job(7)], ReusedFrom = "lap-old", Metrics = new() { ["verifierV1.metaQuality"] = 0.5 } },
            new() { Phase = "1d", Started = t0.AddSeconds(90), Finished = t0.AddSeconds(150), Jobs = [Job(30)],
                Metrics = new() { ["verifierV2.accuracy"] = 0.92, ["verifierV2.metaQuality"] = 0.7, ["parseFailures.unfinished"] = 2 } },
            new() { Phase = "2", Started = t0.AddSeconds(150), Finished = t0.AddSeconds(200), Jobs = [], Metrics = new() { ["generator.oraclePassRate"] = 0.1 } },
        };
        var r = LapReport.Build("lap-x", "demo", 1, phases, t0, t0.AddSeconds(1000), new());
        Assert.Equal(90, r.Phases[0].JobSeconds + 30);
        Assert.Equal(0, r.Phases[1].JobSeconds);   // reused: not this lap's compute
        Assert.Equal(90, r.JobSeconds);
        Assert.Equal(5, r.Measures["parseFailures.unfinished"]);
        var targets = r.Targets.ToDictionary(t => t.Name, t => t.Met);
        Assert.False(targets["lap wall time"]);   // 1000 s > 15 min
        Assert.True(targets["verifier v2 accuracy"]);
        Assert.True(targets["meta quality"]);
        Assert.False(targets["generator"]);
        // With sampled analyses the meta quality target compares those.
        phases[2] = phases[2] with { Metrics = new(phases[2].Metrics) { ["verifierV2.sampled.metaQuality"] = 0.8 } };
        phases[1] = phases[1] with { Metrics = new(phases[1].Metrics) { ["verifierV1.sampled.metaQuality"] = 0.85 } };
        var sampled = LapReport.Build("lap-x", "demo", 1, phases, t0, t0.AddSeconds(1000), new()).Targets.Single(t => t.Name == "meta quality");
        Assert.Equal((false, "verifierV2.sampled.metaQuality > verifierV1.sampled.metaQuality"), (sampled.Met!.Value, sampled.Rule));
        Assert.Null(targets["consensus"]);
        string md = r.ToMarkdown();
        Assert.Contains("| 1b | 0 s | 0 s | 1 | reused from lap-old |", md);
        Assert.Contains("| unfinished | 5 |", md);
        Assert.Contains("| consensus | consensus.agreement ≥ 0.95 | n/a |", md);
    }

    [Fact]
    public void A_flywheel_spec_is_validated_field_by_field_including_its_lap()
    {
        var errors = new FlywheelSpec { Laps = 0, HumanFreeFromLap = 1, Gates = new() { MaxVerifierAccuracyDrop = 2 }, Lap = new LapSpec { Domain = "x" } }.Validate().Select(e => e.Field).ToList();
        Assert.Equal(["laps", "humanFreeFromLap", "gates.maxVerifierAccuracyDrop", "lap.domain"], errors);
        Assert.Empty(new FlywheelSpec().Validate());
        Assert.Contains(("consensus.k", "must be between 1 and n"), new LapSpec { Consensus = new() { N = 2, K = 3 } }.Validate());
        Assert.Contains(("refinement.samples", "must be between 1 and 64"), new LapSpec { Refinement = new() { Samples = 0 } }.Validate());
        Assert.Contains(("evaluation.analysisSamples", "must be between 0 and 64"), new LapSpec { Evaluation = new() { AnalysisSamples = -1 } }.Validate());
        Assert.Contains(("evaluation.analysisTemperature", "must be between 0 and 2"), new LapSpec { Evaluation = new() { AnalysisTemperature = 3 } }.Validate());
        Assert.Empty(new LapSpec { Evaluation = new() { AnalysisSamples = 0 } }.Validate());
        Assert.Contains(new LapSpec { Demo = new() { DemonstrationProblemsPerDifficulty = 0 } }.Validate(), e => e.Field == "demo.demonstrationProblemsPerDifficulty");
        Assert.Equal(7, new LapSpec { Demo = new() { DemonstrationProblemsPerDifficulty = 7 } }.Demo.ToDatasetOptions().DemonstrationProblemsPerDifficulty);
    }

    [Fact]
    public void The_accuracy_gate_stops_a_flywheel_only_on_a_drop_larger_than_allowed()
    {
        var g = new FlywheelGates { MaxVerifierAccuracyDrop = 0.05 };
        Assert.Null(g.Stop(2, 3, 0.9, 0.86));
        Assert.StartsWith("gate: verifier accuracy fell from 0.9 (lap 1) to 0.8 (lap 2)", g.Stop(2, 3, 0.9, 0.8));
        Assert.Equal("all 3 laps done", g.Stop(3, 3, 0.9, 0.95));
        Assert.Null(g.Stop(2, 3, null, 0.1));
        Assert.Null(new FlywheelGates { MaxVerifierAccuracyDrop = null }.Stop(2, 3, 0.9, 0.1));
    }

    [Fact]
    public void The_next_lap_starts_from_the_verifier_with_the_best_held_out_accuracy_the_later_one_on_ties()
    {
        var all = new LapArtifacts { VerifierV1 = "a1", VerifierV2 = "a2", VerifierV3 = "a3", Base = "b" };
        Assert.Equal("verifierV1", BestVerifier.Choose(new Dictionary<string, double> { ["verifierV1.accuracy"] = 0.94, ["verifierV2.accuracy"] = 0.92, ["verifierV3.accuracy"] = 0.92 }, all)?.Name);
        Assert.Equal("verifierV2", BestVerifier.Choose(new Dictionary<string, double> { ["verifierV1.accuracy"] = 0.9, ["verifierV2.accuracy"] = 0.93, ["verifierV3.accuracy"] = 0.9286 }, all)?.Name);
        Assert.Equal("verifierV3", BestVerifier.Choose(new Dictionary<string, double> { ["verifierV1.accuracy"] = 0.9, ["verifierV2.accuracy"] = 0.9, ["verifierV3.accuracy"] = 0.9 }, all)?.Name);
        // No measures (e.g. no held-out set): the latest.
        Assert.Equal("verifierV3", BestVerifier.Choose(new Dictionary<string, double>(), all)?.Name);
        // A verifier without a measure loses to one with a measure; a lap without v3 offers v2.
        Assert.Equal("verifierV1", BestVerifier.Choose(new Dictionary<string, double> { ["verifierV1.accuracy"] = 0.5 }, all)?.Name);
        Assert.Equal(("verifierV2", "a2"), BestVerifier.Choose(new Dictionary<string, double>(), new LapArtifacts { VerifierV1 = "a1", VerifierV2 = "a2" }));
        Assert.Null(BestVerifier.Choose(new Dictionary<string, double>(), new LapArtifacts { Base = "b" }));
    }

    [Fact]
    public void A_meta_verifier_is_measured_on_held_out_rated_analyses()
    {
        var o = new Demo.DemoDatasetOptions { ProblemsPerDifficulty = 3 };
        var rows = Demo.DemoDatasets.HeldOutGradedAnalyses(o, 2).ToList();
        // A faithful and a corrupted analysis of each held-out graded proof; the corrupted ones are rated below 1.
        Assert.Equal(2 * Demo.DemoDatasets.HeldOutGradedProofs(o, 2).Count(), rows.Count);
        Assert.Contains(rows, r => r.Score < 1);
        Assert.DoesNotContain(rows, r => Demo.DemoDatasets.ProblemRows(o).Any(p => p.Problem == r.Problem));
        string Verdict(double score) => $"Here is my analysis of the evaluation.\nBased on my analysis, the quality score of the evaluation should be: \\boxed{{{score}}}";
        Assert.Equal(1, Method.Parsers.MetaVerification(Verdict(1)).Score);
        var completions = new List<SampleCompletion>
        {
            new() { Id = "row-0", Completion = Verdict(rows[0].Score) },          // right
            new() { Id = "row-1", Completion = Verdict(rows[1].Score == 1 ? 0 : 1) }, // wrong by 1
            new() { Id = "row-2", Completion = "no verdict", FinishReason = "length" }, // unparsable: wrong, error 1
        };
        var m = LapMeasures.MetaVerifier("metaVerifier", rows, completions);
        Assert.Equal(0.3333, m["metaVerifier.accuracy"]);
        Assert.Equal(0.6667, m["metaVerifier.formatRate"]);
        Assert.Equal(3, m["metaVerifier.samples"]);
        Assert.DoesNotContain(m.Keys, k => k.StartsWith("parseFailures."));
    }
}
