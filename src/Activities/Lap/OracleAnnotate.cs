using MathV2.Core.Demo;

namespace MathV2.Activities;

/// <summary>The oracle annotator: labels a batch exactly (the demo domain's stand-in for experts).</summary>
[DurableTask(TaskNames.OracleAnnotate)]
public sealed class OracleAnnotate(MathV2Storage storage) : TaskActivity<AnnotationBatch, int>
{
    public override Task<int> RunAsync(TaskActivityContext context, AnnotationBatch batch) => ExecuteAsync(batch);

    public async Task<int> ExecuteAsync(AnnotationBatch batch)
    {
        var items = AnnotationValidation.ReadItems(await LapStore.ReadTextAsync(storage, StorageNames.AnnotationsContainer, batch.ItemsPath));
        var labels = items.Select(i =>
        {
            var p = ArithmeticDomainIds.TryProblem(i.ProblemId) ?? throw new InvalidOperationException($"item {i.ItemId}: {i.ProblemId} is not a demo problem (the oracle labels only the demo domain)");
            double score = i.Analysis is { } analysis ? Oracle.JudgeAnalysis(p, i.Proof, analysis) : Oracle.ScoreProof(p, i.Proof).Score;
            return new AnnotationLabel { ItemId = i.ItemId, Score = score };
        }).ToList();
        await LapStore.TryStoreLabelsAsync(storage, batch, labels);
        return labels.Count;
    }
}
