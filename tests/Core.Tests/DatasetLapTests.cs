using MathV2.Core.Laps;
using MathV2.Core.Method;

namespace MathV2.Core.Tests;

/// <summary>Dataset laps' contract (the spec's door), phase 4's audit pick and measures, and the report's absent measures.</summary>
public sealed class DatasetLapTests
{
    static readonly DatasetArtifacts Uploaded = new() { Problems = "dp", GradedProofs = "dv", HeldOutProblems = "ho", HeldOutGradedProofs = "ho-dv" };

    static LapSpec Datasets(Func<LapSpec, LapSpec>? edit = null)
    {
        var spec = new LapSpec { Domain = LapSpec.DatasetsDomain, Datasets = Uploaded, BaseCheckpoint = "base-ckpt" };
        return edit == null ? spec : edit(spec);
    }

    static Dictionary<string, string> Errors(LapSpec spec) => spec.Validate().GroupBy(e => e.Field).ToDictionary(g => g.Key, g => string.Join("; ", g.Select(e => e.Message)));

    [Fact]
    public void A_dataset_lap_needs_its_datasets_and_a_base_checkpoint_and_takes_people_and_the_standard_prompts_by_default()
    {
        var ok = Datasets();
        Assert.Empty(Errors(ok));
        Assert.Equal((AnnotationOptions.Http, "standard", 32), (ok.Annotator, ok.PromptSet.Name, ok.AuditSize));
        Assert.Equal(MethodOptions.ProofReward, ok.Phase2Reward);
        // The demo keeps its oracle (so no audit) and its prompts.
        Assert.Equal((AnnotationOptions.Oracle, "compact", 0), (new LapSpec().Annotator, new LapSpec().PromptSet.Name, new LapSpec().AuditSize));
        // People on the demo audit only when asked (the oracle already measures every label there).
        Assert.Equal(0, new LapSpec { Annotation = new() { Annotator = "http" } }.AuditSize);
        Assert.Equal(5, new LapSpec { Annotation = new() { Annotator = "http" }, Consensus = new() { AuditSize = 5 } }.AuditSize);
        Assert.Equal(0, ok with { Consensus = new() { AuditSize = 0 } } is var none ? none.AuditSize : -1);

        var e = Errors(Datasets(s => s with { Datasets = null, BaseCheckpoint = null }));
        Assert.Contains("is required", e["datasets"]);
        Assert.Contains("does not bootstrap", e["baseCheckpoint"]);
        e = Errors(Datasets(s => s with { Annotation = new() { Annotator = "oracle" } }));
        Assert.Contains("oracle labels only the demo domain", e["annotation.annotator"]);
        e = Errors(Datasets(s => s with { Datasets = new() { Problems = "dp", GradedProofs = "bad id!", HeldOutProblems = "ho" } }));
        Assert.Equal(["datasets.gradedProofs", "datasets.heldOutGradedProofs"], e.Keys.Order());
        Assert.Contains("not a valid artifact id", e["datasets.gradedProofs"]);
        Assert.Contains("datasets", Errors(new LapSpec { Datasets = Uploaded }).Keys);
        Assert.Contains("\"datasets\"", Errors(new LapSpec { Domain = "mine" })["domain"]);
        Assert.Contains("consensus.auditSize", Errors(Datasets(s => s with { Consensus = new() { AuditSize = -1 } })).Keys);
        // Held-out roles read their heldout- file first, so one artifact may hold every file.
        Assert.Equal(["heldout-problems.jsonl", "problems.jsonl"], Uploaded.Roles().Single(r => r.Role == "heldOutProblems").Files);
    }

    static ConsensusLabel Label(int i, double? label) => new()
    {
        Proof = new ConsensusProof { Id = $"proof|p{i}|0", ProblemId = $"p{i}", Problem = "P", Proof = "x" },
        Fixed = new ConsensusResult { Decision = label == null ? ConsensusDecision.Discarded : ConsensusDecision.Labeled, Label = label, Reason = "", Evidence = [] },
        Adaptive = new ConsensusResult { Decision = ConsensusDecision.Discarded, Reason = "", Evidence = [] },
    };

    [Fact]
    public void The_audit_is_stratified_over_labels_keeps_rare_labels_never_takes_discarded_proofs_and_is_seeded()
    {
        // 14 labelled 0, 5 labelled 1, 1 labelled 0.5, 4 discarded.
        var labels = Enumerable.Range(0, 24).Select(i => Label(i, i < 14 ? 0 : i < 19 ? 1 : i < 20 ? 0.5 : null)).ToList();
        var pick = AutoLabelling.PickAudit(labels, 8, "1-4-audit");
        Assert.Equal(8, pick.Count);
        Assert.Equal(pick.Order(), pick);
        var byLabel = pick.GroupBy(i => labels[i].Outcome.Label!.Value).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(1, byLabel[0.5]);          // the rare label is checked too
        Assert.InRange(byLabel[0], 4, 6);       // about 14/20 of 8
        Assert.InRange(byLabel[1], 1, 3);
        Assert.DoesNotContain(pick, i => i >= 20);
        Assert.Equal(pick, AutoLabelling.PickAudit(labels, 8, "1-4-audit"));
        Assert.NotEqual(pick, AutoLabelling.PickAudit(labels, 8, "2-4-audit"));
        Assert.Equal(Enumerable.Range(0, 20), AutoLabelling.PickAudit(labels, 32, "s"));
        Assert.Empty(AutoLabelling.PickAudit(labels, 0, "s"));
        Assert.Equal(2, AutoLabelling.PickAudit(labels, 2, "s").Count);

        // People agree on 3 of 4: overall and per label.
        var people = new Dictionary<int, double> { [0] = 0, [1] = 0.5, [14] = 1, [19] = 0.5 };
        var m = AutoLabelling.AuditMeasures(labels, people);
        Assert.Equal((4, 0.75, 0.5, 1.0), (m["consensus.audit.items"], m["consensus.audit.agreement"], m["consensus.audit.agreement.label0"], m["consensus.audit.agreement.label1"]));
        Assert.Empty(AutoLabelling.AuditMeasures(labels, new Dictionary<int, double>()));
    }

    [Fact]
    public void A_dataset_laps_report_names_the_measures_it_cannot_have_and_why_and_has_no_demo_targets()
    {
        var t0 = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var phases = new List<PhaseResult>
        {
            new() { Phase = "1d", Metrics = new() { ["verifierV2.accuracy"] = 0.7, ["verifierV2.meanAbsError"] = 0.2 } },
            new() { Phase = "4", Metrics = new() { ["consensus.proofs"] = 10, ["consensus.audit.agreement"] = 0.9 } },
        };
        var r = LapReport.Build("lap-x", "mine", 1, phases, t0, t0.AddSeconds(100), new(), LapSpec.DatasetsDomain);
        Assert.Empty(r.Targets);
        Assert.DoesNotContain(r.Measures.Keys, k => k.Contains("oracle"));
        Assert.Contains("verifier v2 judges", r.Absent["base/generator.oraclePassRate, .oracleMeanScore, .failed.*, .selfScoreHonesty"]);
        Assert.Contains("datasets.heldOutRatedAnalyses", r.Absent["metaVerifier.*, verifierV2.meta.*"]);
        Assert.DoesNotContain("consensus.audit.agreement", r.Absent.Keys);
        string md = r.ToMarkdown();
        Assert.Contains("uploaded datasets", md);
        Assert.Contains("| consensus.agreement | no oracle outside the demo domain: people audit", md);
        Assert.DoesNotContain("## Targets", md);

        var noAudit = LapReport.Build("lap-x", null, 1, [new() { Phase = "4", Metrics = new() { ["consensus.proofs"] = 10, ["metaVerifier.accuracy"] = 1 } }], t0, t0, new(), LapSpec.DatasetsDomain);
        Assert.Contains("consensus.auditSize", noAudit.Absent["consensus.audit.agreement"]);
        Assert.DoesNotContain("metaVerifier.*, verifierV2.meta.*", noAudit.Absent.Keys);
        var demo = LapReport.Build("lap-x", null, 1, phases, t0, t0, new());
        Assert.Empty(demo.Absent);
        Assert.NotEmpty(demo.Targets);
    }

    [Fact]
    public void Without_the_oracle_no_measure_judges_by_it_even_for_problems_with_demo_ids()
    {
        var o = new LapSpec().Demo.ToDatasetOptions() with { ProblemsPerDifficulty = 2, MaxDifficulty = 1 };
        var p = Demo.DemoDatasets.Problems(o)[0];
        var proof = new SampleCompletion { Id = p.Id, Completion = "## Solution\nx\n## Self Evaluation\nHere is my evaluation of the solution:\nBased on my evaluation, the final overall score should be:\n\\boxed{1}" };
        Assert.Contains("g.oraclePassRate", LapMeasures.Generator("g", [proof]).Keys);
        Assert.DoesNotContain(LapMeasures.Generator("g", [proof], oracle: false).Keys, k => k.Contains("oracle") || k.Contains("failed") || k.Contains("Honesty"));
        var rows = Demo.DemoDatasets.GradedProofs(o).Take(1).ToList();
        var analysis = new SampleCompletion { Id = "row-0", Completion = proof.Completion };
        Assert.Contains("v.metaQuality", LapMeasures.Verifier("v", rows, [analysis]).Keys);
        Assert.DoesNotContain("v.metaQuality", LapMeasures.Verifier("v", rows, [analysis], oracle: false).Keys);
        var record = new RefinementRecord { Id = p.Id, Attempts = [new() { Completion = proof.Completion, SelfScore = 1 }] };
        Assert.DoesNotContain("refinement.passAt1Iteration", LapMeasures.Refinement([record], 2, oracle: false).Keys);
        var cp = new ConsensusProof { Id = $"proof|{p.Id}|0", ProblemId = p.Id, Problem = p.Statement, Proof = "x" };
        SampleCompletion[] clean = [new() { Id = cp.Id, Completion = Demo.Oracle.WriteAnalysis([]) }];
        Assert.Null(AutoLabelling.Label([cp], clean, [], new ConsensusOptions { N = 1, M = 1, K = 1 }, oracle: false).Single().Oracle);
        Assert.NotNull(AutoLabelling.Label([cp], clean, [], new ConsensusOptions { N = 1, M = 1, K = 1 }).Single().Oracle);
    }
}
