namespace MathV2.Activities;

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
