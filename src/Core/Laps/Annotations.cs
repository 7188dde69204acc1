using System.Text;
using System.Text.Json;
using MathV2.Core.Datasets;
using MathV2.Core.Method;

namespace MathV2.Core.Laps;

/// <summary>One proof to label.</summary>
public sealed record AnnotationItem
{
    public required string ItemId { get; init; }
    public required string ProblemId { get; init; }
    public required string Problem { get; init; }
    public required string Proof { get; init; }
    /// <summary>For analysis batches (phase 1C): the verifier's analysis to rate with the meta-rubric.</summary>
    public string? Analysis { get; init; }
}

/// <summary>What a batch asks annotators to score.</summary>
public static class AnnotationKinds
{
    /// <summary>Proofs, scored with the rubric (0, 0.5, 1) → D_v.</summary>
    public const string Proofs = "proofs";
    /// <summary>Verifier analyses, rated with the meta-rubric (0, 0.5, 1) → D_mv.</summary>
    public const string Analyses = "analyses";
}

/// <summary>A label posted for an item: the rubric's score (0, 0.5, 1).</summary>
public sealed record AnnotationLabel
{
    public required string ItemId { get; init; }
    public required double Score { get; init; }
}

/// <summary>What a lap waits for: a batch in annotations/{batchId}/items.jsonl, labels in labels.jsonl.</summary>
public sealed record AnnotationBatch
{
    public required string BatchId { get; init; }
    public required string LapId { get; init; }
    public string Kind { get; init; } = AnnotationKinds.Proofs;
    /// <summary>The orchestration instance that waits for the labels.</summary>
    public required string InstanceId { get; init; }
    /// <summary>The artifact the items were drawn from (the parent of the resulting D_v).</summary>
    public required string SamplesArtifact { get; init; }
    public required int Items { get; init; }
    public required string ItemsPath { get; init; }
    public required string LabelsPath { get; init; }
}

/// <summary>The event a lap waits for; raised once labels for the whole batch are stored.</summary>
public static class AnnotationEvents
{
    public static string Submitted(string batchId) => $"annotations-submitted:{batchId}";
}

/// <summary>Checks posted labels against their batch: every item labelled exactly once, scores from the rubric.</summary>
public static class AnnotationValidation
{
    /// <summary>
    /// The samples a labelling batch takes: round-robin over prompts (every prompt's first sample, then every
    /// second one, …), the prompts in an order seeded by orderKey (the lap's seed and phase), so a small batch covers many prompts and all
    /// of the list, not only its first problems (the easiest ones).
    /// </summary>
    public static IReadOnlyList<T> PickForBatch<T>(IReadOnlyList<T> samples, Func<T, string> id, Func<T, int> index, string orderKey, int size) =>
        samples.Select((c, i) => (c, i)).OrderBy(x => index(x.c)).ThenBy(x => new Random(StableHash.Seed(orderKey, id(x.c))).Next()).ThenBy(x => x.i).Select(x => x.c).Take(size).ToList();

    static readonly string[] LabelFields = ["itemId", "score", "problemId", "problem", "proof", "analysis"];

    public static (IReadOnlyList<AnnotationLabel> Labels, IReadOnlyList<DatasetError> Errors) Parse(string jsonl, IReadOnlyList<AnnotationItem> items, string file = "labels.jsonl")
    {
        var known = items.Select(i => i.ItemId).ToHashSet();
        var seen = new HashSet<string>();
        var labels = new List<AnnotationLabel>();
        var errors = new List<DatasetError>();
        foreach (var (lineNo, row, _) in Jsonl.Lines(jsonl, file, errors))
        {
            if (row.ValueKind != JsonValueKind.Object || !row.TryGetProperty("itemId", out var idEl) || idEl.ValueKind != JsonValueKind.String)
            {
                errors.Add(new DatasetError(file, lineNo, "itemId", "is required (a string)"));
                continue;
            }
            string id = idEl.GetString()!;
            if (!known.Contains(id)) { errors.Add(new DatasetError(file, lineNo, "itemId", $"'{id}' is not an item of this batch")); continue; }
            if (!seen.Add(id)) { errors.Add(new DatasetError(file, lineNo, "itemId", $"'{id}' is labelled twice")); continue; }
            double? score = row.TryGetProperty("score", out var s) ? s.ValueKind switch
            {
                JsonValueKind.Number => Scores.Normalize(s.GetRawText()),
                JsonValueKind.String => Scores.Normalize(s.GetString()!),
                _ => null,
            } : null;
            if (score is null) { errors.Add(new DatasetError(file, lineNo, "score", "must be 0, 0.5 or 1")); continue; }
            // The item's own fields may come back with the label (a labelled copy of the items file); anything else is a typo.
            if (row.EnumerateObject().Select(p => p.Name).FirstOrDefault(n => !LabelFields.Contains(n)) is { } unknown)
            {
                errors.Add(new DatasetError(file, lineNo, unknown, "is not a field of a label" + Names.Hint(unknown, ["itemId", "score"])));
                continue;
            }
            labels.Add(new AnnotationLabel { ItemId = id, Score = score.Value });
        }
        var missing = items.Where(i => !seen.Contains(i.ItemId)).Select(i => i.ItemId).ToList();
        if (missing.Count > 0 && errors.Count == 0)
            errors.Add(new DatasetError(file, 0, "(batch)", $"{missing.Count} item(s) have no label, e.g. {string.Join(", ", missing.Take(3))}"));
        return (labels, errors);
    }

    public static string Write(IEnumerable<AnnotationLabel> labels) =>
        string.Concat(labels.Select(l => Json.Serialize(l) + "\n"));

    public static IReadOnlyList<AnnotationItem> ReadItems(string jsonl) =>
        Jsonl.Records<AnnotationItem>(jsonl);

    public static string WriteItems(IEnumerable<AnnotationItem> items) =>
        string.Concat(items.Select(i => Json.Serialize(i) + "\n"));
}

/// <summary>
/// An annotation batch's own access token: it reads the batch's items and posts its labels (once) through
/// /api/annotations/{batchId}, and nothing else; it expires with the batch's deadline. Annotators hold it instead of
/// the admin key. Kept beside the batch (annotations/{batchId}/access.json), issued when an admin first reads the
/// waiting lap.
/// </summary>
public sealed record AnnotationAccess
{
    public const string Header = "x-annotation-token";

    public required string BatchId { get; init; }
    public required string Token { get; init; }
    public required DateTime ExpiresAt { get; init; }

    public static AnnotationAccess Issue(string batchId, DateTime expiresAt) => new()
    {
        BatchId = batchId, ExpiresAt = expiresAt,
        Token = "mva_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)),
    };

    /// <summary>Null when the token opens this batch now; else why not (no token, another token, expired).</summary>
    public string? Refuses(string? given, DateTime now)
    {
        if (string.IsNullOrEmpty(given)) return $"the {Header} header with the batch's token is required";
        if (!System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(given)),
                System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Token))))
            return $"the token does not open batch {BatchId}";
        if (now >= ExpiresAt) return $"the token of batch {BatchId} expired at {ExpiresAt:u} (the batch's deadline)";
        return null;
    }
}
