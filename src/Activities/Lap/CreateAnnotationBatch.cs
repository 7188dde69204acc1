using System.Text;
using MathV2.Core.Demo;

namespace MathV2.Activities;

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
        var ordered = AnnotationValidation.PickForBatch(completions, c => c.GetProperty("id").GetString() ?? "", c => c.GetProperty("index").GetInt32(), $"{input.Seed}-{input.Phase}", input.BatchSize);
        List<AnnotationItem> items;
        if (input.Kind == AnnotationKinds.Analyses)
        {
            var dvm = await artifacts.GetAsync(input.GradedProofs ?? "") ?? throw new InvalidOperationException($"graded proofs artifact {input.GradedProofs} does not exist");
            var rows = Jsonl.Read<GradedProofRow>(Encoding.UTF8.GetString(await artifacts.ReadFileAsync(dvm, LapFiles.GradedProofs)), LapFiles.GradedProofs).Rows;
            items = ordered.Select((c, n) =>
            {
                var row = rows[LapMeasures.RowIndex(c.GetProperty("id").GetString()!)];
                return new AnnotationItem { ItemId = $"item-{n:00000}", ProblemId = row.ProblemId, Problem = row.Problem, Proof = row.Proof, Analysis = NonEmpty(c.GetProperty("completion").GetString()) };
            }).ToList();
        }
        else
        {
            var problems = input.Problems is { } p
                ? Jsonl.Read<ProblemRow>(await LapStore.ReadArtifactTextAsync(artifacts, p, LapFiles.Problems), LapFiles.Problems).Rows.GroupBy(r => r.Id).ToDictionary(g => g.Key, g => g.First().Problem)
                : DemoProblems(completions.Select(c => c.GetProperty("id").GetString()!));
            items = ordered.Select((c, n) =>
            {
                string text = c.GetProperty("completion").GetString()!;
                string problemId = c.GetProperty("id").GetString()!;
                return new AnnotationItem
                {
                    ItemId = $"item-{n:00000}", ProblemId = problemId, Problem = problems.GetValueOrDefault(problemId, problemId),
                    Proof = ProofOf(text, c.GetProperty("finishReason").GetString() ?? "stop"),
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

    /// <summary>The proof of a generation: its Solution section, or for an unparsable output the text itself (it is judged as written).</summary>
    public static string ProofOf(string text, string finishReason) =>
        NonEmpty(Parsers.Generation(text, finishReason).Proof ?? text.Split("## Self Evaluation")[0].Replace("## Solution", "").Trim());

    static Dictionary<string, string> DemoProblems(IEnumerable<string> ids) =>
        ids.Distinct().Select(id => (id, p: ArithmeticDomainIds.TryProblem(id))).Where(x => x.p != null).ToDictionary(x => x.id, x => x.p!.Statement);
}
