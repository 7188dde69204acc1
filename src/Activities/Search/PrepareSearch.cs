namespace MathV2.Activities;

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
