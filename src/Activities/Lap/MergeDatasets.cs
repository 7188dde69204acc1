namespace MathV2.Activities;

/// <summary>One JSONL file concatenated across artifacts (identical lines once): D_v or D_mv of a later lap.</summary>
[DurableTask(TaskNames.MergeDatasets)]
public sealed class MergeDatasets(ArtifactStore artifacts) : TaskActivity<MergeDatasetsInput, string>
{
    public override Task<string> RunAsync(TaskActivityContext context, MergeDatasetsInput input) => ExecuteAsync(input);

    public async Task<string> ExecuteAsync(MergeDatasetsInput input)
    {
        if (await artifacts.GetAsync(input.Id) != null) return input.Id;
        var lines = new List<string>();
        foreach (string parent in input.Parents)
            lines.AddRange((await LapStore.ReadArtifactTextAsync(artifacts, parent, input.File)).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var w = artifacts.Create(input.Id, input.Type, StorageNames.DatasetsContainer, input.Id, new ArtifactProducer { Lap = input.LapId, Phase = input.Phase }, input.Parents);
        await w.AddTextAsync(input.File, string.Concat(lines.Distinct().Select(l => l + "\n")));
        await LapStore.CommitOnceAsync(w);
        return input.Id;
    }
}
