using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MathV2.Core.Method;

namespace MathV2.Core.Datasets;

/// <summary>A row of D_p: a problem to prove.</summary>
public sealed record ProblemRow
{
    public required string Id { get; init; }
    public required string Problem { get; init; }
    public int? Difficulty { get; init; }
}

/// <summary>A row of D_v: a proof scored by an expert (or the oracle, or consensus).</summary>
public sealed record GradedProofRow
{
    public required string ProblemId { get; init; }
    public required string Problem { get; init; }
    public required string Proof { get; init; }
    public required double Score { get; init; }
}

/// <summary>A row of D_mv: a verifier analysis scored for quality (the meta-rubric).</summary>
public sealed record GradedAnalysisRow
{
    public required string ProblemId { get; init; }
    public required string Problem { get; init; }
    public required string Proof { get; init; }
    public required string Analysis { get; init; }
    public required double Score { get; init; }
}

/// <summary>An SFT demonstration: the prompt and the completion the loss is computed on.</summary>
public sealed record DemonstrationRow
{
    public required string Kind { get; init; }
    public required string Prompt { get; init; }
    public required string Completion { get; init; }
}

/// <summary>Which dataset a file holds.</summary>
public enum DatasetKind { Problems, GradedProofs, GradedAnalyses, Demonstrations }

/// <summary>Per-kind schema: the required fields and the checks on them.</summary>
public static class DatasetSchema
{
    public static IEnumerable<(string Field, string Message)> Validate(DatasetKind kind, JsonElement row)
    {
        if (row.ValueKind != JsonValueKind.Object) { yield return ("(row)", "must be a JSON object"); yield break; }
        string[] text = kind switch
        {
            DatasetKind.Problems => ["id", "problem"],
            DatasetKind.GradedProofs => ["problemId", "problem", "proof"],
            DatasetKind.GradedAnalyses => ["problemId", "problem", "proof", "analysis"],
            _ => ["kind", "prompt", "completion"],
        };
        // A field the row type does not have (a typo, another schema's field) is an error, not silently dropped.
        string[] known = Fields(kind);
        foreach (var p in row.EnumerateObject())
            if (!known.Contains(p.Name)) yield return (p.Name, $"is not a field of a {Describe(kind)} row" + Names.Hint(p.Name, known));
        foreach (string f in text)
        {
            if (!row.TryGetProperty(f, out var v) || v.ValueKind == JsonValueKind.Null) yield return (f, "is required");
            else if (v.ValueKind != JsonValueKind.String) yield return (f, "must be a string");
            else if (string.IsNullOrWhiteSpace(v.GetString())) yield return (f, "must not be empty");
        }
        if (kind is DatasetKind.GradedProofs or DatasetKind.GradedAnalyses)
        {
            if (!row.TryGetProperty("score", out var s)) yield return ("score", "is required");
            else if (ScoreOf(s) == null) yield return ("score", $"must be 0, 0.5 or 1 (got {s.GetRawText()})");
        }
        if (kind == DatasetKind.Problems && row.TryGetProperty("difficulty", out var d) && d.ValueKind != JsonValueKind.Null && d.ValueKind != JsonValueKind.Number)
            yield return ("difficulty", "must be a number");
    }

    /// <summary>The fields a row of the kind may have (as written by <see cref="Jsonl.Write"/>).</summary>
    public static string[] Fields(DatasetKind kind) => kind switch
    {
        DatasetKind.Problems => ["id", "problem", "difficulty"],
        DatasetKind.GradedProofs => ["problemId", "problem", "proof", "score"],
        DatasetKind.GradedAnalyses => ["problemId", "problem", "proof", "analysis", "score"],
        _ => ["kind", "prompt", "completion"],
    };

    static string Describe(DatasetKind kind) => kind switch
    {
        DatasetKind.Problems => "problems", DatasetKind.GradedProofs => "graded proofs", DatasetKind.GradedAnalyses => "graded analyses", _ => "demonstrations",
    };

    /// <summary>A score given as a number or in any spelling <see cref="Scores.Normalize"/> accepts.</summary>
    public static double? ScoreOf(JsonElement s) => s.ValueKind switch
    {
        JsonValueKind.Number => Scores.Normalize(s.GetRawText()),
        JsonValueKind.String => Scores.Normalize(s.GetString()!),
        _ => null,
    };
}

/// <summary>Train / validation split by a hash of the problem text, so one problem never lands on both sides.</summary>
public static class Splits
{
    public static bool IsValidation(string problem, double validationShare, string salt = "mathv2")
    {
        string normalized = string.Join(' ', problem.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).ToLowerInvariant();
        byte[] h = SHA256.HashData(Encoding.UTF8.GetBytes(salt + "\n" + normalized));
        double u = BitConverter.ToUInt64(h, 0) / (double)ulong.MaxValue;
        return u < validationShare;
    }
}
