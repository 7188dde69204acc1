using System.Text;
using Azure;
using Azure.Storage.Blobs.Models;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Datasets;
using MathV2.Core.Demo;
using MathV2.Core.Laps;
using MathV2.Core.Method;
using MathV2.Core.Storage;
using Microsoft.DurableTask;

namespace MathV2.Activities;

/// <summary>Lap I/O: datasets, annotation batches, labels → D_v. Every activity is idempotent (a replay rewrites nothing).</summary>
public static class LapStore
{

    public static DemoDatasetOptions DemoOptions(LapSpec spec) => new()
    {
        Seed = spec.Demo.Seed, ProblemsPerDifficulty = spec.Demo.ProblemsPerDifficulty, MaxDifficulty = spec.Demo.MaxDifficulty, Prompts = spec.Demo.Prompts,
    };

    public static async Task<string> ReadTextAsync(MathV2Storage storage, string container, string path, CancellationToken ct = default) =>
        (await storage.Container(container).GetBlobClient(path).DownloadContentAsync(ct)).Value.Content.ToString();

    public static async Task<AnnotationBatch?> GetBatchAsync(MathV2Storage storage, string batchId, CancellationToken ct = default)
    {
        if (!Ids.IsValid(batchId)) return null;
        try { return Json.Deserialize<AnnotationBatch>(await ReadTextAsync(storage, StorageNames.AnnotationsContainer, $"{batchId}/{LapFiles.Batch}", ct)); }
        catch (RequestFailedException e) when (e.Status == 404) { return null; }
    }

    /// <summary>Stores labels once (If-None-Match): false when the batch was already labelled.</summary>
    public static async Task<bool> TryStoreLabelsAsync(MathV2Storage storage, AnnotationBatch batch, IEnumerable<AnnotationLabel> labels, CancellationToken ct = default)
    {
        try
        {
            await storage.Container(StorageNames.AnnotationsContainer).GetBlobClient(batch.LabelsPath).UploadAsync(
                BinaryData.FromString(AnnotationValidation.Write(labels)),
                new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, ct);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412) { return false; }
    }
}

/// <summary>Writes the lap's demo datasets as artifacts (problems + generation prompts, demonstrations).</summary>
[DurableTask(TaskNames.PrepareLapDatasets)]
public sealed class PrepareLapDatasets(ArtifactStore artifacts) : TaskActivity<LapInput, LapDatasets>
{
    public override Task<LapDatasets> RunAsync(TaskActivityContext context, LapInput input) => ExecuteAsync(input);

    public async Task<LapDatasets> ExecuteAsync(LapInput input)
    {
        var o = LapStore.DemoOptions(input.Spec);
        var set = Prompts.Set(o.Prompts);
        var producer = new ArtifactProducer { Lap = input.LapId, Phase = "datasets", Instance = input.LapId };
        string problems = $"{input.LapId}.problems", demos = $"{input.LapId}.demonstrations";
        if (await artifacts.GetAsync(problems) == null)
        {
            var rows = DemoDatasets.ProblemRows(o).ToList();
            var w = artifacts.Create(problems, "dataset-problems", StorageNames.DatasetsContainer, problems, producer);
            await w.AddTextAsync(LapFiles.Problems, Jsonl.Write(rows));
            await w.AddTextAsync(LapFiles.GenerationPrompts, string.Concat(rows.Select(r =>
                Json.Serialize(new { id = r.Id, prompt = Prompts.RenderGeneration(r.Problem, set.Generation) }) + "\n")));
            await CommitOnceAsync(w);
        }
        if (await artifacts.GetAsync(demos) == null)
        {
            var w = artifacts.Create(demos, "dataset-demonstrations", StorageNames.DatasetsContainer, demos, producer);
            await w.AddTextAsync(LapFiles.Demonstrations, Jsonl.Write(DemoDatasets.Demonstrations(o)));
            await CommitOnceAsync(w);
        }
        return new LapDatasets { Problems = problems, Demonstrations = demos };
    }

    /// <summary>A replay after a commit that lost its reply finds the manifest already there: that is success.</summary>
    static async Task CommitOnceAsync(ArtifactWriter w)
    {
        try { await w.CommitAsync(); }
        catch (RequestFailedException e) when (e.Status is 409 or 412) { }
    }
}

/// <summary>
/// Phase 1A: turns the base model's sampled proofs into a labelling batch (annotations/{batchId}/items.jsonl),
/// spread over problems. Unparsable generations are labelled too (as the whole text): the labels say they are wrong.
/// </summary>
[DurableTask(TaskNames.CreateAnnotationBatch)]
public sealed class CreateAnnotationBatch(MathV2Storage storage, ArtifactStore artifacts) : TaskActivity<CreateAnnotationBatchInput, AnnotationBatch>
{
    public override Task<AnnotationBatch> RunAsync(TaskActivityContext context, CreateAnnotationBatchInput input) => ExecuteAsync(input);

    public async Task<AnnotationBatch> ExecuteAsync(CreateAnnotationBatchInput input)
    {
        string batchId = $"{input.LapId}-{input.Phase}-batch";
        if (await LapStore.GetBatchAsync(storage, batchId) is { } existing) return existing;
        var m = await artifacts.GetAsync(input.Samples) ?? throw new InvalidOperationException($"samples artifact {input.Samples} does not exist");
        var completions = Encoding.UTF8.GetString(await artifacts.ReadFileAsync(m, "completions.jsonl"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        // Round-robin over prompts so a small batch still covers many of them.
        var ordered = completions.Select((c, i) => (c, i)).OrderBy(x => x.c.GetProperty("index").GetInt32()).ThenBy(x => x.i).Select(x => x.c).Take(input.BatchSize).ToList();
        List<AnnotationItem> items;
        if (input.Kind == AnnotationKinds.Analyses)
        {
            var dvm = await artifacts.GetAsync(input.GradedProofs ?? "") ?? throw new InvalidOperationException($"graded proofs artifact {input.GradedProofs} does not exist");
            var rows = Jsonl.Read<GradedProofRow>(Encoding.UTF8.GetString(await artifacts.ReadFileAsync(dvm, LapFiles.GradedProofs)), LapFiles.GradedProofs).Rows;
            items = ordered.Select((c, n) =>
            {
                var row = rows[int.Parse(c.GetProperty("id").GetString()!["row-".Length..], System.Globalization.CultureInfo.InvariantCulture)];
                return new AnnotationItem { ItemId = $"item-{n:00000}", ProblemId = row.ProblemId, Problem = row.Problem, Proof = row.Proof, Analysis = NonEmpty(c.GetProperty("completion").GetString()) };
            }).ToList();
        }
        else
        {
            var problems = DemoProblems(completions.Select(c => c.GetProperty("id").GetString()!));
            items = ordered.Select((c, n) =>
            {
                string text = c.GetProperty("completion").GetString()!;
                var parsed = Parsers.Generation(text, c.GetProperty("finishReason").GetString() ?? "stop");
                string problemId = c.GetProperty("id").GetString()!;
                return new AnnotationItem
                {
                    ItemId = $"item-{n:00000}", ProblemId = problemId, Problem = problems.GetValueOrDefault(problemId, problemId),
                    Proof = NonEmpty(parsed.Proof ?? text.Split("## Self Evaluation")[0].Replace("## Solution", "").Trim()),
                };
            }).ToList();
        }
        var batch = new AnnotationBatch
        {
            BatchId = batchId, LapId = input.LapId, Kind = input.Kind, InstanceId = input.InstanceId, Items = items.Count,
            ItemsPath = $"{batchId}/{LapFiles.Items}", LabelsPath = $"{batchId}/{LapFiles.Labels}", SamplesArtifact = input.Samples,
        };
        var container = storage.Container(StorageNames.AnnotationsContainer);
        await container.GetBlobClient(batch.ItemsPath).UploadAsync(BinaryData.FromString(AnnotationValidation.WriteItems(items)), overwrite: true);
        await container.GetBlobClient($"{batchId}/{LapFiles.Batch}").UploadAsync(BinaryData.FromString(Json.Serialize(batch, indented: true)), overwrite: true);
        return batch;
    }

    /// <summary>An empty output is still an output to label (it is wrong); datasets need non-empty text.</summary>
    public const string EmptyOutput = "(empty output)";

    static string NonEmpty(string? text) => string.IsNullOrWhiteSpace(text) ? EmptyOutput : text;

    static Dictionary<string, string> DemoProblems(IEnumerable<string> ids) =>
        ids.Distinct().Select(id => (id, p: ArithmeticDomainIds.TryProblem(id))).Where(x => x.p != null).ToDictionary(x => x.id, x => x.p!.Statement);
}

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
        var labels = (await LapStore.ReadTextAsync(storage, StorageNames.AnnotationsContainer, batch.LabelsPath))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => Json.Deserialize<AnnotationLabel>(l)).ToDictionary(l => l.ItemId, l => l.Score);
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

/// <summary>Phase 1C: verification prompts for every D_v row (ids row-N), as a prompts artifact for a sample job.</summary>
[DurableTask(TaskNames.WriteVerificationPrompts)]
public sealed class WriteVerificationPrompts(ArtifactStore artifacts) : TaskActivity<VerificationPromptsInput, string>
{
    public override Task<string> RunAsync(TaskActivityContext context, VerificationPromptsInput input) => ExecuteAsync(input);

    public async Task<string> ExecuteAsync(VerificationPromptsInput input)
    {
        string id = $"{input.LapId}-{input.Phase}.verification-prompts";
        if (await artifacts.GetAsync(id) != null) return id;
        var dv = await artifacts.GetAsync(input.GradedProofs) ?? throw new InvalidOperationException($"graded proofs artifact {input.GradedProofs} does not exist");
        var rows = Jsonl.Read<GradedProofRow>(Encoding.UTF8.GetString(await artifacts.ReadFileAsync(dv, LapFiles.GradedProofs)), LapFiles.GradedProofs).Rows;
        var set = Prompts.Set(input.Prompts);
        var w = artifacts.Create(id, "dataset-prompts", StorageNames.DatasetsContainer, id,
            new ArtifactProducer { Lap = input.LapId, Phase = input.Phase }, [input.GradedProofs]);
        await w.AddTextAsync(LapFiles.VerificationPrompts, string.Concat(rows.Select((r, i) =>
            Json.Serialize(new { id = $"row-{i}", prompt = Prompts.RenderVerification(r.Problem, r.Proof, set.Verification) }) + "\n")));
        try { await w.CommitAsync(); }
        catch (RequestFailedException e) when (e.Status is 409 or 412) { }
        return id;
    }
}
