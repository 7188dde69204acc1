namespace MathV2.Activities;

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
