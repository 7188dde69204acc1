using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Datasets;
using MathV2.Core.Jobs;
using MathV2.Core.Method;
using MathV2.Core.Search;

namespace MathV2.Host.Tests;

/// <summary>
/// The test-time search on the real stack: bad specs refused at the door, a search over two problems started with
/// the CLI, the host killed mid-round, and the search completing with every proof and analysis once, in artifacts
/// with lineage.
/// </summary>
[Collection("stack")]
[Trait("Category", "EndToEnd")]
public sealed class SearchTests(StackFixture stack)
{
    static readonly ProblemRow[] Problems =
    [
        new() { Id = "p-1", Problem = "Prove that 3 + 4 = 7." },
        new() { Id = "p|2", Problem = "Prove that 2 * 5 = 10." },   // '|' inside a problem id: proof ids are parsed from the right
    ];

    /// <summary>
    /// One tiny model for both roles: it proves with a self-evaluation and verifies every proof with a score of 0.5,
    /// so no proof reaches stopScore and the search runs all its rounds. As a judge, it verifies p|2's proofs with a
    /// fatal issue (score 0) instead, and meta-verifies.
    /// </summary>
    async Task<string> CheckpointAsync(bool judge = false)
    {
        const string analysis = "Here is my evaluation of the solution:\nOne step is not justified.\nBased on my evaluation, the final overall score should be:\n\\boxed{0.5}";
        const string fatal = "Here is my evaluation of the solution:\nOne step is not justified.\nBased on my evaluation, the final overall score should be:\n\\boxed{0}";
        string Proof(string problem) => $"## Solution\nWe compute it: {problem[12..^1]}.\n\n## Self Evaluation\n{analysis}";
        string Analysis(ProblemRow p) => judge && p.Id == "p|2" ? fatal : analysis;
        var set = Prompts.Compact;
        // As meta-verifier it judges p-1's issue reports bogus (0) and confirms p|2's fatal ones (1).
        static string Verdict(int score) => $"{Prompts.CompactMetaLead}\nThe claimed issue is {(score == 0 ? "not real" : "real")}.\n{Prompts.CompactMetaClosing} \\boxed{{{score}}}";
        var rows = Problems.SelectMany(p => new[]
        {
            new DemonstrationRow { Kind = "generation", Prompt = Prompts.RenderGeneration(p.Problem, set.Generation), Completion = Proof(p.Problem) },
            new DemonstrationRow { Kind = "verification", Prompt = Prompts.RenderVerification(p.Problem, Proof(p.Problem)[12..40], set.Verification), Completion = Analysis(p) },
        }.Concat(judge
            // The proof as a search shows it (the solution alone), and as the verification rows cut it.
            ? new[] { $"We compute it: {p.Problem[12..^1]}.", Proof(p.Problem)[12..40] }.SelectMany(proof => new[]
            {
                new DemonstrationRow { Kind = "verification", Prompt = Prompts.RenderVerification(p.Problem, proof, set.Verification), Completion = Analysis(p) },
                new DemonstrationRow
                {
                    Kind = "meta-verification", Prompt = Prompts.RenderMetaVerification(p.Problem, proof, Analysis(p), set.MetaVerification), Completion = Verdict(p.Id == "p-1" ? 0 : 1),
                },
            })
            : [])).ToList();
        return await stack.SftCheckpointAsync(rows,
            new { hidden_size = 64, num_hidden_layers = 2, num_attention_heads = 4, num_key_value_heads = 2, intermediate_size = 128, max_position_embeddings = 1024 },
            new { steps = judge ? 300 : 120, batchSize = 4, maxSeqLen = 512, learningRate = 3e-3 }, seconds: 300);
    }

    async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(object body)
    {
        var resp = await stack.Http.PostAsJsonAsync("/api/searches", body, Json.Options);
        return (resp.StatusCode, await resp.Content.ReadFromJsonAsync<JsonElement>());
    }

    static object Options(int pool = 4) => new
    {
        pool, verifications = 2, keep = 2, analysesPerPrompt = 2, samplesPerPrompt = 2, rounds = 2, temperature = 0.3,
        maxNewTokens = 120, verificationMaxNewTokens = 80, shards = 2, batchSize = 8,
    };

    static object WaveOptions() => new
    {
        pool = 4, verifications = 2, keep = 2, analysesPerPrompt = 2, samplesPerPrompt = 2, rounds = 2, temperature = 0.3,
        maxNewTokens = 120, verificationMaxNewTokens = 80, shards = 2, batchSize = 8, verificationWaves = 2,
    };

    static object MetaOptions() => new
    {
        pool = 4, verifications = 2, keep = 2, analysesPerPrompt = 2, samplesPerPrompt = 2, rounds = 2, temperature = 0.3,
        maxNewTokens = 120, verificationMaxNewTokens = 80, shards = 2, batchSize = 8, metaVerifications = 2, verificationWaves = 2,
    };

    [Fact]
    public async Task A_search_survives_a_host_kill_and_keeps_every_proof_and_analysis_once_with_lineage()
    {
        await stack.Stack.UpAsync();
        string model = await CheckpointAsync();

        // The door: each bad field named, nothing started.
        var inline = Problems.Select(p => new { id = p.Id, problem = p.Problem }).ToArray();
        foreach (var (body, field) in new (object, string)[]
        {
            (new { problems = inline, generator = model, verifier = model, options = new { pol = 4 } }, "options.pol"),
            (new { problems = inline, generator = model, verifier = model, options = new { pool = 5, samplesPerPrompt = 2 } }, "options.pool"),
            (new { problems = inline, verifier = model }, "generator"),
            (new { problems = inline, generator = "no-such-model", verifier = model }, "generator"),
            (new { problems = inline, problemsArtifact = model, generator = model, verifier = model }, "problems"),
            (new { problemsArtifact = model, generator = model, verifier = model }, "problemsArtifact"),
            (new { problems = new[] { inline[0], inline[0] }, generator = model, verifier = model }, "problems[1].id"),
            (new { problems = new object?[] { null }, generator = model, verifier = model }, "problems[0]"),
            (new { problems = inline, generator = model, verifier = model, chatTemplate = true }, "chatTemplate"),   // its tokenizer_config.json has no template
        })
        {
            var (status, problem) = await PostAsync(body);
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.True(problem.TryGetProperty("errors", out var errors) && errors.TryGetProperty(field, out _) || problem.GetProperty("detail").GetString()!.Contains(field),
                $"{field}: {problem}");
        }

        // Started with the CLI from a problems file and a spec file.
        string dir = Directory.CreateTempSubdirectory("mathv2-search-").FullName;
        string problemsFile = Path.Combine(dir, "problems.jsonl"), specFile = Path.Combine(dir, "search.json");
        File.WriteAllText(problemsFile, Jsonl.Write(Problems));
        File.WriteAllText(specFile, JsonSerializer.Serialize(new { prompts = "compact", options = Options() }));
        var (rc, output, err) = await stack.CliAsync("prove", "--problems", problemsFile, "--generator", model, "--verifier", model, "--spec", specFile, "--json");
        Assert.True(rc == 0, err);
        string id = JsonDocument.Parse(output).RootElement.GetProperty("id").GetString()!;

        // The host dies while round 1's verification runs; the search goes on once it is back.
        await stack.WaitForJobAsync($"{id}-r1-verification0", r => r.Status is GpuJobStatus.Running or GpuJobStatus.Succeeded, seconds: 300);
        await stack.KillAsync(stack.Stack.Pids.Host!.Value, "MathV2.Host.dll");
        await stack.Stack.UpAsync();
        (rc, output, err) = await stack.CliAsync("search", "wait", id, "--json");
        Assert.True(rc == 0, $"{output}\n{err}");
        var view = JsonSerializer.Deserialize<SearchView>(output, Json.Options)!;
        Assert.Equal("Completed", view.RuntimeStatus);
        Assert.Equal(2, view.Problems.Count);

        // Every proof once: 4 in round 1, then 2 kept × 2 samples a round; each verified twice.
        var pool = new List<PoolRecord>();
        var analyses = new List<PoolAnalysis>();
        for (int r = 1; r <= view.Output!.Rounds; r++)
        {
            var m = (await stack.Artifacts.GetAsync($"{id}.r{r}.pool"))!;
            Assert.Contains($"{id}.r{r}.proofs", m.Parents);
            Assert.Equal([$"{id}-r{r}-verification0.attempt-1", $"{id}-r{r}-verification1.attempt-1"], m.Parents.Where(p => p.StartsWith($"{id}-r{r}-")).Order());
            pool.AddRange(Jsonl.Records<PoolRecord>(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync(m, "pool.jsonl"))));
            analyses.AddRange(Jsonl.Records<PoolAnalysis>(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync(m, "analyses.jsonl"))));
        }
        foreach (var p in view.Problems)
        {
            Assert.Equal(4 + 4 * (p.Round - 1), p.Proofs);
            Assert.Equal(2 * p.Proofs, p.Verifications);
            Assert.Equal(p.Proofs, pool.Count(x => x.ProblemId == p.ProblemId));
            Assert.True(p.Stopped);
        }
        Assert.Equal(pool.Count, pool.Select(x => x.ProofId).Distinct().Count());
        Assert.Equal(2 * pool.Count, analyses.Count);
        Assert.Equal(analyses.Count, analyses.Select(a => (a.ProofId, a.Index)).Distinct().Count());
        Assert.All(pool, x => Assert.Equal(2, x.Scores.Count + x.Unparsable));
        Assert.True(pool.Count(x => x.Scores.Count > 0) >= pool.Count / 2, $"{pool.Count(x => x.Scores.Count > 0)} of {pool.Count} proofs have a parsable verification");
        Assert.Contains(pool, x => x.SelfScore != null);
        Assert.All(pool, x => Assert.Equal(x.Scores.Count > 0 ? x.Scores.Average() : 0, x.MeanScore, 9));
        Assert.All(pool, x => Assert.Equal(SearchRanking.ProofId(x.ProblemId, x.Round, x.Prompt, x.Sample), x.ProofId));
        // The report: samples used, the adaptive rule's replay, no oracle on problems that are not the demo's.
        var report = view.Output.Report!;
        Assert.Equal((pool.Count, analyses.Count, view.Output.Rounds), (report.Proofs, report.Verifications, report.Rounds.Count));
        Assert.Equal(pool.Sum(x => x.AdaptiveVerifications), report.AdaptiveVerifications);
        Assert.All(pool, x => Assert.InRange(x.AdaptiveVerifications, 1, 2));
        Assert.Null(report.OraclePass1);
        Assert.Equal([8, 8], report.Rounds.Select(r => r.Proofs));
        // Refined proofs name their parent: a proof of the round before.
        foreach (var x in pool.Where(x => x.Round > 1))
        {
            var parent = pool.Single(y => y.ProofId == Assert.Single(x.ParentProofIds));
            Assert.Equal((x.ProblemId, x.Round - 1), (parent.ProblemId, parent.Round));
        }
        // Each job ran once, host kill or not.
        foreach (var job in Enumerable.Range(1, view.Output.Rounds).SelectMany(r => new[] { $"{id}-r{r}-generation0", $"{id}-r{r}-generation1", $"{id}-r{r}-verification0", $"{id}-r{r}-verification1" }))
            Assert.Single((await stack.Jobs.GetAsync(job))!.Attempts);

        // The search is listed (its jobs, which share its prefix, are not).
        var listed = await stack.Http.GetFromJsonAsync<JsonElement>("/api/searches");
        Assert.Contains(listed.EnumerateArray(), s => s.GetProperty("id").GetString() == id && s.GetProperty("runtimeStatus").GetString() == "Completed");
        Assert.DoesNotContain(listed.EnumerateArray(), s => s.GetProperty("id").GetString()!.StartsWith($"{id}-"));

        // The result: the best proof per problem, its analyses, the published fields.
        var text = await stack.Http.GetStringAsync($"/api/searches/{id}/proofs");
        var rows = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(Problems.Select(p => p.Id), rows.Select(r => r.GetProperty("problemId").GetString()));
        foreach (var row in rows)
        {
            string best = row.GetProperty("best").GetProperty("proofId").GetString()!;
            var mine = pool.Where(x => x.ProblemId == row.GetProperty("problemId").GetString()).ToList();
            Assert.Equal(mine.Max(x => x.MeanScore), row.GetProperty("best").GetProperty("meanScore").GetDouble(), 9);
            Assert.Equal(2, row.GetProperty("analyses").GetArrayLength());
            Assert.Equal(row.GetProperty("best").GetProperty("proof").GetString(), row.GetProperty("model_prediction").GetProperty("proof").GetString());
            Assert.Contains(best, mine.Select(x => x.ProofId));
        }
        // Verification drawn in two waves (each proof still open gets its next analyses) draws the same samples: each
        // is keyed by its proof and index. Here no proof can be ruled out early, so the pools are the same throughout.
        var (accepted, started) = await PostAsync(new { problems = inline, generator = model, verifier = model, prompts = "compact", options = WaveOptions() });
        Assert.Equal(HttpStatusCode.Accepted, accepted);
        string waved = started.GetProperty("id").GetString()!;
        (rc, output, err) = await stack.CliAsync("search", "wait", waved, "--json");
        Assert.True(rc == 0, $"{output}\n{err}");
        var wavedView = JsonSerializer.Deserialize<SearchView>(output, Json.Options)!;
        Assert.Equal(view.Output.Rounds, wavedView.Output!.Rounds);
        for (int r = 1; r <= view.Output.Rounds; r++)
        {
            async Task<List<(string, double, string)>> Pool(string search) => Jsonl.Records<PoolRecord>(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync(
                (await stack.Artifacts.GetAsync($"{search}.r{r}.pool"))!, "pool.jsonl"))).Select(x => (x.ProofId, x.MeanScore, string.Join(",", x.Scores))).Order().ToList();
            Assert.Equal(await Pool(id), await Pool(waved));
            Assert.NotNull(await stack.Jobs.GetAsync($"{waved}-r{r}-verification-w2-1"));
        }
        Assert.Equal(2, wavedView.Output.Report!.VerificationWaves);

        // With meta-verification (m = 2) of every issue report, right after each of 2 verification waves: a report both
        // verdicts judge bogus counts as 1, in the waves' bounds as in the means.
        string judgeModel = await CheckpointAsync(judge: true);
        var (metaAccepted, metaStarted) = await PostAsync(new { problems = inline, generator = model, verifier = judgeModel, prompts = "compact", options = MetaOptions() });
        Assert.Equal(HttpStatusCode.Accepted, metaAccepted);
        string meta = metaStarted.GetProperty("id").GetString()!;
        (rc, output, err) = await stack.CliAsync("search", "wait", meta, "--json");
        Assert.True(rc == 0, $"{output}\n{err}");
        var metaView = JsonSerializer.Deserialize<SearchView>(output, Json.Options)!;
        var metaPool = new List<PoolRecord>();
        var metaAnalyses = new List<PoolAnalysis>();
        for (int r = 1; r <= metaView.Output!.Rounds; r++)
        {
            var m = (await stack.Artifacts.GetAsync($"{meta}.r{r}.pool"))!;
            Assert.True(m.Parents.Contains($"{meta}-r{r}-meta-w1-0.attempt-1"), string.Join(", ", m.Parents) + "\n" + Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync(m, "analyses.jsonl")));
            metaPool.AddRange(Jsonl.Records<PoolRecord>(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync(m, "pool.jsonl"))));
            metaAnalyses.AddRange(Jsonl.Records<PoolAnalysis>(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync(m, "analyses.jsonl"))));
        }
        var issues = metaAnalyses.Where(a => a.Score < 1).ToList();
        Assert.NotEmpty(issues);
        Assert.All(issues, a => Assert.Equal((2, PoolAnalysis.VerdictOf(a.MetaScores!, 2)), (a.MetaScores!.Count, a.Verdict)));
        Assert.All(metaAnalyses.Where(a => a.Score is not < 1), a => Assert.Null(a.MetaScores));
        Assert.Equal(2 * issues.Count, metaView.Output.Report!.MetaVerifications);
        foreach (var x in metaPool)
        {
            var mine = metaAnalyses.Where(a => a.ProofId == x.ProofId).OrderBy(a => a.Index).ToList();
            Assert.Equal(mine.Select(a => a.Standing).OfType<double>(), x.Scores);
            Assert.Equal(mine.Count(a => a.Verdict == PoolAnalysis.Bogus), x.Bogus);
            Assert.Equal(x.Scores.Count > 0 ? x.Scores.Average() : 0, x.MeanScore, 9);
        }
        // The tiny model judges p-1's reports bogus: its proofs' means reach 1 and it stops there.
        var judged = metaView.Problems.Single(p => p.ProblemId == "p-1");
        Assert.True(metaAnalyses.Any(a => a.Verdict == PoolAnalysis.Bogus && a.ProofId.StartsWith("p-1|")), string.Join("\n", issues.Select(a => $"{a.ProofId} {a.Verdict} {string.Join(",", a.MetaScores!)}")));
        Assert.Equal(1, judged.BestMeanScore);
        Assert.StartsWith("a proof's mean score reached 1", judged.StopReason);
        // It finds a fatal issue in p|2's proofs and confirms it: each such proof is refuted (options.refuteFatal, on by default).
        Assert.Contains(metaAnalyses, a => a.Fatal && a.ProofId.StartsWith("p|2|"));
        foreach (var x in metaPool)
            Assert.Equal(metaAnalyses.Any(a => a.ProofId == x.ProofId && a.Fatal), x.Refuted);
        Assert.Equal(metaPool.Count(x => x.Refuted), metaView.Output.Report.Refuted);
        Assert.All(metaPool.Where(x => x.Refuted), x => Assert.StartsWith("p|2|", x.ProofId));
        // Ranked last and with a mean of 0, p|2's proofs run its two rounds (Core SearchTests check that a refuted
        // proof at stopScore does not stop a problem).
        Assert.Equal("2 rounds done", metaView.Problems.Single(p => p.ProblemId == "p|2").StopReason);

        var lineage = await stack.Http.GetFromJsonAsync<JsonElement>($"/api/artifacts/{id}.result/lineage");
        string lineageText = lineage.ToString();
        Assert.Contains(model, lineageText);
        Assert.Contains($"{id}.problems", lineageText);
        Assert.Equal(HttpStatusCode.NotFound, (await stack.Http.GetAsync("/api/searches/search-000000000000/proofs")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await stack.Http.GetAsync("/api/searches/lap-1")).StatusCode);
    }
}
