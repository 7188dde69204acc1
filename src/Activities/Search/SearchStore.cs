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
