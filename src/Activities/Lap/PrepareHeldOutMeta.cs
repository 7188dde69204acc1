using MathV2.Core.Demo;

namespace MathV2.Activities;

/// <summary>
/// The held-out rated analyses the meta-verifiers are measured on ({lapId}.heldout-meta: graded analyses of the
/// held-out graded proofs, and their meta-verification prompts), made when first asked for (idempotent), so laps
/// whose datasets were prepared before this measure existed can take it too.
/// </summary>
[DurableTask(TaskNames.PrepareHeldOutMeta)]
public sealed class PrepareHeldOutMeta(ArtifactStore artifacts) : TaskActivity<LapInput, string?>
{
    public override Task<string?> RunAsync(TaskActivityContext context, LapInput input) => ExecuteAsync(input);

    /// <summary>The artifact id, or null for a dataset lap without held-out rated analyses (no meta measures).</summary>
    public async Task<string?> ExecuteAsync(LapInput input)
    {
        string id = $"{input.LapId}.heldout-meta";
        if (await artifacts.GetAsync(id) != null) return id;
        var spec = input.Spec;
        var set = spec.PromptSet;
        List<GradedAnalysisRow> rows;
        List<string> parents = [];
        if (spec.IsDemo)
            rows = DemoDatasets.HeldOutGradedAnalyses(LapStore.DemoOptions(spec), spec.Evaluation.HeldOutPerDifficulty).ToList();
        else if (spec.Datasets?.HeldOutRatedAnalyses is { } uploaded)
        {
            rows = await LapDatasetFiles.ReadAsync<GradedAnalysisRow>(artifacts, spec.Datasets, "heldOutRatedAnalyses");
            parents.Add(uploaded);
        }
        else return null;
        var w = artifacts.Create(id, "dataset-heldout-meta", StorageNames.DatasetsContainer, id,
            new ArtifactProducer { Lap = input.LapId, Phase = "datasets", Instance = input.LapId }, parents);
        await w.AddTextAsync(LapFiles.HeldOutGradedAnalyses, Jsonl.Write(rows));
        await w.AddTextAsync(LapFiles.HeldOutMetaPrompts, string.Concat(rows.Select((r, i) =>
            Json.Serialize(new { id = $"row-{i}", prompt = Prompts.RenderMetaVerification(r.Problem, r.Proof, r.Analysis, set.MetaVerification) }) + "\n")));
        await LapStore.CommitOnceAsync(w);
        return id;
    }
}
