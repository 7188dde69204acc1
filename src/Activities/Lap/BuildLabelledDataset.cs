using Azure;

namespace MathV2.Activities;

/// <summary>Items + stored labels → D_v (graded-proofs.jsonl) or, for analysis batches, D_mv (graded-analyses.jsonl).</summary>
[DurableTask(TaskNames.BuildLabelledDataset)]
public sealed class BuildLabelledDataset(MathV2Storage storage, ArtifactStore artifacts) : TaskActivity<AnnotationBatch, string>
{
    public override Task<string> RunAsync(TaskActivityContext context, AnnotationBatch batch) => ExecuteAsync(batch);

    public async Task<string> ExecuteAsync(AnnotationBatch batch)
    {
        bool analyses = batch.Kind == AnnotationKinds.Analyses;
        string id = $"{batch.BatchId}.{(analyses ? "dmv" : "dv")}";
        if (await artifacts.GetAsync(id) != null) return id;
        var items = AnnotationValidation.ReadItems(await LapStore.ReadTextAsync(storage, StorageNames.AnnotationsContainer, batch.ItemsPath));
        var labels = Jsonl.Records<AnnotationLabel>(await LapStore.ReadTextAsync(storage, StorageNames.AnnotationsContainer, batch.LabelsPath))
            .ToDictionary(l => l.ItemId, l => l.Score);
        var labelled = items.Where(i => labels.ContainsKey(i.ItemId)).ToList();
        var w = artifacts.Create(id, analyses ? "dataset-graded-analyses" : "dataset-graded-proofs", StorageNames.DatasetsContainer, id,
            new ArtifactProducer { Lap = batch.LapId, Phase = batch.BatchId.Split('-')[^2], Instance = batch.InstanceId }, [batch.SamplesArtifact]);
        if (analyses)
            await w.AddTextAsync(LapFiles.GradedAnalyses, Jsonl.Write(labelled.Select(i => new GradedAnalysisRow
            {
                ProblemId = i.ProblemId, Problem = i.Problem, Proof = i.Proof, Analysis = i.Analysis ?? "", Score = labels[i.ItemId],
            })));
        else
            await w.AddTextAsync(LapFiles.GradedProofs, Jsonl.Write(labelled.Select(i => new GradedProofRow { ProblemId = i.ProblemId, Problem = i.Problem, Proof = i.Proof, Score = labels[i.ItemId] })));
        try { await w.CommitAsync(); }
        catch (RequestFailedException e) when (e.Status is 409 or 412) { }
        return id;
    }
}
