using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Datasets;
using MathV2.Core.Demo;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using MathV2.Core.Method;
using MathV2.Core.Storage;

namespace MathV2.Host.Tests;

/// <summary>
/// A team's own data end to end on the real stack: files in the published formats, imported and uploaded with the
/// CLI; a base checkpoint made by a job, downloaded and uploaded again; a flywheel of dataset laps driven over HTTP
/// with people's labels (lap 1: cold start, analyses, audit; lap 2, human-free: only the audit).
/// </summary>
[Collection("stack")]
[Trait("Category", "EndToEnd")]
public sealed class DatasetLapTests(StackFixture stack)
{
    Task<(int Rc, string Out, string Err)> Cli(params string[] args) => stack.CliAsync(args);

    /// <summary>The competition's files as published: nested fields, points out of 7.</summary>
    static void WritePublished(string dir, DemoDatasetOptions o)
    {
        static int Points(double score) => score switch { 1 => 7, 0.5 => 5, _ => 2 };
        static string Line(object row) => JsonSerializer.Serialize(row) + "\n";
        File.WriteAllText(Path.Combine(dir, "problems.raw.jsonl"), string.Concat(DemoDatasets.ProblemRows(o).Select(p => Line(new { problem_id = p.Id, question = p.Problem }))));
        File.WriteAllText(Path.Combine(dir, "heldout-problems.raw.jsonl"), string.Concat(DemoDatasets.HeldOutProblems(o, 2).Select(p => Line(new { problem_id = p.Id, question = p.Statement }))));
        File.WriteAllText(Path.Combine(dir, "graded.raw.jsonl"), string.Concat(DemoDatasets.GradedProofs(o).Select(r =>
            Line(new { problem_id = r.ProblemId, question = r.Problem, model_prediction = new { proof = r.Proof }, points = Points(r.Score) }))));
        File.WriteAllText(Path.Combine(dir, "heldout-graded.raw.jsonl"), string.Concat(DemoDatasets.HeldOutGradedProofs(o, 2).Select(r =>
            Line(new { problem_id = r.ProblemId, question = r.Problem, model_prediction = new { proof = r.Proof }, points = Points(r.Score) }))));
        File.WriteAllText(Path.Combine(dir, "heldout-rated.raw.jsonl"), string.Concat(DemoDatasets.HeldOutGradedAnalyses(o, 2).Take(6).Select(r =>
            Line(new { problem_id = r.ProblemId, question = r.Problem, model_prediction = new { proof = r.Proof }, evaluation = r.Analysis, points = Points(r.Score) }))));
    }

    /// <summary>
    /// A base model made by an sft job on the stack's worker: it answers every verification prompt with one
    /// well-formed analysis scoring 1 (so that phase 4's consensus has labels for people to audit).
    /// </summary>
    async Task<string> BaseCheckpointJobAsync(DemoDatasetOptions o)
    {
        const string analysis = "Here is my evaluation of the solution:\nBased on my evaluation, the final overall score should be:\n\\boxed{1}";
        // Proofs as written and scrambled (what a barely trained generator writes), so the answer does not depend on them.
        var proofs = DemoDatasets.GradedProofs(o).SelectMany(r => new[] { r.Proof, string.Join(' ', r.Proof.Split(' ').Reverse()), r.Proof[..(r.Proof.Length / 3)] }.Select(p => (r.Problem, Proof: p)));
        var rows = proofs.Select(r => new DemonstrationRow { Kind = "verification", Prompt = Prompts.RenderVerification(r.Problem, r.Proof, Prompts.Compact.Verification), Completion = analysis });
        return await stack.SftCheckpointAsync(rows,
            new { hidden_size = 64, num_hidden_layers = 2, num_attention_heads = 4, num_key_value_heads = 2, intermediate_size = 128, max_position_embeddings = 1024 },
            new { steps = 150, batchSize = 8, maxSeqLen = 512, learningRate = 3e-3 }, seconds: 300);
    }

    static object DatasetLapSpec(string datasets, string rated, string baseCheckpoint) => new
    {
        name = "own data",
        domain = "datasets",
        datasets = new { problems = datasets, gradedProofs = datasets, heldOutProblems = datasets, heldOutGradedProofs = datasets, heldOutRatedAnalyses = rated },
        baseCheckpoint,
        prompts = "compact",
        demo = new { seed = 2 },
        coldStart = new { proofsPerProblem = 1, maxNewTokens = 30 },
        annotation = new { batchSize = 4, deadlineMinutes = 60, reminderMinutes = 1 },
        verifier = new { steps = 1, groupSize = 2, promptsPerStep = 2, maxNewTokens = 48, batchSize = 4, maxSeqLen = 512 },
        metaVerifier = new { steps = 1, groupSize = 2, promptsPerStep = 2, maxNewTokens = 16, batchSize = 4, maxSeqLen = 768 },
        generator = new { steps = 1, groupSize = 2, promptsPerStep = 2, maxNewTokens = 24, batchSize = 4, maxSeqLen = 512 },
        analyses = new { perProof = 1, maxNewTokens = 48 },
        selfVerification = new { steps = 1, groupSize = 2, promptsPerStep = 2, maxNewTokens = 24, batchSize = 4, maxSeqLen = 512 },
        refinement = new { maxIterations = 2, samples = 1, maxNewTokens = 24 },
        consensus = new { n = 2, m = 1, k = 1, proofs = 6, maxNewTokens = 48, temperature = 0.2, shards = 1, auditSize = 4 },
        evaluation = new { maxNewTokens = 48, proofSamples = 1, analysisSamples = 0 },
        limits = new { pollSeconds = 1, heartbeatStaleSeconds = 30 },
    };

    async Task<IReadOnlyList<AnnotationItem>> LabelAsync(string lap, string suffix, Func<int, double> score)
    {
        string batch = await LapTests.WaitForBatchAsync(stack, lap, suffix);
        var items = AnnotationValidation.ReadItems(await stack.Http.GetStringAsync($"/api/laps/{lap}/annotations/{batch}"));
        var resp = await stack.Http.PostAsync($"/api/laps/{lap}/annotations/{batch}",
            new StringContent(string.Concat(items.Select((i, k) => JsonSerializer.Serialize(new { itemId = i.ItemId, score = score(k) }) + "\n")), Encoding.UTF8, "application/x-ndjson"));
        Assert.True(resp.StatusCode == HttpStatusCode.Accepted, await resp.Content.ReadAsStringAsync());
        return items;
    }

    [Fact]
    public async Task A_flywheel_of_dataset_laps_runs_on_uploaded_data_and_base_model_with_people_and_an_audit()
    {
        await stack.Stack.UpAsync();
        string dir = Directory.CreateTempSubdirectory("mathv2-owndata-").FullName;
        var o = new LapSpec().Demo.ToDatasetOptions() with { Seed = 7, ProblemsPerDifficulty = 6, MaxDifficulty = 1, Prompts = Prompts.Compact };
        WritePublished(dir, o);
        string data = Path.Combine(dir, "data");
        Directory.CreateDirectory(data);
        const string map = "7:1,5-6:0.5,0-4:0";
        foreach (var (raw, file, extra) in new[]
        {
            ("problems.raw.jsonl", "problems.jsonl", new string[0]),
            ("heldout-problems.raw.jsonl", "heldout-problems.jsonl", []),
            ("graded.raw.jsonl", "graded-proofs.jsonl", ["--proof-field", "model_prediction.proof", "--score-field", "points", "--score-map", map]),
            ("heldout-graded.raw.jsonl", "heldout-graded-proofs.jsonl", ["--proof-field", "model_prediction.proof", "--score-field", "points", "--score-map", map]),
        })
        {
            var (rc, _, err) = await Cli(["datasets", "import", "--in", Path.Combine(dir, raw), "--problem-field", "question", "--id-field", "problem_id", "--out", Path.Combine(data, file), .. extra]);
            Assert.True(rc == 0, $"{raw}: {err}");
        }
        // The held-out ratings as an artifact of their own, stored by the import itself.
        string rated = $"rated-{Guid.NewGuid():N}"[..18];
        var importRated = await Cli("datasets", "import", "--in", Path.Combine(dir, "heldout-rated.raw.jsonl"), "--problem-field", "question", "--id-field", "problem_id",
            "--proof-field", "model_prediction.proof", "--analysis-field", "evaluation", "--score-field", "points", "--score-map", map, "--out", Path.Combine(dir, "rated.jsonl"), "--artifact", rated);
        Assert.True(importRated.Rc == 0, importRated.Err);
        Assert.Equal(["graded-analyses.jsonl"], (await stack.Artifacts.GetAsync(rated))!.Files.Select(f => f.Path));
        string datasets = $"ds-{Guid.NewGuid():N}"[..15];
        var put = await Cli("artifacts", "put", data, "--kind", "dataset", "--name", datasets, "--json");
        Assert.True(put.Rc == 0, put.Err);

        // The base model: a job's checkpoint, downloaded with the CLI (byte-exact) and uploaded as the team's own.
        string trained = await BaseCheckpointJobAsync(o);
        string folder = Path.Combine(dir, "base");
        Assert.Equal(0, (await Cli("artifacts", "download", trained, "--out", folder)).Rc);
        foreach (var f in (await stack.Artifacts.GetAsync(trained))!.Files)
            Assert.Equal(f.Sha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(folder, f.Path)))));
        string baseCheckpoint = $"base-{Guid.NewGuid():N}"[..17];
        var putBase = await Cli("artifacts", "put", folder, "--kind", "checkpoint", "--name", baseCheckpoint);
        Assert.True(putBase.Rc == 0, putBase.Err);

        // The door: the oracle, a checkpoint for a dataset, a dataset without the role's file.
        var bad = await stack.Http.PostAsJsonAsync("/api/laps", new
        {
            domain = "datasets", baseCheckpoint = datasets, annotation = new { annotator = "oracle" },
            datasets = new { problems = datasets, gradedProofs = baseCheckpoint, heldOutProblems = datasets, heldOutGradedProofs = datasets, ratedAnalyses = rated, heldOutRatedAnalyses = rated },
        }, Json.Options);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var errors = (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Contains("oracle labels only the demo domain", errors.GetProperty("annotation.annotator")[0].GetString());
        Assert.Contains("is not a checkpoint", errors.GetProperty("baseCheckpoint")[0].GetString());
        Assert.Contains("has no graded-proofs.jsonl", errors.GetProperty("datasets.gradedProofs")[0].GetString());
        Assert.Contains("the file datasets.ratedAnalyses trains on", errors.GetProperty("datasets.heldOutRatedAnalyses")[0].GetString());
        Assert.False(errors.TryGetProperty("datasets.heldOutProblems", out _), errors.ToString());   // the heldout- file comes first

        var resp = await stack.Http.PostAsJsonAsync("/api/flywheels", new { laps = 2, humanFreeFromLap = 2, lap = DatasetLapSpec(datasets, rated, baseCheckpoint) }, Json.Options);
        Assert.True(resp.StatusCode == HttpStatusCode.Accepted, await resp.Content.ReadAsStringAsync());
        string id = (await resp.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        string lap1 = $"lap-{id[4..]}_1", lap2 = $"lap-{id[4..]}_2";

        // Lap 1: people label the cold-start proofs and rate the analyses, then audit consensus labels; lap 2 only audits.
        var coldStart = await LabelAsync(lap1, "-1a-batch", k => k % 2);
        await LabelAsync(lap1, "-1c-batch", _ => 1);
        var audited = await LabelAsync(lap1, "-4-audit", k => k % 2);
        await LabelAsync(lap2, "-4-audit", _ => 1);
        JsonElement fw = default;
        await StackFixture.Until(async () => (fw = await stack.Http.GetFromJsonAsync<JsonElement>($"/api/flywheels/{id}")).GetProperty("runtimeStatus").GetString() is "Completed" or "Failed",
            900, () => $"flywheel {id} did not finish: {fw}");
        Assert.True(fw.GetProperty("runtimeStatus").GetString() == "Completed", fw.ToString());
        var flywheels = await stack.Http.GetFromJsonAsync<JsonElement>("/api/flywheels");
        Assert.Contains(flywheels.EnumerateArray(), f => f.GetProperty("id").GetString() == id && f.GetProperty("status").GetProperty("laps").GetArrayLength() == 2);

        var first = (await stack.Http.GetFromJsonAsync<JsonElement>($"/api/laps/{lap1}")).GetProperty("output");
        var a1 = first.GetProperty("artifacts");
        Assert.Equal(baseCheckpoint, a1.GetProperty("base").GetString());
        Assert.Null(await stack.Jobs.GetAsync($"{lap1}-1a-bootstrap"));
        // The lap's datasets come from the upload (lineage), D_v starts from its graded proofs.
        Assert.Contains(datasets, (await stack.Artifacts.GetAsync(a1.GetProperty("problems").GetString()!))!.Parents);
        var dv1 = Jsonl.Read<GradedProofRow>(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync((await stack.Artifacts.GetAsync($"{lap1}-1a.dv"))!, LapFiles.GradedProofs)), "dv").Rows;
        Assert.Equal(DemoDatasets.GradedProofs(o).Count(), dv1.Count - coldStart.Count);

        // The audit: people's scores replace the consensus labels in D_v, and the report gives the agreement.
        var labels = Jsonl.Records<ConsensusLabel>(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync((await stack.Artifacts.GetAsync(a1.GetProperty("consensus").GetString()!))!, LapFiles.Consensus)));
        var people = audited.Select((item, k) => (Index: int.Parse(item.ItemId["proof-".Length..]), Score: (double)(k % 2))).ToList();
        double agreement = Math.Round(people.Count(p => labels[p.Index].Outcome.Label == p.Score) / (double)people.Count, 4);
        var dv4 = Jsonl.Read<GradedProofRow>(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync((await stack.Artifacts.GetAsync(a1.GetProperty("dv").GetString()!))!, LapFiles.GradedProofs)), "dv").Rows;
        var added = dv4.Skip(dv1.Count).ToList();
        var labelled = labels.Select((l, i) => (l, i)).Where(x => x.l.Outcome.Decision == ConsensusDecision.Labeled).ToList();
        Assert.Equal(labelled.Count, added.Count);
        foreach (var (p, score) in people) Assert.Equal(score, added[labelled.FindIndex(x => x.i == p)].Score);

        var report = await stack.Http.GetFromJsonAsync<JsonElement>($"/api/laps/{lap1}/report?format=json");
        var measures = report.GetProperty("measures");
        Assert.Equal(agreement, measures.GetProperty("consensus.audit.agreement").GetDouble());
        Assert.Equal(people.Count, measures.GetProperty("consensus.audit.items").GetDouble());
        foreach (string m in new[] { "verifierV1.accuracy", "verifierV2.meanAbsError", "verifierV3.accuracy", "metaVerifier.accuracy", "verifierV2.meta.accuracy",
            "base.verifierPassRate", "generator.verifierPassRate", "refinement.firstAttempt.verifierPassRate", "refinement.lastAttempt.verifierPassRate" })
            Assert.True(measures.TryGetProperty(m, out _), $"no {m}: {measures}");
        Assert.DoesNotContain(measures.EnumerateObject(), m => m.Name.Contains("oracle") || m.Name.Contains("metaQuality") || m.Name == "consensus.agreement");
        Assert.Contains("no oracle", report.GetProperty("absent").GetProperty("consensus.agreement").GetString());
        string markdown = await stack.Http.GetStringAsync($"/api/laps/{lap1}/report");
        Assert.Contains("uploaded datasets", markdown);
        Assert.Contains("| consensus.audit.agreement |", markdown);

        // Lap 2, human-free: no batches but the audit; it continues lap 1's checkpoints and D_v.
        var second = (await stack.Http.GetFromJsonAsync<JsonElement>($"/api/laps/{lap2}")).GetProperty("output");
        var phases2 = second.GetProperty("phases").EnumerateArray().ToList();
        Assert.Null(await LapTestsBatches.BatchAsync(stack, $"{lap2}-1a-batch"));
        Assert.Null(await LapTestsBatches.BatchAsync(stack, $"{lap2}-1c-batch"));
        Assert.Equal(a1.GetProperty("dv").GetString(), phases2[0].GetProperty("artifacts").GetProperty("dv").GetString());
        Assert.Equal([$"{lap2}-1a-heldout-base", $"{lap2}-1a-heldout-baseverifier"], phases2[0].GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("jobId").GetString()));
        Assert.Equal($"{lap2}-4-audit", phases2[6].GetProperty("artifacts").GetProperty("batch4").GetString());
        Assert.True(phases2[6].GetProperty("metrics").GetProperty("consensus.audit.items").GetDouble() > 0);
        // Lap 2's verifiers start from lap 1's best by held-out accuracy (against people's scores here).
        var lap1Metrics = first.GetProperty("phases").EnumerateArray().SelectMany(p => p.GetProperty("metrics").EnumerateObject())
            .GroupBy(m => m.Name).ToDictionary(g => g.Key, g => g.Last().Value.GetDouble());
        string best = BestVerifier.Choose(lap1Metrics, a1.Deserialize<LapArtifacts>(Json.Options)!)!.Value.Name;
        Assert.Equal(best, fw.GetProperty("output").GetProperty("laps")[0].GetProperty("bestVerifier").GetString());
        Assert.Contains(a1.GetProperty(best).GetString(), (await stack.Artifacts.GetLineageAsync(phases2[1].GetProperty("artifacts").GetProperty("verifierV1").GetString()!))!.Ancestors.Select(m => m.Id));
        Assert.Equal(a1.GetProperty("dmv").GetString(), phases2[2].GetProperty("artifacts").GetProperty("dmv").GetString());
        var genAncestors = (await stack.Artifacts.GetLineageAsync(phases2[4].GetProperty("artifacts").GetProperty("generator").GetString()!))!.Ancestors.Select(m => m.Id).ToList();
        Assert.Contains(a1.GetProperty("selfVerifyingGenerator").GetString(), genAncestors);
        // Lap 2's report plots the held-out measures of laps 1 and 2; lap 1's has no such plot.
        var report2 = await stack.Http.GetFromJsonAsync<JsonElement>($"/api/laps/{lap2}/report?format=json");
        Assert.Contains(report2.GetProperty("plots").EnumerateArray(), p => p.GetProperty("file").GetString() == "plots/flywheel-heldout.png"
            && p.GetProperty("title").GetString() == "Held-out measures, laps 1–2");
        Assert.DoesNotContain(report.GetProperty("plots").EnumerateArray(), p => p.GetProperty("file").GetString() == "plots/flywheel-heldout.png");
        // flywheel curves: every finished lap's training runs, one folder per lap.
        string curves = Path.Combine(dir, "curves");
        var (crc, cout, cerr) = await stack.CliAsync("flywheel", "curves", id, "--out", curves, "--json");
        Assert.True(crc == 0, cerr);
        var runs = JsonDocument.Parse(cout).RootElement.GetProperty("runs").EnumerateArray().Select(r => r.GetString()!).ToList();
        Assert.Contains(Path.Combine("lap1", "1b", "verifier-v1"), runs);
        Assert.Contains(Path.Combine("lap2", "1b", "verifier-v1"), runs);
        Assert.All(runs, r => Assert.Single(Directory.GetFiles(Path.Combine(curves, r), "events.out.tfevents.*")));
        Assert.Equal((800, 450), LapTests.PngSize(await stack.Artifacts.ReadFileAsync((await stack.Artifacts.GetAsync($"{lap2}.report"))!, "plots/flywheel-heldout.png")));
        Directory.Delete(dir, true);
    }
}
