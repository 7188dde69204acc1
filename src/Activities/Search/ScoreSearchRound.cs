namespace MathV2.Activities;

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
