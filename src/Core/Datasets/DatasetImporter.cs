using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MathV2.Core.Datasets;

/// <summary>Where each field of a MathV2 row is found in a foreign layout (dot paths, e.g. "meta.statement").</summary>
public sealed record FieldMapping
{
    public required string ProblemField { get; init; }
    public string? IdField { get; init; }
    public string? ProofField { get; init; }
    public string? AnalysisField { get; init; }
    public string? ScoreField { get; init; }

    /// <summary>What the mapping can produce: D_mv with an analysis, D_v with a proof and score, else D_p.</summary>
    public DatasetKind Kind =>
        AnalysisField != null ? DatasetKind.GradedAnalyses :
        ProofField != null && ScoreField != null ? DatasetKind.GradedProofs :
        DatasetKind.Problems;
}

/// <summary>Imports problem sets and graded proofs from other JSONL / JSON-array layouts by field mapping.</summary>
public static class DatasetImporter
{
    /// <summary>Returns MathV2 JSONL of the mapping's kind; bad rows reject the import unless skipped (then kept aside).</summary>
    public static (string Jsonl, DatasetKind Kind, DatasetReadResult<JsonObject> Result) Import(string text, string fileName, FieldMapping map, bool skipInvalid = false)
    {
        if (map.Kind == DatasetKind.Problems && (map.ProofField != null || map.ScoreField != null))
            throw new ArgumentException("graded proofs need both --proof-field and --score-field");
        var rows = new List<JsonObject>();
        var errors = new List<DatasetError>();
        var rejected = new List<string>();
        foreach (var (line, raw, node) in Records(text, fileName, errors, rejected))
        {
            var o = new JsonObject();
            var missing = new List<string>();
            string? Get(string? path)
            {
                if (path == null) return null;
                JsonNode? cur = node;
                foreach (string part in path.Split('.')) cur = cur is JsonObject obj && obj.TryGetPropertyValue(part, out var next) ? next : null;
                if (cur == null) { missing.Add(path); return null; }
                return cur is JsonValue v && v.TryGetValue<string>(out string? s) ? s : cur.ToJsonString();
            }
            string? problem = Get(map.ProblemField);
            string? id = map.IdField != null ? Get(map.IdField) : problem == null ? null : IdOf(problem);
            string? proof = Get(map.ProofField), analysis = Get(map.AnalysisField), score = Get(map.ScoreField);
            if (missing.Count > 0)
            {
                errors.AddRange(missing.Select(f => new DatasetError(fileName, line, f, "was not found in the row")));
                rejected.Add(raw);
                continue;
            }
            if (map.Kind == DatasetKind.Problems) { o["id"] = id; o["problem"] = problem; }
            else
            {
                o["problemId"] = id; o["problem"] = problem; o["proof"] = proof;
                if (analysis != null) o["analysis"] = analysis;
                o["score"] = score;
            }
            var problems = DatasetSchema.Validate(map.Kind, JsonDocument.Parse(o.ToJsonString()).RootElement).ToList();
            if (problems.Count > 0)
            {
                errors.AddRange(problems.Select(p => new DatasetError(fileName, line, MappedName(map, p.Field), p.Message)));
                rejected.Add(raw);
                continue;
            }
            if (score != null) o["score"] = DatasetSchema.ScoreOf(JsonDocument.Parse(JsonSerializer.Serialize(score)).RootElement);
            rows.Add(o);
        }
        if (errors.Count > 0 && !skipInvalid) throw new DatasetException(errors);
        string jsonl = string.Concat(rows.Select(r => r.ToJsonString() + "\n"));
        return (jsonl, map.Kind, new DatasetReadResult<JsonObject> { Rows = rows, Errors = errors, RejectedLines = rejected });
    }

    /// <summary>A stable id for a problem without one.</summary>
    public static string IdOf(string problem) => "p-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(problem)))[..12];

    static string MappedName(FieldMapping map, string field) => field switch
    {
        "problem" => map.ProblemField,
        "proof" => map.ProofField ?? field,
        "analysis" => map.AnalysisField ?? field,
        "score" => map.ScoreField ?? field,
        "id" or "problemId" => map.IdField ?? field,
        _ => field,
    };

    /// <summary>JSONL (one object per line) or a JSON array of objects; line numbers are 1-based lines or array positions.</summary>
    static IEnumerable<(int Line, string Raw, JsonNode Node)> Records(string text, string fileName, List<DatasetError> errors, List<string> rejected)
    {
        string trimmed = text.TrimStart();
        if (trimmed.StartsWith('['))
        {
            JsonArray array;
            try { array = JsonNode.Parse(trimmed)!.AsArray(); }
            catch (JsonException e) { errors.Add(new DatasetError(fileName, 1, "(file)", $"is not a valid JSON array: {e.Message.Split(" Path:")[0]}")); yield break; }
            for (int i = 0; i < array.Count; i++)
            {
                if (array[i] is JsonObject o) yield return (i + 1, o.ToJsonString(), o);
                else { errors.Add(new DatasetError(fileName, i + 1, "(row)", "must be a JSON object")); rejected.Add(array[i]?.ToJsonString() ?? "null"); }
            }
            yield break;
        }
        int n = 0;
        foreach (string line in text.Split('\n'))
        {
            n++;
            string l = line.TrimEnd('\r');
            if (string.IsNullOrWhiteSpace(l)) continue;
            JsonNode? node = null;
            try { node = JsonNode.Parse(l); } catch (JsonException) { }
            if (node is JsonObject obj) yield return (n, l, obj);
            else { errors.Add(new DatasetError(fileName, n, "(row)", "is not a JSON object")); rejected.Add(l); }
        }
    }
}
