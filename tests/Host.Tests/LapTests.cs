using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Datasets;
using MathV2.Core.Demo;
using MathV2.Core.Laps;
using MathV2.Core.Storage;

namespace MathV2.Host.Tests;

/// <summary>A lap small enough for a test: 3 problems, a one-layer model, a few steps per job.</summary>
static class LapTestSpecs
{
    public static object Small(string annotator) => new
    {
        name = "test lap",
        demo = new { seed = 2, problemsPerDifficulty = 3, maxDifficulty = 1, prompts = "compact" },
        bootstrap = new
        {
            config = new { hidden_size = 32, num_hidden_layers = 1, num_attention_heads = 4, num_key_value_heads = 2, intermediate_size = 64, max_position_embeddings = 1024 },
            options = new { steps = 3, batchSize = 4, maxSeqLen = 512 },
        },
        coldStart = new { proofsPerProblem = 2, maxNewTokens = 30 },
        annotation = new { annotator, batchSize = 4, deadlineMinutes = 60, reminderMinutes = 1 },
        verifier = new { steps = 2, groupSize = 2, promptsPerStep = 2, maxNewTokens = 16, batchSize = 4, maxSeqLen = 512 },
        metaVerifier = new { steps = 2, groupSize = 2, promptsPerStep = 2, maxNewTokens = 16, batchSize = 4, maxSeqLen = 768 },
        generator = new { steps = 2, groupSize = 2, promptsPerStep = 2, maxNewTokens = 24, batchSize = 4, maxSeqLen = 512 },
        analyses = new { perProof = 1, maxNewTokens = 24 },
        selfVerification = new { steps = 1, groupSize = 2, promptsPerStep = 2, maxNewTokens = 24, batchSize = 4, maxSeqLen = 512 },
        refinement = new { maxIterations = 2, samples = 2, maxNewTokens = 24 },
        consensus = new { n = 2, m = 2, k = 1, proofs = 3, maxNewTokens = 16, shards = 2 },
        evaluation = new { heldOutPerDifficulty = 1, maxNewTokens = 16, analysisSamples = 2 },
        limits = new { pollSeconds = 1, heartbeatStaleSeconds = 30 },
    };
}

/// <summary>Laps on the real stack (host, worker, Azurite processes) with small sizes: phases 1A and 1B.</summary>
[Collection("stack")]
[Trait("Category", "EndToEnd")]
public sealed class LapTests(StackFixture stack)
{
    static object Spec(string annotator) => LapTestSpecs.Small(annotator);

    async Task<string> StartAsync(object spec)
    {
        var resp = await stack.Http.PostAsJsonAsync("/api/laps", spec, Json.Options);
        Assert.True(resp.StatusCode == HttpStatusCode.Accepted, await resp.Content.ReadAsStringAsync());
        var body = await resp.Content.ReadFromJsonAsync<JsonElement>();
        Assert.StartsWith($"{stack.Stack.Layout.Url}/api/instances/", body.GetProperty("statusQueryGetUri").GetString());
        return body.GetProperty("id").GetString()!;
    }

    async Task<JsonElement> LapAsync(string id) => await stack.Http.GetFromJsonAsync<JsonElement>($"/api/laps/{id}");

    async Task<JsonElement> WaitForLapAsync(string id, string status, int seconds = 600)
    {
        JsonElement lap = default;
        await StackFixture.Until(async () => (lap = await LapAsync(id)).GetProperty("runtimeStatus").GetString() is var s && (s == status || s == "Failed"), seconds,
            () => $"lap {id} never became {status}; last: {lap}");
        Assert.True(lap.GetProperty("runtimeStatus").GetString() == status, $"lap {id}: {lap}");
        return lap;
    }

    /// <summary>A PNG's width and height (IHDR), or an assertion failure when the bytes are not a PNG.</summary>
    public static (int Width, int Height) PngSize(byte[] png)
    {
        Assert.True(png.Length > 24 && png.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10 }), "not a PNG");
        return (System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
    }

    static List<ConsensusProof> ReadConsensusProofs(string jsonl) =>
        jsonl.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => Json.Deserialize<ConsensusProof>(l)).ToList();

    [Fact]
    public async Task A_lap_with_the_oracle_runs_every_phase_with_artifacts_lineage_and_a_consistent_report()
    {
        await stack.Stack.UpAsync();
        string id = await StartAsync(Spec("oracle"));
        var lap = await WaitForLapAsync(id, "Completed");

        var phases = lap.GetProperty("output").GetProperty("phases").EnumerateArray().ToList();
        Assert.Equal(["1a", "1b", "1c", "1d", "2", "3", "4"], phases.Select(p => p.GetProperty("phase").GetString()));
        var a = phases[0].GetProperty("artifacts");
        string base_ = a.GetProperty("base").GetString()!, dv = a.GetProperty("dv").GetString()!, proofs = a.GetProperty("coldStartProofs").GetString()!;
        string v1 = phases[1].GetProperty("artifacts").GetProperty("verifierV1").GetString()!;
        Assert.Equal([$"{id}-1a-bootstrap", $"{id}-1a-heldout-base", $"{id}-1a-heldout-baseverifier", $"{id}-1a-heldout-baseverifier-sampled", $"{id}-1a-proofs"], phases[0].GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("jobId").GetString()));

        // D_v: the demo's graded proofs of D_p (3 problems × 4 defect kinds) and the batch, labelled by the oracle exactly.
        var dvManifest = (await stack.Artifacts.GetAsync(dv))!;
        var rows = Jsonl.Read<GradedProofRow>(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync(dvManifest, LapFiles.GradedProofs)), "dv").Rows;
        Assert.Equal(12 + 4, rows.Count);
        Assert.All(rows, r => Assert.Equal(Oracle.ScoreProof(ArithmeticDomainIds.TryProblem(r.ProblemId)!, r.Proof).Score, r.Score));
        Assert.Equal([$"{id}.graded", $"{id}-1a-batch.dv"], dvManifest.Parents);
        Assert.Equal([proofs], (await stack.Artifacts.GetAsync($"{id}-1a-batch.dv"))!.Parents);

        // Lineage of verifier v1 reaches back to the lap's datasets through every phase's artifacts.
        var lineage = (await stack.Artifacts.GetLineageAsync(v1))!;
        var ancestors = lineage.Ancestors.Select(m => m.Id).ToHashSet();
        foreach (string expected in new[] { base_, dv, proofs, $"{id}.problems", $"{id}.demonstrations" }) Assert.Contains(expected, ancestors);
        var v1Manifest = (await stack.Artifacts.GetAsync(v1))!;
        Assert.Equal(id, v1Manifest.Producer.Lap);
        Assert.Equal("1b", v1Manifest.Producer.Phase);
        Assert.Contains("metrics.jsonl", v1Manifest.Files.Select(f => f.Path));

        // 1C: v1's analyses of the D_v proofs, rated by the oracle with the meta-rubric → D_mv → the meta-verifier.
        var c = phases[2].GetProperty("artifacts");
        string dmv = c.GetProperty("dmv").GetString()!, meta = c.GetProperty("metaVerifier").GetString()!;
        var dmvRows = Jsonl.Read<GradedAnalysisRow>(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync((await stack.Artifacts.GetAsync(dmv))!, LapFiles.GradedAnalyses)), "dmv").Rows;
        Assert.Equal(24 + 4, dmvRows.Count);   // the demo's rated analyses, then the batch of v1's analyses
        Assert.All(dmvRows, r => Assert.Equal(Oracle.JudgeAnalysis(ArithmeticDomainIds.TryProblem(r.ProblemId)!, r.Proof, r.Analysis), r.Score));
        Assert.All(dmvRows.TakeLast(4), r => Assert.Contains(r.Proof, rows.Select(x => x.Proof)));
        var metaAncestors = (await stack.Artifacts.GetLineageAsync(meta))!.Ancestors.Select(m => m.Id).ToHashSet();
        foreach (string expected in new[] { dmv, c.GetProperty("verifierAnalyses").GetString()!, v1, dv, base_ }) Assert.Contains(expected, metaAncestors);

        // 1D: v2 from the base model, trained on D_mv, then against the frozen meta-verifier on D_v.
        string v2 = phases[3].GetProperty("artifacts").GetProperty("verifierV2").GetString()!;
        var v2Lineage = (await stack.Artifacts.GetLineageAsync(v2))!;
        foreach (string expected in new[] { meta, dv, dmv, base_ }) Assert.Contains(expected, v2Lineage.Ancestors.Select(m => m.Id));
        // Lap 1: the D_mv step would repeat 1C's job (same model, data, options), so v2 continues from 1C's meta-verifier.
        var jobs1d = phases[3].GetProperty("jobs").EnumerateArray().ToList();
        Assert.Equal([$"{id}-1d-verification", $"{id}-1d-heldout-verifierv2", $"{id}-1d-heldout-verifierv2-sampled", $"{id}-1d-heldout-verifierv2.meta"],
            jobs1d.Select(j => j.GetProperty("jobId").GetString()));
        // 1C's meta-verifier, and v2 in that role (phases 3 and 4), measured on held-out rated analyses.
        Assert.InRange(phases[2].GetProperty("metrics").GetProperty("metaVerifier.accuracy").GetDouble(), 0, 1);
        Assert.InRange(phases[3].GetProperty("metrics").GetProperty("verifierV2.meta.accuracy").GetDouble(), 0, 1);
        Assert.NotNull(await stack.Artifacts.GetAsync($"{id}.heldout-meta"));
        var v2Summary = jobs1d[0].GetProperty("summary");
        Assert.Equal("verifier-v2", v2Summary.GetProperty("reward").GetString());
        Assert.Equal([meta], v2Summary.GetProperty("rewardModels").EnumerateArray().Select(x => x.GetString()));
        Assert.Contains(meta, (await stack.Artifacts.GetAsync(v2))!.Parents);

        // 2: the generator from the base model on D_p, rewarded by the frozen verifier v2.
        var gen = phases[4];
        string generator = gen.GetProperty("artifacts").GetProperty("generator").GetString()!;
        var genSummary = gen.GetProperty("jobs")[0].GetProperty("summary");
        Assert.Equal("generator", genSummary.GetProperty("reward").GetString());
        Assert.Equal([v2], genSummary.GetProperty("rewardModels").EnumerateArray().Select(x => x.GetString()));
        Assert.Contains(v2, (await stack.Artifacts.GetLineageAsync(generator))!.Ancestors.Select(m => m.Id));

        // 3: the generator continues with the α/β reward (v2 as verifier and meta-verifier), then refines held-out problems.
        var p3 = phases[5];
        string selfVerifying = p3.GetProperty("artifacts").GetProperty("selfVerifyingGenerator").GetString()!;
        var p3Summary = p3.GetProperty("jobs")[0].GetProperty("summary");
        Assert.Equal([v2], p3Summary.GetProperty("rewardModels").EnumerateArray().Select(x => x.GetString()));
        Assert.Contains(generator, (await stack.Artifacts.GetLineageAsync(selfVerifying))!.Ancestors.Select(m => m.Id));
        var heldOutProblems = Jsonl.Read<ProblemRow>(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync((await stack.Artifacts.GetAsync($"{id}.heldout"))!, LapFiles.HeldOutProblems)), "h").Rows;
        var dpIds = Jsonl.Read<ProblemRow>(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync((await stack.Artifacts.GetAsync($"{id}.problems"))!, LapFiles.Problems)), "p").Rows.Select(r => r.Problem).ToHashSet();
        Assert.NotEmpty(heldOutProblems);
        Assert.DoesNotContain(heldOutProblems, h => dpIds.Contains(h.Problem));
        var refinements = Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync((await stack.Artifacts.GetAsync(p3.GetProperty("artifacts").GetProperty("refinements").GetString()!))!, LapFiles.Refinements))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => Json.Deserialize<RefinementRecord>(l)).ToList();
        // Two trajectories per held-out problem: every problem's first, then every problem's second.
        Assert.Equal(heldOutProblems.Select(h => h.Id).Concat(heldOutProblems.Select(h => h.Id)), refinements.Select(r => r.Id));
        Assert.Equal(heldOutProblems.Select(_ => 0).Concat(heldOutProblems.Select(_ => 1)), refinements.Select(r => r.Sample));
        Assert.All(refinements, r =>
        {
            Assert.InRange(r.Attempts.Count, 1, 2);
            Assert.Equal(Enumerable.Range(1, r.Attempts.Count), r.Attempts.Select(a => a.Iteration));
            // Only a self-score of 1 stops the loop before the cap.
            Assert.True(r.Attempts.Count == 2 || r.Attempts[^1].SelfScore == 1, $"{r.Id} stopped early without self-score 1");
        });
        var m3 = p3.GetProperty("metrics");
        Assert.Equal(refinements.Average(r => (double)r.Attempts.Count), m3.GetProperty("refinement.meanIterations").GetDouble(), 3);

        // 4: the self-verifying generator's proofs (sampled in 2 shards), n analyses each by v2, meta-verdicts on issue
        // reports, consensus labels merged into D_v, verifier v3 trained on it; discarded proofs kept.
        var p4 = phases[6];
        var a4 = p4.GetProperty("artifacts");
        var jobs4 = p4.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("jobId").GetString()!).ToList();
        Assert.Contains($"{id}-4-proofs0", jobs4);
        Assert.Contains($"{id}-4-proofs1", jobs4);
        // The consensus drawn in waves of analysis and meta-verification jobs (3 proofs: wave 1's analyses in 2 shards).
        Assert.Contains($"{id}-4-w1-analyses1", jobs4);
        int waves = (int)p4.GetProperty("metrics").GetProperty("consensus.waves").GetDouble();
        Assert.InRange(waves, 1, 6);
        var waveJobs = p4.GetProperty("jobs").EnumerateArray().Where(j => j.GetProperty("jobId").GetString()!.StartsWith($"{id}-4-w")).ToList();
        Assert.All(waveJobs, j => Assert.InRange(int.Parse(j.GetProperty("jobId").GetString()![$"{id}-4-w".Length..].Split('-')[0]), 1, waves));
        var drawnAnalyses = new List<SampleCompletion>();
        var drawnMetas = new List<SampleCompletion>();
        foreach (var j in waveJobs)
        {
            var manifest = (await stack.Artifacts.GetAsync(j.GetProperty("resultArtifactId").GetString()!))!;
            var completions = SampleCompletion.Read(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync(manifest, LapFiles.Completions)));
            (j.GetProperty("jobId").GetString()!.Contains("-meta") ? drawnMetas : drawnAnalyses).AddRange(completions);
        }
        Assert.Equal(drawnAnalyses.Count, drawnAnalyses.Select(x => (x.Id, x.Index)).Distinct().Count());   // each sample once
        Assert.Equal(drawnMetas.Count, drawnMetas.Select(x => (x.Id, x.Index)).Distinct().Count());
        var consensusManifest = (await stack.Artifacts.GetAsync(a4.GetProperty("consensus").GetString()!))!;
        var decisions = Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync(consensusManifest, LapFiles.Consensus))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => Json.Deserialize<ConsensusLabel>(l)).ToList();
        // Every label from the samples drawn, settled, at most the fixed rule's budget (n = 2 analyses, m = 2 verdicts each).
        Assert.Equal(drawnAnalyses.Count + drawnMetas.Count, decisions.Sum(d => d.Drawn));
        Assert.All(decisions, d => Assert.InRange(d.Drawn, 1, 2 + 2 * 2));
        Assert.All(decisions, d => Assert.True(d.Fixed is null || (d.Fixed.Decision, d.Fixed.Label) == (d.Adaptive.Decision, d.Adaptive.Label)));
        var proofs4 = ReadConsensusProofs(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync((await stack.Artifacts.GetAsync(a4.GetProperty("consensusProofs").GetString()!))!, "proofs.jsonl")));
        var relabelled = AutoLabelling.Label(proofs4, drawnAnalyses, drawnMetas, new Core.Method.ConsensusOptions { N = 2, M = 2, K = 1 });
        Assert.Equal(decisions.Select(d => (d.Proof.Id, d.Outcome.Decision, d.Outcome.Label)), relabelled.Select(d => (d.Proof.Id, d.Outcome.Decision, d.Outcome.Label)));
        int discarded = Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync(consensusManifest, LapFiles.Discarded)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        Assert.InRange(decisions.Count, 0, 3);
        Assert.Equal(decisions.Count(d => d.Outcome.Decision == Core.Method.ConsensusDecision.Discarded), discarded);
        string dv4 = a4.GetProperty("dv").GetString()!;
        var dv4Rows = Jsonl.Read<GradedProofRow>(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync((await stack.Artifacts.GetAsync(dv4))!, LapFiles.GradedProofs)), "dv4").Rows;
        Assert.Equal(rows.Count + decisions.Count - discarded, dv4Rows.Count);
        Assert.Equal(rows.Select(r => r.Proof), dv4Rows.Take(rows.Count).Select(r => r.Proof));
        string v3 = a4.GetProperty("verifierV3").GetString()!;
        var v3Ancestors = (await stack.Artifacts.GetLineageAsync(v3))!.Ancestors.Select(m => m.Id).ToHashSet();
        foreach (string expected in new[] { dv4, consensusManifest.Id, dv, v2, selfVerifying }) Assert.Contains(expected, v3Ancestors);

        // The report: every phase, job counts, measures that agree with the held-out samples, the targets.
        var report = await stack.Http.GetFromJsonAsync<JsonElement>($"/api/laps/{id}/report?format=json");
        Assert.Equal(LapPhases.Names, report.GetProperty("phases").EnumerateArray().Select(p => p.GetProperty("phase").GetString()));
        Assert.Equal(phases.Select(p => p.GetProperty("jobs").GetArrayLength()), report.GetProperty("phases").EnumerateArray().Select(p => p.GetProperty("jobs").GetInt32()));
        Assert.True(report.GetProperty("jobSeconds").GetDouble() > 0);
        var measures = report.GetProperty("measures");
        foreach (string key in new[] { "base.oraclePassRate", "baseVerifier.accuracy", "verifierV1.accuracy", "verifierV1.metaQuality", "verifierV2.accuracy", "verifierV2.meanAbsError", "verifierV2.metaQuality",
                     "generator.oraclePassRate", "base.verifierPassRate", "generator.verifierPassRate", "refinement.passAt1Iteration", "refinement.passAtMaxIterations", "consensus.discardRate", "verifierV3.accuracy" })
            Assert.True(measures.TryGetProperty(key, out _), $"the report has no {key}: {measures}");
        var heldOutGraded = Jsonl.Read<GradedProofRow>(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync((await stack.Artifacts.GetAsync($"{id}.heldout"))!, LapFiles.HeldOutGradedProofs)), "g").Rows;
        var v2Analyses = SampleCompletion.Read(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync((await stack.Artifacts.GetAsync(phases[3].GetProperty("artifacts").GetProperty("verifierV2HeldOut").GetString()!))!, LapFiles.Completions)));
        Assert.Equal(heldOutGraded.Count, v2Analyses.Count);
        double accuracy = v2Analyses.Count(c => Core.Method.Parsers.Verification(c.Completion, c.FinishReason) is { FormatOk: true, Score: { } s } && s == heldOutGraded[int.Parse(c.Id[4..])].Score) / (double)v2Analyses.Count;
        Assert.Equal(accuracy, measures.GetProperty("verifierV2.accuracy").GetDouble(), 3);
        // Two analyses per held-out proof sampled at temperature 1 besides the greedy one; the meta quality target compares them.
        Assert.Equal(2 * heldOutGraded.Count, measures.GetProperty("verifierV2.sampled.samples").GetDouble());
        Assert.True(measures.TryGetProperty("verifierV1.sampled.metaQuality", out _), measures.ToString());
        Assert.Contains(report.GetProperty("targets").EnumerateArray(), t => t.GetProperty("rule").GetString() == "verifierV2.sampled.metaQuality > verifierV1.sampled.metaQuality");
        Assert.Equal(6, report.GetProperty("targets").GetArrayLength());
        // The report records the spec as it ran (defaults filled in) and the build, runtime and machine it was made with.
        var ranSpec = report.GetProperty("spec").GetProperty("consensus");
        Assert.Equal((2, 6), (ranSpec.GetProperty("n").GetInt32(), ranSpec.GetProperty("waves").GetInt32()));
        var madeWith = report.GetProperty("run");
        Assert.Equal(Environment.MachineName, madeWith.GetProperty("machine").GetString());
        Assert.True(madeWith.GetProperty("packages").TryGetProperty("Azure.Storage.Blobs", out _), madeWith.ToString());
        string head = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("git", ["-C", MathV2.Tests.Repo.Root, "rev-parse", "HEAD"]) { RedirectStandardOutput = true })!
            .StandardOutput.ReadToEnd().Trim();
        Assert.EndsWith($"+{head}", madeWith.GetProperty("codeVersion").GetString());
        string markdown = await stack.Http.GetStringAsync($"/api/laps/{id}/report");
        Assert.Contains("## Run", markdown);
        Assert.Contains("\"waves\": 6", markdown);
        Assert.Contains($"# Lap report: {id}", markdown);
        Assert.Contains("| verifierV2.accuracy |", markdown);
        Assert.Equal(HttpStatusCode.NotFound, (await stack.Http.GetAsync("/api/laps/lap-000000000000/report")).StatusCode);
        // Plots: each phase's training loss (GRPO phases also their reward), as PNGs in the report artifact, linked from report.md.
        var plots = report.GetProperty("plots").EnumerateArray().Select(p => (File: p.GetProperty("file").GetString()!, Title: p.GetProperty("title").GetString()!)).ToList();
        foreach (string expected in new[] { "plots/1a-loss.png", "plots/1b-loss.png", "plots/1b-reward.png", "plots/2-reward.png", "plots/4-loss.png" })
            Assert.Contains(expected, plots.Select(p => p.File));
        Assert.DoesNotContain(plots, p => p.File == "plots/flywheel-heldout.png");   // a single lap
        var reportManifest = (await stack.Artifacts.GetAsync($"{id}.report"))!;
        foreach (var (file, title) in plots)
        {
            Assert.Equal((800, 450), PngSize(await stack.Artifacts.ReadFileAsync(reportManifest, file)));
            Assert.Contains($"![{title}]({file})", markdown);
        }

        // The training curves: one TensorBoard run per training job (phase/job), none for sampling jobs.
        string curvesDir = Directory.CreateTempSubdirectory("mathv2-curves-").FullName;
        var (crc, cout, cerr) = await stack.CliAsync("lap", "curves", id, "--out", curvesDir, "--json");
        Assert.True(crc == 0, cerr);
        var runs = JsonDocument.Parse(cout).RootElement.GetProperty("runs").EnumerateArray().Select(r => r.GetString()!).ToList();
        Assert.Contains(Path.Combine("1a", "bootstrap"), runs);
        Assert.Contains(runs, r => r.StartsWith("2" + Path.DirectorySeparatorChar));
        Assert.DoesNotContain(Path.Combine("1a", "proofs"), runs);
        foreach (string run in runs)
        {
            string events = Assert.Single(Directory.GetFiles(Path.Combine(curvesDir, run), "events.out.tfevents.*"));
            Assert.Contains("brain.Event:2", Encoding.ASCII.GetString(File.ReadAllBytes(events)));
            Assert.True(File.ReadAllLines(Path.Combine(curvesDir, run, "metrics.jsonl")).Length > 0, run);
        }

        var list = await stack.Http.GetFromJsonAsync<JsonElement>("/api/laps");
        Assert.Contains(list.EnumerateArray(), l => l.GetProperty("id").GetString() == id);
        Assert.DoesNotContain(list.EnumerateArray(), l => l.GetProperty("id").GetString()!.StartsWith($"{id}-"));
    }

    [Fact]
    public async Task With_the_http_annotator_the_lap_waits_for_labels_and_bad_submissions_change_nothing()
    {
        await stack.Stack.UpAsync();
        string id = await StartAsync(Spec("http"));
        JsonElement lap = default;
        await StackFixture.Until(async () => (lap = await LapAsync(id)).TryGetProperty("phaseStatus", out var ps)
            && ps.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Object && s.TryGetProperty("status", out var st) && st.GetString() == "awaiting-annotation", 600,
            () => $"lap {id} never waited for annotation; last: {lap}");
        var wait = lap.GetProperty("phaseStatus").GetProperty("status");
        string batchId = wait.GetProperty("batchId").GetString()!;
        Assert.Equal(4, wait.GetProperty("items").GetInt32());

        string itemsJsonl = await stack.Http.GetStringAsync($"/api/laps/{id}/annotations/{batchId}");
        var items = AnnotationValidation.ReadItems(itemsJsonl);
        Assert.Equal(4, items.Count);
        async Task<HttpResponseMessage> Post(string body) =>
            await stack.Http.PostAsync($"/api/laps/{id}/annotations/{batchId}", new StringContent(body, Encoding.UTF8, "application/x-ndjson"));

        string Line(string itemId, object score) => JsonSerializer.Serialize(new { itemId, score }) + "\n";
        var bad = await Post(Line(items[0].ItemId, 1) + Line(items[0].ItemId, 0) + Line("item-99999", 1) + Line(items[1].ItemId, 0.7) + "not json\n");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
        string problem = await bad.Content.ReadAsStringAsync();
        foreach (string expected in new[] { "labelled twice", "is not an item of this batch", "must be 0, 0.5 or 1", "is not valid JSON", "nothing was stored" })
            Assert.Contains(expected, problem);
        var missing = await Post(Line(items[0].ItemId, 1));
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Contains("have no label", await missing.Content.ReadAsStringAsync());
        Assert.False((await stack.Storage.Container(StorageNames.AnnotationsContainer).GetBlobClient($"{batchId}/{LapFiles.Labels}").ExistsAsync()).Value);
        Assert.Equal("Running", (await LapAsync(id)).GetProperty("runtimeStatus").GetString());

        // Annotators hold the batch's own token, not the key: it opens this batch's items and labels, nothing else.
        var access = lap.GetProperty("phaseStatus").GetProperty("annotators");
        string token = access.GetProperty("token").GetString()!;
        Assert.Equal(batchId, access.GetProperty("batchId").GetString());
        Assert.Equal(wait.GetProperty("deadline").GetDateTime(), access.GetProperty("expiresAt").GetDateTime());
        Assert.Equal(token, (await LapAsync(id)).GetProperty("phaseStatus").GetProperty("annotators").GetProperty("token").GetString());   // issued once
        using var annotator = new HttpClient { BaseAddress = stack.Http.BaseAddress };
        async Task<(HttpStatusCode Status, string Body)> AsAnnotator(HttpMethod method, string path, string? withToken, string? body = null)
        {
            using var req = new HttpRequestMessage(method, path);
            if (withToken != null) req.Headers.Add("x-annotation-token", withToken);
            if (body != null) req.Content = new StringContent(body, Encoding.UTF8, "application/x-ndjson");
            var resp = await annotator.SendAsync(req);
            return (resp.StatusCode, await resp.Content.ReadAsStringAsync());
        }
        Assert.Equal(itemsJsonl, (await AsAnnotator(HttpMethod.Get, $"/api/annotations/{batchId}", token)).Body);
        foreach (var (given, why) in new[] { ((string?)null, "x-annotation-token header"), ("mva_wrong", "does not open batch"), (stack.Stack.Key, "does not open batch") })
        {
            var (status, refusal) = await AsAnnotator(HttpMethod.Get, $"/api/annotations/{batchId}", given);
            Assert.Equal(HttpStatusCode.Unauthorized, status);
            Assert.Contains(why, refusal);
        }
        Assert.Equal(HttpStatusCode.Unauthorized, (await AsAnnotator(HttpMethod.Get, $"/api/laps/{id}", token)).Status);   // the token is no key
        Assert.Equal(HttpStatusCode.Unauthorized, (await AsAnnotator(HttpMethod.Get, "/api/annotations/lap-000000000000-1a-batch", token)).Status);   // no batch: as a wrong token
        Assert.Equal(HttpStatusCode.Unauthorized, (await AsAnnotator(HttpMethod.Post, $"/api/annotations/{batchId}", "mva_wrong", Line(items[0].ItemId, 1))).Status);

        double[] scores = [1, 0.5, 0, 1];
        var (goodStatus, goodBody) = await AsAnnotator(HttpMethod.Post, $"/api/annotations/{batchId}", token, string.Concat(items.Select((it, i) => Line(it.ItemId, i == 1 ? "1/2" : scores[i]))));
        Assert.True(goodStatus == HttpStatusCode.Accepted, goodBody);
        Assert.Equal(HttpStatusCode.Conflict, (await AsAnnotator(HttpMethod.Post, $"/api/annotations/{batchId}", token, string.Concat(items.Select(it => Line(it.ItemId, 0))))).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await Post(string.Concat(items.Select(it => Line(it.ItemId, 0))))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await stack.Http.PostAsync($"/api/laps/{id}/annotations/no-such-batch", new StringContent(Line("x", 1)))).StatusCode);

        // Phase 1C asks for ratings of verifier analyses in a second batch, with a token of its own.
        string batch1c = await WaitForBatchAsync(stack, id, "-1c-batch");
        string token1c = "";
        await StackFixture.Until(async () => (lap = await LapAsync(id)).TryGetProperty("phaseStatus", out var ps) && ps.TryGetProperty("annotators", out var a)
            && a.GetProperty("batchId").GetString() == batch1c && (token1c = a.GetProperty("token").GetString()!) != "", 120, () => $"no token for {batch1c}: {lap}");
        Assert.NotEqual(token, token1c);
        Assert.Equal(HttpStatusCode.Unauthorized, (await AsAnnotator(HttpMethod.Get, $"/api/annotations/{batch1c}", token)).Status);
        var analyses = AnnotationValidation.ReadItems(await stack.Http.GetStringAsync($"/api/laps/{id}/annotations/{batch1c}"));
        Assert.All(analyses, a => Assert.False(string.IsNullOrEmpty(a.Analysis)));
        Assert.Equal(HttpStatusCode.Accepted, (await stack.Http.PostAsync($"/api/laps/{id}/annotations/{batch1c}",
            new StringContent(string.Concat(analyses.Select(a => Line(a.ItemId, 1)))))).StatusCode);

        lap = await WaitForLapAsync(id, "Completed");
        string dv = lap.GetProperty("output").GetProperty("phases")[0].GetProperty("artifacts").GetProperty("dv").GetString()!;
        var rows = Jsonl.Read<GradedProofRow>(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync((await stack.Artifacts.GetAsync(dv))!, LapFiles.GradedProofs)), "dv").Rows;
        Assert.Equal(scores, rows.TakeLast(4).Select(r => r.Score));
        // Neither the keys nor the tokens are in any log of the stack (host, worker, Azurite).
        var logs = Directory.GetFiles(stack.Stack.Layout.LogDir, "*", SearchOption.AllDirectories);
        Assert.NotEmpty(logs);
        foreach (string log in logs)
        {
            string text = File.ReadAllText(log);
            foreach (string secret in new[] { stack.Stack.Key, StackFixture.NextKey, token, token1c })
                Assert.False(text.Contains(secret), $"{log} holds a key or token");
        }
    }

    [Fact]
    public async Task Killing_the_host_during_phase_2_loses_nothing_and_finished_jobs_are_not_redone()
    {
        await stack.Stack.UpAsync();
        // A generator phase long enough to be caught running.
        var spec = JsonSerializer.SerializeToNode(LapTestSpecs.Small("oracle"), Json.Options)!.AsObject();
        spec["generator"] = JsonSerializer.SerializeToNode(new { steps = 40, groupSize = 2, promptsPerStep = 2, maxNewTokens = 24, batchSize = 4, maxSeqLen = 512 });
        string id = await StartAsync(spec);
        string genJob = $"{id}-2-generator";
        await stack.WaitForJobAsync(genJob, r => r.Status == Core.Jobs.GpuJobStatus.Running, seconds: 600);
        await stack.KillAsync(stack.Stack.Pids.Host!.Value, "MathV2.Host.dll");
        Assert.Equal(Core.Jobs.GpuJobStatus.Running, (await stack.Jobs.GetAsync(genJob))!.Status);   // the worker goes on
        await stack.Stack.UpAsync();

        var lap = await WaitForLapAsync(id, "Completed");
        var jobs = lap.GetProperty("output").GetProperty("phases").EnumerateArray()
            .SelectMany(p => p.GetProperty("jobs").EnumerateArray()).Select(j => j.GetProperty("jobId").GetString()!).ToList();
        Assert.Equal(jobs.Distinct().Count(), jobs.Count);
        Assert.True(jobs.Count >= 20, $"{jobs.Count} jobs");   // 1A–4, held-out measures and phase 4's shards included
        foreach (string job in jobs)
        {
            var record = (await stack.Jobs.GetAsync(job))!;
            Assert.True(record.Attempt == 1 && record.Attempts.Count == 1, $"job {job} ran {record.Attempts.Count} attempt(s)");
        }
        Assert.Contains(genJob, jobs);
    }

    [Fact]
    public async Task Restarting_from_phase_3_reuses_the_earlier_phases_and_runs_only_the_rest()
    {
        await stack.Stack.UpAsync();
        string id = await StartAsync(Spec("oracle"));
        var early = await stack.Http.PostAsync($"/api/laps/{id}/restart?fromPhase=3", null);
        Assert.Equal(HttpStatusCode.Conflict, early.StatusCode);   // still running
        var first = await WaitForLapAsync(id, "Completed");
        Assert.Equal(HttpStatusCode.BadRequest, (await stack.Http.PostAsync($"/api/laps/{id}/restart?fromPhase=9", null)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await stack.Http.PostAsync($"/api/laps/{id}/restart", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await stack.Http.PostAsync("/api/laps/lap-000000000000/restart?fromPhase=2", null)).StatusCode);

        var resp = await stack.Http.PostAsync($"/api/laps/{id}/restart?fromPhase=3", null);
        Assert.Equal(HttpStatusCode.Accepted, resp.StatusCode);
        string again = (await resp.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        var lap = await WaitForLapAsync(again, "Completed");
        var oldPhases = first.GetProperty("output").GetProperty("phases").EnumerateArray().ToList();
        var phases = lap.GetProperty("output").GetProperty("phases").EnumerateArray().ToList();
        Assert.Equal(LapPhases.Names, phases.Select(p => p.GetProperty("phase").GetString()));
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(id, phases[i].GetProperty("reusedFrom").GetString());
            Assert.Equal(oldPhases[i].GetProperty("artifacts").GetRawText(), phases[i].GetProperty("artifacts").GetRawText());
        }
        foreach (var p in phases.Skip(5))
        {
            Assert.Equal(JsonValueKind.Null, p.TryGetProperty("reusedFrom", out var r) ? r.ValueKind : JsonValueKind.Null);
            Assert.All(p.GetProperty("jobs").EnumerateArray(), j => Assert.StartsWith($"{again}-", j.GetProperty("jobId").GetString()));
        }
        // Phase 3 trained from the first lap's generator.
        string generator = oldPhases[4].GetProperty("artifacts").GetProperty("generator").GetString()!;
        Assert.Contains(generator, (await stack.Artifacts.GetLineageAsync(phases[5].GetProperty("artifacts").GetProperty("selfVerifyingGenerator").GetString()!))!.Ancestors.Select(m => m.Id));
        Assert.Null(await stack.Jobs.GetAsync($"{again}-1a-bootstrap"));
        string report = await stack.Http.GetStringAsync($"/api/laps/{again}/report");
        Assert.Contains($"| 1a | 0 s | 0 s | 5 | reused from {id} |", report);
        // Only the phases that ran have plots (reused phases' curves are the first lap's).
        Assert.Contains("(plots/4-loss.png)", report);
        Assert.DoesNotContain("(plots/1a-loss.png)", report);
        // lap compare: the reused phases' measures are the same in both laps (difference 0).
        var (rc, output, err) = await stack.CliAsync("lap", "compare", id, again, "--measures", "verifierV1.,verifierV2.accuracy", "--json");
        Assert.True(rc == 0, err);
        var compared = JsonDocument.Parse(output).RootElement;
        Assert.Equal([id, again], compared.GetProperty("laps").EnumerateArray().Select(x => x.GetString()));
        var rows = compared.GetProperty("measures").EnumerateArray().ToList();
        Assert.Contains(rows, r => r.GetProperty("key").GetString() == "verifierV2.accuracy");
        Assert.All(rows, r => Assert.True(r.GetProperty("key").GetString()!.StartsWith("verifierV1.") || r.GetProperty("key").GetString() == "verifierV2.accuracy"));
        Assert.All(rows, r => Assert.Equal(0, r.GetProperty("differences")[0].GetDouble()));
        (rc, output, err) = await stack.CliAsync("lap", "compare", id, again, "--measures", "no.such.*");
        Assert.Equal(1, rc);
        Assert.Contains("no measure of these laps matches no.such.*", err);
        (rc, output, err) = await stack.CliAsync("lap", "list", "--measures", "verifierV2.accuracy", "--json");
        Assert.True(rc == 0, err);
        var listed = JsonDocument.Parse(output).RootElement.EnumerateArray().ToDictionary(x => x.GetProperty("lap").GetProperty("id").GetString()!, x => x.GetProperty("measures"));
        Assert.Equal(listed[id].GetProperty("verifierV2.accuracy").GetDouble(), listed[again].GetProperty("verifierV2.accuracy").GetDouble());
    }

    /// <summary>Waits until the lap's running phase waits for a batch whose id ends as given; returns the batch id.</summary>
    internal static async Task<string> WaitForBatchAsync(StackFixture stack, string id, string suffix)
    {
        string batch = "";
        JsonElement lap = default;
        await StackFixture.Until(async () =>
        {
            var resp = await stack.Http.GetAsync($"/api/laps/{id}");
            if (resp.StatusCode == HttpStatusCode.NotFound) return false;   // a flywheel's lap that is not scheduled yet
            lap = await resp.Content.ReadFromJsonAsync<JsonElement>();
            if (lap.TryGetProperty("phaseStatus", out var ps) && ps.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Object
                && s.TryGetProperty("batchId", out var b) && b.GetString()!.EndsWith(suffix)) batch = b.GetString()!;
            return batch != "";
        }, 600, () => $"lap {id} never waited for a {suffix} batch; last: {lap}");
        return batch;
    }

    [Fact]
    public async Task A_bad_lap_spec_gets_field_level_errors_and_starts_nothing()
    {
        await stack.Stack.UpAsync();
        var resp = await stack.Http.PostAsJsonAsync("/api/laps", new { domain = "nope", annotation = new { annotator = "crowd", batchSize = 0 }, demo = new { maxDifficulty = 9 } }, Json.Options);
        Assert.Equal(HttpStatusCode.BadRequest, resp.StatusCode);
        var errors = (await resp.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        foreach (string field in new[] { "domain", "annotation.annotator", "annotation.batchSize", "demo.maxDifficulty" })
            Assert.True(errors.TryGetProperty(field, out _), $"no error for {field}: {errors}");
        var unknown = await stack.Http.PostAsJsonAsync("/api/laps", new { demo = new { sed = 1 } }, Json.Options);
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Contains("sed", await unknown.Content.ReadAsStringAsync());
    }
}

static class LapTestsBatches
{
    public static async Task<string?> BatchAsync(StackFixture stack, string batchId) =>
        (await stack.Storage.Container(StorageNames.AnnotationsContainer).GetBlobClient($"{batchId}/{LapFiles.Batch}").ExistsAsync()).Value ? batchId : null;
}

/// <summary>The lap and annotations commands of the CLI against the same stack.</summary>
[Collection("stack")]
[Trait("Category", "EndToEnd")]
public sealed class LapCliTests(StackFixture stack)
{
    async Task<(int Rc, string Out, string Err)> Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int rc = await new MathV2.Cli.Commands(stack.Stack.Layout, o, e).RunAsync(args);
        return (rc, o.ToString(), e.ToString());
    }

    [Fact]
    public async Task Lap_start_show_and_annotations_pull_submit_drive_an_http_annotated_lap()
    {
        await stack.Stack.UpAsync();
        string dir = Directory.CreateTempSubdirectory("mathv2-lapcli-").FullName;
        string specFile = Path.Combine(dir, "spec.json");
        File.WriteAllText(specFile, JsonSerializer.Serialize(LapTestSpecs.Small("oracle"), Json.Options));
        var (rc, output, err) = await Cli("lap", "start", "--spec", specFile, "--annotator", "http", "--json");
        Assert.True(rc == 0, err);
        string id = JsonDocument.Parse(output).RootElement.GetProperty("id").GetString()!;

        string batch = await LapTests.WaitForBatchAsync(stack, id, "-1a-batch");
        var (_, human, _) = await Cli("lap", "show", id);
        Assert.Contains("awaiting annotation", human);

        string itemsFile = Path.Combine(dir, "items.jsonl"), labelsFile = Path.Combine(dir, "labels.jsonl");
        Assert.Equal(0, (await Cli("annotations", "pull", id, batch, "--out", itemsFile)).Rc);
        var items = AnnotationValidation.ReadItems(File.ReadAllText(itemsFile));
        File.WriteAllText(labelsFile, string.Concat(items.Select(i => JsonSerializer.Serialize(new { itemId = i.ItemId, score = 0.5 }) + "\n")));
        var submitted = await Cli("annotations", "submit", id, batch, "--in", labelsFile);
        Assert.True(submitted.Rc == 0, submitted.Err);
        Assert.Contains($"{items.Count} labels stored", submitted.Out);
        var again = await Assert.ThrowsAsync<MathV2.Cli.CliException>(() => Cli("annotations", "submit", id, batch, "--in", labelsFile));
        Assert.Contains("409", again.Message);

        string batch1c = await LapTests.WaitForBatchAsync(stack, id, "-1c-batch");
        Assert.Equal(0, (await Cli("annotations", "pull", id, batch1c, "--out", itemsFile)).Rc);
        File.WriteAllText(labelsFile, string.Concat(AnnotationValidation.ReadItems(File.ReadAllText(itemsFile)).Select(i => JsonSerializer.Serialize(new { itemId = i.ItemId, score = 1 }) + "\n")));
        Assert.Equal(0, (await Cli("annotations", "submit", id, batch1c, "--in", labelsFile)).Rc);

        // Deadlines are for a stuck lap, not a slow one (this lap takes about 30 s alone, minutes on a loaded VM).
        string last = "";
        await StackFixture.Until(async () => JsonDocument.Parse(last = (await Cli("lap", "show", id, "--json")).Out).RootElement.GetProperty("runtimeStatus").GetString() == "Completed",
            600, () => $"lap {id} did not complete; last: {last}");
        var (_, list, _) = await Cli("lap", "list");
        Assert.Contains(id, list);
        var (_, shown, _) = await Cli("lap", "show", id);
        Assert.Contains($"# Lap report: {id}", shown);
        Assert.Contains("## Targets", shown);

        // Restart from phase 4: the CLI follows the new lap and ends with its report, phases 1A–3 reused.
        var restarted = await Cli("lap", "restart", id, "--from-phase", "4", "--wait");
        Assert.True(restarted.Rc == 0, restarted.Err + restarted.Out);
        Assert.Contains($"| 3 | 0 s | 0 s | 2 | reused from {id} |", restarted.Out);
        Assert.Contains("| verifierV3.accuracy |", restarted.Out);
        var bad = await Cli("lap", "restart", id, "--from-phase", "5");
        Assert.Equal(MathV2.Cli.Commands.UsageError, bad.Rc);
        Assert.Contains("--from-phase", bad.Err);
        Directory.Delete(dir, true);
    }
}
