namespace MathV2.Activities;

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
