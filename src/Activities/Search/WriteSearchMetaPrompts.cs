using System.Text;

namespace MathV2.Activities;

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
