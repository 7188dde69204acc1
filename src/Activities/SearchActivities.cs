using System.Text;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Datasets;
using MathV2.Core.Laps;
using MathV2.Core.Method;
using MathV2.Core.Search;
using MathV2.Core.Storage;
using Microsoft.DurableTask;

namespace MathV2.Activities;

static class SearchStore
{
    public static ArtifactProducer Producer(string searchId, int round) => new() { Instance = searchId, Phase = round > 0 ? $"round {round}" : null };

    public static async Task<List<ProblemRow>> ProblemsAsync(ArtifactStore artifacts, string id) =>
        [.. Jsonl.Read<ProblemRow>(await LapStore.ReadArtifactTextAsync(artifacts, id, SearchFiles.Problems), SearchFiles.Problems).Rows];

    public static async Task<SearchState?> StateAsync(ArtifactStore artifacts, string? id) =>
        id == null ? null : Json.Deserialize<SearchState>(await LapStore.ReadArtifactTextAsync(artifacts, id, SearchFiles.State));

    /// <summary>The analyses of these pool proofs, by proof id, read once from each round's pool artifact holding them.</summary>
    public static async Task<Dictionary<string, List<PoolAnalysis>>> AnalysesAsync(ArtifactStore artifacts, IEnumerable<PoolRecord> proofs)
    {
        var list = proofs.ToList();
        var wanted = list.Select(p => p.ProofId).ToHashSet();
        var analyses = new Dictionary<string, List<PoolAnalysis>>();
        foreach (string artifact in list.Select(p => p.Artifact).OfType<string>().Distinct())
            foreach (var a in Jsonl.Records<PoolAnalysis>(await LapStore.ReadArtifactTextAsync(artifacts, artifact, SearchFiles.Analyses)))
                if (wanted.Contains(a.ProofId)) (analyses.TryGetValue(a.ProofId, out var l) ? l : analyses[a.ProofId] = []).Add(a);
        return analyses;
    }

    /// <summary>A verification's score when it parses (lead, closing phrase and box), else null (left out of a mean).</summary>
    public static double? ScoreOf(SampleCompletion analysis) => Parsers.Verification(analysis.Completion, analysis.FinishReason) is { FormatOk: true } v ? v.Score : null;

    /// <summary>
    /// The analyses of each proof, in index order, scored and, with m meta-verifications, judged: an issue report's
    /// verdicts ("{proofId}#{i}") decide whether it is confirmed, bogus (it counts as 1) or neither. A report
    /// without its m verdicts, or an analysis drawn twice, is an error naming it.
    /// </summary>
    public static Dictionary<string, List<PoolAnalysis>> Judge(IReadOnlyList<SampleCompletion> analyses, IReadOnlyList<SampleCompletion> metas, int m)
    {
        var verdictsById = metas.GroupBy(x => x.Id).ToDictionary(g => g.Key, g => g.OrderBy(x => x.Index).ToList());
        var judged = new Dictionary<string, List<PoolAnalysis>>();
        foreach (var g in analyses.GroupBy(a => a.Id))
        {
            var mine = g.OrderBy(a => a.Index).ToList();
            if (mine.Select(a => a.Index).Distinct().Count() != mine.Count) throw new InvalidDataException($"proof {g.Key} has an analysis twice");
            judged[g.Key] = mine.Select(a =>
            {
                var x = new PoolAnalysis { ProofId = g.Key, Index = a.Index, Score = ScoreOf(a), Analysis = a.Completion };
                if (m == 0 || x.Score is not < 1) return x;
                var verdicts = verdictsById.GetValueOrDefault(AutoLabelling.MetaId(g.Key, a.Index), [])
                    .Select(v => Parsers.MetaVerification(v.Completion, v.FinishReason) is { FormatOk: true, Score: { } s } ? s : (double?)null).ToList();
                if (verdicts.Count != m) throw new InvalidDataException($"analysis {a.Index} of proof {g.Key} has {verdicts.Count} meta-verifications, not {m}");
                return x with { MetaScores = verdicts, Verdict = PoolAnalysis.VerdictOf(verdicts, m) };
            }).ToList();
        }
        return judged;
    }

    /// <summary>Each proof's analyses (index order) as the scores they count with.</summary>
    public static IReadOnlyList<IReadOnlyList<double?>> Standings(IReadOnlyList<List<PoolAnalysis>> proofs) =>
        [.. proofs.Select(a => (IReadOnlyList<double?>)[.. a.Select(x => x.Standing)])];

    /// <summary>Each proof's analyses as meta-confirmed fatal issues or not, when the search refutes; else null.</summary>
    public static IReadOnlyList<IReadOnlyList<bool>>? Fatal(IReadOnlyList<List<PoolAnalysis>> proofs, SearchOptions o) =>
        o.Refutes ? [.. proofs.Select(a => (IReadOnlyList<bool>)[.. a.Select(x => x.Fatal)])] : null;

    public static string Lines<T>(IEnumerable<T> rows) => string.Concat(rows.Select(r => Json.Serialize(r) + "\n"));
}

/// <summary>The search's problems ({searchId}.problems): the inline ones, or the rows of the named artifact's file (checked).</summary>
[DurableTask(TaskNames.PrepareSearch)]
public sealed class PrepareSearch(ArtifactStore artifacts) : TaskActivity<SearchInput, SearchStepResult>
{
    public override Task<SearchStepResult> RunAsync(TaskActivityContext context, SearchInput input) => ExecuteAsync(input);

    public async Task<SearchStepResult> ExecuteAsync(SearchInput input)
    {
        string id = $"{input.SearchId}.problems";
        if (await artifacts.GetAsync(id) != null) return new SearchStepResult { Artifact = id, Rows = (await SearchStore.ProblemsAsync(artifacts, id)).Count };
        var spec = input.Spec;
        List<ProblemRow> rows;
        List<string> parents = [];
        if (spec.Problems is { } inline) rows = [.. inline];
        else
        {
            string source = spec.ProblemsArtifact!;
            rows = [.. Jsonl.Read<ProblemRow>(await LapStore.ReadArtifactTextAsync(artifacts, source, spec.ProblemsFile), spec.ProblemsFile).Rows];
            parents.Add(source);
            var twice = rows.GroupBy(r => r.Id).FirstOrDefault(g => g.Count() > 1);
            if (twice != null) throw new InvalidDataException($"{spec.ProblemsFile} of {source}: problem id '{twice.Key}' is given {twice.Count()} times");
            if (rows.Count == 0) throw new InvalidDataException($"{spec.ProblemsFile} of {source} holds no problem");
        }
        var w = artifacts.Create(id, "dataset-problems", StorageNames.DatasetsContainer, id, SearchStore.Producer(input.SearchId, 0), parents);
        await w.AddTextAsync(SearchFiles.Problems, SearchStore.Lines(rows.Select(r => new ProblemRow { Id = r.Id, Problem = r.Problem })));
        await LapStore.CommitOnceAsync(w);
        return new SearchStepResult { Artifact = id, Rows = rows.Count };
    }
}

/// <summary>
/// A round's prompts ({searchId}.r{round}.prompts): in round 1, pool / samplesPerPrompt generation prompts per problem;
/// later, one refinement prompt per kept proof of each problem still searching, with up to analysesPerPrompt of its
/// analyses, lowest scores first. Prompt ids are problem|round|prompt.
/// </summary>
[DurableTask(TaskNames.WriteSearchPrompts)]
public sealed class WriteSearchPrompts(ArtifactStore artifacts) : TaskActivity<SearchPromptsInput, SearchStepResult>
{
    public override Task<SearchStepResult> RunAsync(TaskActivityContext context, SearchPromptsInput input) => ExecuteAsync(input);

    public async Task<SearchStepResult> ExecuteAsync(SearchPromptsInput input)
    {
        string id = $"{input.SearchId}.r{input.Round}.prompts";
        if (await artifacts.GetAsync(id) != null)
            return new SearchStepResult { Artifact = id, Rows = Jsonl.Records<SearchPromptRow>(await LapStore.ReadArtifactTextAsync(artifacts, id, SearchFiles.Prompts)).Count };
        var o = input.Spec.Options;
        var set = input.Spec.PromptSet;
        var problems = await SearchStore.ProblemsAsync(artifacts, input.Problems);
        var rows = new List<SearchPromptRow>();
        if (input.Round == 1)
        {
            foreach (var p in problems)
            {
                string prompt = Prompts.RenderGeneration(p.Problem, set.Generation);
                for (int k = 0; k < o.Pool / o.SamplesPerPrompt; k++)
                    rows.Add(new SearchPromptRow { Id = SearchRanking.PromptId(p.Id, 1, k), Prompt = prompt, ProblemId = p.Id, Problem = p.Problem });
            }
        }
        else
        {
            var state = await SearchStore.StateAsync(artifacts, input.State) ?? throw new InvalidOperationException($"round {input.Round} needs the state of round {input.Round - 1}");
            var statements = problems.ToDictionary(p => p.Id, p => p.Problem);
            var analyses = await SearchStore.AnalysesAsync(artifacts, state.Problems.Where(p => !p.Stopped).SelectMany(p => p.Top));
            foreach (var p in state.Problems.Where(p => !p.Stopped))
                for (int k = 0; k < p.Top.Count; k++)
                {
                    var kept = p.Top[k];
                    // Analyses that report issues first: lowest scores, then unparsable ones last; ties by index.
                    // An issue report the meta-verifier judged bogus is not shown.
                    var shownAnalyses = analyses.GetValueOrDefault(kept.ProofId, []).Where(a => a.Verdict != PoolAnalysis.Bogus)
                        .OrderBy(a => a.Score ?? 2).ThenBy(a => a.Index).Take(o.AnalysesPerPrompt).ToList();
                    var shown = shownAnalyses.Select(a => a.Analysis).ToList();
                    // The candidate's score as a lap's refinement prompt gives it: the (first) shown evaluation's own.
                    double score = shownAnalyses.FirstOrDefault()?.Score ?? kept.MeanScore;
                    rows.Add(new SearchPromptRow
                    {
                        Id = SearchRanking.PromptId(p.ProblemId, input.Round, k), ProblemId = p.ProblemId, Problem = statements[p.ProblemId], ParentProofIds = [kept.ProofId],
                        Prompt = Prompts.RenderRefinement(statements[p.ProblemId], kept.Proof, score, shown, set),
                    });
                }
        }
        var w = artifacts.Create(id, "dataset-prompts", StorageNames.DatasetsContainer, id, SearchStore.Producer(input.SearchId, input.Round),
            input.State is { } s ? [input.Problems, s] : [input.Problems]);
        await w.AddTextAsync(SearchFiles.Prompts, SearchStore.Lines(rows));
        await LapStore.CommitOnceAsync(w);
        return new SearchStepResult { Artifact = id, Rows = rows.Count };
    }
}

/// <summary>
/// The round's new proofs ({searchId}.r{round}.proofs): every completion of the generation jobs parsed into a pool
/// record keyed (problem, round, prompt, sample), and one verification prompt per proof.
/// </summary>
[DurableTask(TaskNames.WriteSearchProofs)]
public sealed class WriteSearchProofs(ArtifactStore artifacts) : TaskActivity<SearchProofsInput, SearchStepResult>
{
    public override Task<SearchStepResult> RunAsync(TaskActivityContext context, SearchProofsInput input) => ExecuteAsync(input);

    public async Task<SearchStepResult> ExecuteAsync(SearchProofsInput input)
    {
        string id = $"{input.SearchId}.r{input.Round}.proofs";
        if (await artifacts.GetAsync(id) != null)
            return new SearchStepResult { Artifact = id, Rows = Jsonl.Records<PoolRecord>(await LapStore.ReadArtifactTextAsync(artifacts, id, SearchFiles.Proofs)).Count };
        var prompts = Jsonl.Records<SearchPromptRow>(await LapStore.ReadArtifactTextAsync(artifacts, input.Prompts, SearchFiles.Prompts)).ToDictionary(r => r.Id);
        var records = new Dictionary<string, PoolRecord>();
        foreach (var c in await LapStore.ReadCompletionsAsync(artifacts, input.Completions))
        {
            var row = prompts.GetValueOrDefault(c.Id) ?? throw new InvalidDataException($"completion of '{c.Id}' answers no prompt of {input.Prompts}");
            var (problemId, round, prompt) = SearchRanking.ParsePromptId(c.Id);
            var parse = Parsers.Generation(c.Completion, c.FinishReason);
            var record = new PoolRecord
            {
                ProofId = SearchRanking.ProofId(problemId, round, prompt, c.Index), ProblemId = problemId, Round = round, Prompt = prompt, Sample = c.Index,
                ParentProofIds = row.ParentProofIds, Proof = CreateAnnotationBatch.ProofOf(c.Completion, c.FinishReason),
                SelfEvaluation = parse.SelfEvaluation, SelfScore = parse.SelfScore,
            };
            if (!records.TryAdd(record.ProofId, record)) throw new InvalidDataException($"proof {record.ProofId} was sampled twice");
        }
        var set = input.PromptSet;
        var w = artifacts.Create(id, "search-proofs", StorageNames.DatasetsContainer, id, SearchStore.Producer(input.SearchId, input.Round), [input.Prompts, .. input.Completions]);
        await w.AddTextAsync(SearchFiles.Proofs, SearchStore.Lines(records.Values));
        await w.AddTextAsync(LapFiles.VerificationPrompts, string.Concat(records.Values.Select(r =>
            Json.Serialize(new { id = r.ProofId, prompt = Prompts.RenderVerification(prompts[SearchRanking.PromptId(r.ProblemId, r.Round, r.Prompt)].Problem, r.Proof, set.Verification) }) + "\n")));
        await LapStore.CommitOnceAsync(w);
        return new SearchStepResult { Artifact = id, Rows = records.Count };
    }

}

/// <summary>
/// A round's meta-verification prompts ({searchId}.r{round}.meta-prompts): one per verification reporting an issue
/// (parsable, score below 1), id "{proofId}#{i}", for options.metaVerifications verdicts each.
/// </summary>
[DurableTask(TaskNames.WriteSearchMetaPrompts)]
public sealed class WriteSearchMetaPrompts(ArtifactStore artifacts) : TaskActivity<SearchMetaPromptsInput, SearchStepResult>
{
    public override Task<SearchStepResult> RunAsync(TaskActivityContext context, SearchMetaPromptsInput input) => ExecuteAsync(input);

    public async Task<SearchStepResult> ExecuteAsync(SearchMetaPromptsInput input)
    {
        string id = $"{input.SearchId}.r{input.Round}.meta-prompts{(input.Wave > 0 ? $"-w{input.Wave}" : "")}";
        if (await artifacts.GetAsync(id) != null)
            return new SearchStepResult { Artifact = id, Rows = (await LapStore.ReadArtifactTextAsync(artifacts, id, SearchFiles.MetaPrompts)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length };
        var statements = (await SearchStore.ProblemsAsync(artifacts, input.Problems)).ToDictionary(p => p.Id, p => p.Problem);
        var proofs = Jsonl.Records<PoolRecord>(await LapStore.ReadArtifactTextAsync(artifacts, input.Proofs, SearchFiles.Proofs)).ToDictionary(p => p.ProofId);
        var rows = new StringBuilder();
        int n = 0;
        foreach (var a in (await LapStore.ReadCompletionsAsync(artifacts, input.Analyses)).OrderBy(a => a.Id, StringComparer.Ordinal).ThenBy(a => a.Index))
        {
            if (SearchStore.ScoreOf(a) is not < 1) continue;
            var proof = proofs.GetValueOrDefault(a.Id) ?? throw new InvalidDataException($"analysis of '{a.Id}' verifies no proof of {input.Proofs}");
            rows.Append(Json.Serialize(new
            {
                id = AutoLabelling.MetaId(a.Id, a.Index), prompt = Prompts.RenderMetaVerification(statements[proof.ProblemId], proof.Proof, a.Completion, input.PromptSet.MetaVerification),
            })).Append('\n');
            n++;
        }
        var w = artifacts.Create(id, "dataset-prompts", StorageNames.DatasetsContainer, id, SearchStore.Producer(input.SearchId, input.Round), [input.Proofs, .. input.Analyses]);
        await w.AddTextAsync(SearchFiles.MetaPrompts, rows.ToString());
        await LapStore.CommitOnceAsync(w);
        return new SearchStepResult { Artifact = id, Rows = n };
    }
}

/// <summary>
/// A verification wave's prompts ({searchId}.r{round}.wave{w}): wave w draws sample indices [w·c, (w+1)·c) of the
/// proofs still open (c = verifications / waves, rounded up); after the first, a proof that can no longer be kept
/// (SearchRanking.Open, on the analyses so far) gets none.
/// </summary>
[DurableTask(TaskNames.PlanSearchVerification)]
public sealed class PlanSearchVerification(ArtifactStore artifacts) : TaskActivity<SearchWaveInput, SearchStepResult>
{
    public override Task<SearchStepResult> RunAsync(TaskActivityContext context, SearchWaveInput input) => ExecuteAsync(input);

    public async Task<SearchStepResult> ExecuteAsync(SearchWaveInput input)
    {
        string id = $"{input.SearchId}.r{input.Round}.wave{input.Wave + 1}";
        if (await artifacts.GetAsync(id) != null)
            return new SearchStepResult { Artifact = id, Rows = (await LapStore.ReadArtifactTextAsync(artifacts, id, SearchFiles.VerificationWave)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length };
        var o = input.Options;
        // Balanced waves: W waves of V / W (the first ones one fewer when it does not divide), each non-empty as W ≤ V.
        int from = input.Wave * o.Verifications / o.VerificationWaves, to = (input.Wave + 1) * o.Verifications / o.VerificationWaves;
        var proofs = Jsonl.Records<PoolRecord>(await LapStore.ReadArtifactTextAsync(artifacts, input.Proofs, SearchFiles.Proofs));
        var prompts = (await LapStore.ReadArtifactTextAsync(artifacts, input.Proofs, LapFiles.VerificationPrompts)).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToDictionary(e => e.GetProperty("id").GetString()!, e => e.GetProperty("prompt").GetString()!);
        var open = proofs.Select(p => p.ProofId).ToHashSet();
        if (input.Wave > 0)
        {
            var state = await SearchStore.StateAsync(artifacts, input.State);
            // Scores as they stand: with meta-verification, every drawn issue report already has its verdicts.
            var byProof = SearchStore.Judge(await LapStore.ReadCompletionsAsync(artifacts, input.Analyses), await LapStore.ReadCompletionsAsync(artifacts, input.Metas), o.MetaVerifications);
            foreach (var g in proofs.GroupBy(p => p.ProblemId))
            {
                var list = g.ToList();
                var kept = state?.Problems.FirstOrDefault(x => x.ProblemId == g.Key)?.Top ?? [];
                var mine = list.Select(p => byProof.GetValueOrDefault(p.ProofId, [])).ToList();
                bool[] still = SearchRanking.Open(kept, SearchStore.Standings(mine), list.Select(_ => o.Verifications).ToList(), o.Keep, SearchStore.Fatal(mine, o));
                for (int i = 0; i < list.Count; i++) if (!still[i]) open.Remove(list[i].ProofId);
            }
        }
        var rows = proofs.Where(p => open.Contains(p.ProofId) && from < to)
            .Select(p => Json.Serialize(new { id = p.ProofId, prompt = prompts[p.ProofId], samples = Enumerable.Range(from, to - from) }) + "\n").ToList();
        var w = artifacts.Create(id, "dataset-prompts", StorageNames.DatasetsContainer, id, SearchStore.Producer(input.SearchId, input.Round),
            [input.Proofs, .. input.Analyses, .. input.Metas]);
        await w.AddTextAsync(SearchFiles.VerificationWave, string.Concat(rows));
        await LapStore.CommitOnceAsync(w);
        return new SearchStepResult { Artifact = id, Rows = rows.Count };
    }
}

/// <summary>
/// Scores the round ({searchId}.r{round}.pool): each new proof's verifications (mean of the parsable scores),
/// analyses.jsonl for the next round's refinement prompts, and state.json: each problem's best proofs so far
/// (at most keep, ranked by mean score then self-score) and whether it stopped.
/// </summary>
[DurableTask(TaskNames.ScoreSearchRound)]
public sealed class ScoreSearchRound(ArtifactStore artifacts) : TaskActivity<ScoreSearchRoundInput, ScoreSearchRoundResult>
{
    public override Task<ScoreSearchRoundResult> RunAsync(TaskActivityContext context, ScoreSearchRoundInput input) => ExecuteAsync(input);

    public async Task<ScoreSearchRoundResult> ExecuteAsync(ScoreSearchRoundInput input)
    {
        string id = $"{input.SearchId}.r{input.Round}.pool";
        if (await artifacts.GetAsync(id) != null)
            return new ScoreSearchRoundResult { State = id, Totals = (await SearchStore.StateAsync(artifacts, id))!.Totals(input.Options.StopScore) };
        var proofs = Jsonl.Records<PoolRecord>(await LapStore.ReadArtifactTextAsync(artifacts, input.Proofs, SearchFiles.Proofs));
        int m = input.Options.MetaVerifications;
        var byProof = SearchStore.Judge(await LapStore.ReadCompletionsAsync(artifacts, input.Analyses), await LapStore.ReadCompletionsAsync(artifacts, input.Metas), m);
        var analyses = new List<PoolAnalysis>();
        var scored = new List<PoolRecord>();
        var metaCount = new Dictionary<string, int>();
        foreach (var p in proofs)
        {
            var mineScored = byProof.GetValueOrDefault(p.ProofId, []);
            metaCount[p.ProblemId] = metaCount.GetValueOrDefault(p.ProblemId) + mineScored.Sum(a => a.MetaScores?.Count ?? 0);
            analyses.AddRange(mineScored);
            var scores = mineScored.Select(a => a.Standing).OfType<double>().ToList();
            int bogus = mineScored.Count(a => a.Verdict == PoolAnalysis.Bogus);
            scored.Add(p with
            {
                Scores = scores, Unparsable = mineScored.Count - scores.Count, Bogus = bogus, Confirmed = mineScored.Count(a => a.Verdict == PoolAnalysis.Confirmed),
                Refuted = input.Options.Refutes && mineScored.Any(a => a.Fatal), MeanScore = scores.Count > 0 ? scores.Average() : 0, Artifact = id,
            });
        }
        var before = await SearchStore.StateAsync(artifacts, input.State);
        // The adaptive rule replayed on each problem's full verifications (index order): what it would have drawn.
        var ordered = analyses.GroupBy(a => a.ProofId).ToDictionary(g => g.Key, g => g.OrderBy(a => a.Index).ToList());
        var byProblem = new Dictionary<string, List<PoolRecord>>();
        foreach (var g in scored.GroupBy(p => p.ProblemId))
        {
            var list = g.ToList();
            var kept = before?.Problems.FirstOrDefault(x => x.ProblemId == g.Key)?.Top ?? [];
            // Drawn in waves, what was drawn is what the rule drew; drawn at once, the rule is replayed on it.
            int[] used = input.Options.VerificationWaves > 1
                ? [.. list.Select(p => p.Scores.Count + p.Unparsable)]
                : SearchRanking.AdaptiveVerifications(kept, SearchStore.Standings(list.Select(p => ordered.GetValueOrDefault(p.ProofId, [])).ToList()), input.Options.Keep,
                    SearchStore.Fatal(list.Select(p => ordered.GetValueOrDefault(p.ProofId, [])).ToList(), input.Options));
            byProblem[g.Key] = list.Select((p, i) => p with { AdaptiveVerifications = used[i] }).ToList();
        }
        scored = [.. byProblem.Values.SelectMany(x => x)];
        var states = new List<ProblemState>();
        foreach (var problem in await SearchStore.ProblemsAsync(artifacts, input.Problems))
        {
            var old = before?.Problems.FirstOrDefault(x => x.ProblemId == problem.Id);
            states.Add(old is { Stopped: true } ? old
                : SearchRanking.Next(old, problem.Id, input.Round, byProblem.GetValueOrDefault(problem.Id, []), input.Options, metaCount.GetValueOrDefault(problem.Id)));
        }
        var state = new SearchState { Round = input.Round, Problems = states };
        var w = artifacts.Create(id, "search-pool", StorageNames.DatasetsContainer, id, SearchStore.Producer(input.SearchId, input.Round),
            [input.Proofs, .. input.Analyses, .. input.Metas, .. input.State is { } s ? new[] { s } : []]);
        await w.AddTextAsync(SearchFiles.Pool, SearchStore.Lines(scored));
        await w.AddTextAsync(SearchFiles.Analyses, SearchStore.Lines(analyses));
        await w.AddTextAsync(SearchFiles.State, Json.Serialize(state, indented: true));
        await LapStore.CommitOnceAsync(w);
        return new ScoreSearchRoundResult { State = id, Totals = state.Totals(input.Options.StopScore) };
    }
}

/// <summary>The search's result ({searchId}.result): per problem its best proof with its analyses (result.jsonl).</summary>
[DurableTask(TaskNames.WriteSearchResult)]
public sealed class WriteSearchResult(ArtifactStore artifacts) : TaskActivity<SearchResultInput, SearchResultSummary>
{
    public override Task<SearchResultSummary> RunAsync(TaskActivityContext context, SearchResultInput input) => ExecuteAsync(input);

    public async Task<SearchResultSummary> ExecuteAsync(SearchResultInput input)
    {
        string id = $"{input.SearchId}.result";
        if (await artifacts.GetAsync(id) != null) return new SearchResultSummary { Artifact = id, Report = await ReadReportAsync(artifacts, id) };
        var state = (await SearchStore.StateAsync(artifacts, input.State))!;
        var statements = (await SearchStore.ProblemsAsync(artifacts, input.Problems)).ToDictionary(p => p.Id, p => p.Problem);
        var bests = state.Problems.Where(p => p.Top.Count > 0).Select(p => p.Top[0]).ToList();
        var analyses = await SearchStore.AnalysesAsync(artifacts, bests);
        var rows = state.Problems.Where(p => p.Top.Count > 0).Select(p => new SearchResultRow
        {
            ProblemId = p.ProblemId, Problem = statements[p.ProblemId], Best = p.Top[0], Analyses = analyses.GetValueOrDefault(p.Top[0].ProofId, []),
            Rounds = p.Round, Proofs = p.Proofs, Verifications = p.Verifications, StopReason = p.StopReason,
        });
        var report = await ReportAsync(input, state, statements);
        var w = artifacts.Create(id, "search-result", StorageNames.DatasetsContainer, id, SearchStore.Producer(input.SearchId, 0),
            [input.State, .. bests.Select(b => b.Artifact).OfType<string>().Distinct().Where(a => a != input.State)]);
        await w.AddTextAsync(SearchFiles.Result, SearchStore.Lines(rows));
        await w.AddTextAsync(SearchFiles.Report, Json.Serialize(report, indented: true));
        await LapStore.CommitOnceAsync(w);
        return new SearchResultSummary { Artifact = id, Report = report };
    }

    public static async Task<SearchReport> ReadReportAsync(ArtifactStore artifacts, string resultId) =>
        Json.Deserialize<SearchReport>(await LapStore.ReadArtifactTextAsync(artifacts, resultId, SearchFiles.Report));

    /// <summary>Each round's state read back: samples used, the selected proofs' mean scores and, on demo problems, the oracle's verdicts.</summary>
    async Task<SearchReport> ReportAsync(SearchResultInput input, SearchState last, Dictionary<string, string> statements)
    {
        // The oracle judges only the demo's own problems (the id names the problem and the statement is its).
        var demo = statements.ToDictionary(kv => kv.Key, kv => Core.Demo.ArithmeticDomainIds.TryProblem(kv.Key) is { } p && p.Statement == kv.Value ? p : null);
        bool oracle = demo.Values.All(p => p != null);
        bool Passes(PoolRecord r) => Core.Demo.Oracle.ScoreProof(demo[r.ProblemId]!, r.Proof).Score >= 1;
        var rounds = new List<SearchRoundReport>();
        SearchState? before = null;
        for (int r = 1; r <= last.Round; r++)
        {
            var state = r == last.Round ? last : (await SearchStore.StateAsync(artifacts, $"{input.SearchId}.r{r}.pool"))!;
            int Delta(Func<ProblemState, int> f) => state.Problems.Sum(f) - (before?.Problems.Sum(f) ?? 0);
            var selected = state.Problems.Where(p => p.Top.Count > 0).Select(p => p.Top[0]).ToList();
            rounds.Add(new SearchRoundReport
            {
                Round = r, Searching = before?.Problems.Count(p => !p.Stopped) ?? state.Problems.Count,
                Proofs = Delta(p => p.Proofs), Verifications = Delta(p => p.Verifications), AdaptiveVerifications = Delta(p => p.AdaptiveVerifications),
                VerificationBudget = Delta(p => p.VerificationBudget),
                MeanBestScore = state.Problems.Average(p => p.BestMeanScore ?? 0),
                OraclePassRate = oracle ? (double)selected.Count(Passes) / state.Problems.Count : null,
            });
            before = state;
        }
        double? pass1 = null, anyPass = null;
        if (oracle)
        {
            var first = Jsonl.Records<PoolRecord>(await LapStore.ReadArtifactTextAsync(artifacts, $"{input.SearchId}.r1.pool", SearchFiles.Pool));
            pass1 = first.GroupBy(p => p.ProblemId).Average(g => g.Average(p => Passes(p) ? 1.0 : 0.0));
            var passing = new HashSet<string>();
            for (int r = 1; r <= last.Round; r++)
                foreach (var p in r == 1 ? first : Jsonl.Records<PoolRecord>(await LapStore.ReadArtifactTextAsync(artifacts, $"{input.SearchId}.r{r}.pool", SearchFiles.Pool)))
                    if (!passing.Contains(p.ProblemId) && Passes(p)) passing.Add(p.ProblemId);
            anyPass = (double)passing.Count / statements.Count;
        }
        var totals = last.Totals(input.Options.StopScore);
        return new SearchReport
        {
            Problems = totals.Problems, Proofs = totals.Proofs, Verifications = totals.Verifications, AdaptiveVerifications = totals.AdaptiveVerifications,
            VerificationBudget = totals.VerificationBudget, VerificationWaves = input.Options.VerificationWaves, MetaVerifications = totals.MetaVerifications, Refuted = totals.Refuted,
            OraclePass1 = pass1, OracleAnyPass = anyPass, Rounds = rounds,
        };
    }
}
