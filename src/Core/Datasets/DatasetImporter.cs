using System.Globalization;
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
    /// <summary>How a foreign score becomes 0, 0.5 or 1; null: it must already be one (in any accepted spelling).</summary>
    public ScoreMapping? Scores { get; init; }

    /// <summary>What the mapping can produce: D_mv with an analysis, D_v with a proof and score, else D_p.</summary>
    public DatasetKind Kind =>
        AnalysisField != null ? DatasetKind.GradedAnalyses :
        ProofField != null && ScoreField != null ? DatasetKind.GradedProofs :
        DatasetKind.Problems;
}

/// <summary>
/// A foreign score scale mapped onto the method's 0, 0.5, 1: points by inclusive ranges ("7:1,5-6:0.5,0-4:0": on a 0–7
/// scale, 7 is 1, 5 and 6 are 0.5, 0 to 4 are 0), or a continuous rating on [lo, hi] rounded to the nearest score,
/// ties to the lower one (a rating halfway between 0.5 and 1 is 0.5: rounding never raises a grade).
/// </summary>
public sealed record ScoreMapping
{
    public IReadOnlyList<(double Lo, double Hi, double Score)> Ranges { get; init; } = [];
    public (double Lo, double Hi)? Scale { get; init; }
    public string Spec { get; init; } = "";

    /// <exception cref="FormatException">The spec is not "V:S" or "LO-HI:S" items with S one of 0, 0.5, 1.</exception>
    public static ScoreMapping ParseMap(string spec)
    {
        var ranges = new List<(double, double, double)>();
        foreach (string item in spec.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = item.Split(':');
            if (parts.Length != 2 || Method.Scores.Normalize(parts[1]) is not { } score)
                throw new FormatException($"'{item}' is not VALUE:SCORE or LO-HI:SCORE with SCORE 0, 0.5 or 1");
            var (lo, hi) = Range(parts[0], item);
            ranges.Add((lo, hi, score));
        }
        if (ranges.Count == 0) throw new FormatException("the score map is empty");
        for (int i = 0; i < ranges.Count; i++)
            for (int j = i + 1; j < ranges.Count; j++)
                if (ranges[i].Item1 <= ranges[j].Item2 && ranges[j].Item1 <= ranges[i].Item2)
                    throw new FormatException($"the ranges of '{spec}' overlap ({Show(ranges[i])} and {Show(ranges[j])})");
        return new ScoreMapping { Ranges = ranges, Spec = spec };
    }

    /// <exception cref="FormatException">Not "LO-HI" with LO &lt; HI.</exception>
    public static ScoreMapping ParseScale(string spec)
    {
        var (lo, hi) = Range(spec, spec);
        if (hi <= lo) throw new FormatException($"'{spec}' is not a scale LO-HI with LO < HI");
        return new ScoreMapping { Scale = (lo, hi), Spec = spec };
    }

    /// <summary>The method's score for a foreign one, or why there is none.</summary>
    public (double? Score, string? Error) Map(string raw)
    {
        if (!double.TryParse(raw.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            return (null, $"'{raw}' is not a number");
        if (Scale is var (lo, hi))
        {
            if (v < lo || v > hi) return (null, $"{raw} is outside the scale {Spec}");
            double r = (v - lo) / (hi - lo);
            return (r <= 0.25 ? 0 : r <= 0.75 ? 0.5 : 1, null);
        }
        foreach (var (l, h, s) in Ranges)
            if (v >= l && v <= h) return (s, null);
        return (null, $"{raw} is not in the score map {Spec}");
    }

    static (double, double) Range(string text, string item)
    {
        // "5-6", "7", "-1--0.5" are not all sensible; a range is two non-negative numbers or one number.
        int dash = text.Length > 1 ? text.IndexOf('-', 1) : -1;
        string a = dash < 0 ? text : text[..dash], b = dash < 0 ? text : text[(dash + 1)..];
        if (!double.TryParse(a, NumberStyles.Float, CultureInfo.InvariantCulture, out double lo) || !double.TryParse(b, NumberStyles.Float, CultureInfo.InvariantCulture, out double hi)
            || !double.IsFinite(lo) || !double.IsFinite(hi) || hi < lo)
            throw new FormatException($"'{item}': '{text}' is not a value or an inclusive range LO-HI");
        return (lo, hi);
    }

    static string Show((double Lo, double Hi, double) r) => r.Lo == r.Hi ? $"{r.Lo}" : $"{r.Lo}-{r.Hi}";
}

/// <summary>What an import read, kept, mapped, dropped as duplicates and rejected.</summary>
public sealed record ImportSummary
{
    public required DatasetKind Kind { get; init; }
    public int Read { get; init; }
    public int Kept { get; init; }
    /// <summary>Rows whose score went through the score map or scale.</summary>
    public int Mapped { get; init; }
    /// <summary>Exact duplicates dropped (same problem and proof, and analysis for rated analyses; the first is kept).</summary>
    public int Duplicates { get; init; }
    public int Rejected { get; init; }
    /// <summary>The first bad rows (file:line: field message).</summary>
    public IReadOnlyList<DatasetError> Errors { get; init; } = [];
}

/// <summary>Imports problem sets, graded proofs and rated analyses from other JSONL / JSON-array layouts by field mapping.</summary>
public static class DatasetImporter
{
    const int MaxErrors = 100;

    /// <summary>
    /// Streams rows from <paramref name="input"/> (JSONL, or a JSON array read element by element) to MathV2 JSONL in
    /// <paramref name="output"/>; bad rows go to <paramref name="rejected"/> as they were. With bad rows and no
    /// <paramref name="skipInvalid"/> it throws <see cref="DatasetException"/> after reading all (the caller discards the output).
    /// </summary>
    public static async Task<ImportSummary> ImportAsync(Stream input, string fileName, FieldMapping map, Stream output, Stream? rejected = null,
        bool skipInvalid = false, CancellationToken ct = default)
    {
        if (map.Kind == DatasetKind.Problems && (map.ProofField != null || map.ScoreField != null))
            throw new ArgumentException("graded proofs need both --proof-field and --score-field");
        if (map.Scores != null && map.ScoreField == null) throw new ArgumentException("a score map needs --score-field");
        await using var writer = new StreamWriter(output, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
        await using var aside = rejected == null ? null : new StreamWriter(rejected, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
        var errors = new List<DatasetError>();
        var seen = new HashSet<UInt128>();
        int read = 0, kept = 0, mapped = 0, duplicates = 0, bad = 0;
        await foreach (var (line, raw, node) in RecordsAsync(input, fileName, ct))
        {
            read++;
            JsonObject? o = null;
            bool wasMapped = false;
            var problems = node is JsonObject obj ? Row(obj, map, out o, out wasMapped) : [("(row)", "is not a JSON object")];
            if (problems.Count > 0)
            {
                bad++;
                foreach (var (f, m) in problems) if (errors.Count < MaxErrors) errors.Add(new DatasetError(fileName, line, f, m));
                if (aside != null) await aside.WriteLineAsync(raw);
                continue;
            }
            if (!seen.Add(Key(o!, map.Kind))) { duplicates++; continue; }
            if (wasMapped) mapped++;
            kept++;
            await writer.WriteLineAsync(o!.ToJsonString());
        }
        if (bad > 0 && !skipInvalid) throw new DatasetException(errors) { Total = bad };
        return new ImportSummary { Kind = map.Kind, Read = read, Kept = kept, Mapped = mapped, Duplicates = duplicates, Rejected = bad, Errors = errors };
    }

    /// <summary>An in-memory import (tests, small files): the JSONL, its kind and what was read.</summary>
    public static (string Jsonl, DatasetKind Kind, ImportSummary Summary) Import(string text, string fileName, FieldMapping map, bool skipInvalid = false)
    {
        using var input = new MemoryStream(Encoding.UTF8.GetBytes(text));
        using var output = new MemoryStream();
        var summary = ImportAsync(input, fileName, map, output, null, skipInvalid).GetAwaiter().GetResult();
        return (Encoding.UTF8.GetString(output.ToArray()), map.Kind, summary);
    }

    /// <summary>The MathV2 row of a foreign one, or its problems (field names as the mapping names them).</summary>
    static List<(string Field, string Message)> Row(JsonObject node, FieldMapping map, out JsonObject? row, out bool wasMapped)
    {
        row = null;
        wasMapped = false;
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
        if (missing.Count > 0) return missing.Select(f => (f, "was not found in the row")).ToList();
        var o = new JsonObject();
        double? mappedScore = null;
        if (map.Kind == DatasetKind.Problems) { o["id"] = id; o["problem"] = problem; }
        else
        {
            if (map.Scores != null)
            {
                var (s, error) = map.Scores.Map(score!);
                if (error != null) return [(map.ScoreField!, error)];
                mappedScore = s;
            }
            o["problemId"] = id; o["problem"] = problem; o["proof"] = proof;
            if (analysis != null) o["analysis"] = analysis;
            o["score"] = mappedScore ?? (JsonNode?)score;
        }
        using (var doc = JsonDocument.Parse(o.ToJsonString()))
        {
            var problems = DatasetSchema.Validate(map.Kind, doc.RootElement).Select(p => (MappedName(map, p.Field), p.Message)).ToList();
            if (problems.Count > 0) return problems;
        }
        if (mappedScore == null && score != null)
            using (var scoreDoc = JsonDocument.Parse(JsonSerializer.Serialize(score))) o["score"] = DatasetSchema.ScoreOf(scoreDoc.RootElement);
        wasMapped = mappedScore != null;
        row = o;
        return [];
    }

    /// <summary>What makes two rows the same: problem and proof (and analysis), hashed.</summary>
    static UInt128 Key(JsonObject o, DatasetKind kind)
    {
        string text = kind switch
        {
            DatasetKind.Problems => (string)o["problem"]!,
            DatasetKind.GradedProofs => $"{(string)o["problem"]!}\u0000{(string)o["proof"]!}",
            _ => $"{(string)o["problem"]!}\u0000{(string)o["proof"]!}\u0000{(string)o["analysis"]!}",
        };
        var h = SHA256.HashData(Encoding.UTF8.GetBytes(text));
        return new UInt128(BitConverter.ToUInt64(h, 0), BitConverter.ToUInt64(h, 8));
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

    /// <summary>
    /// JSONL (one object per line, 1-based line numbers) or a JSON array of objects (numbered by position), read as a
    /// stream. A line that is not JSON yields a null node (a bad row).
    /// </summary>
    static async IAsyncEnumerable<(int Line, string Raw, JsonNode? Node)> RecordsAsync(Stream input, string fileName,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        // The first byte that is not blank (or a BOM) tells a JSON array from JSONL; the bytes read to find it are kept.
        var buffered = new BufferedStream(input, 1 << 16);
        var head = new List<byte>();
        int first;
        while ((first = buffered.ReadByte()) >= 0)
        {
            head.Add((byte)first);
            if (first is not (' ' or '\t' or '\r' or '\n' or 0xEF or 0xBB or 0xBF)) break;
        }
        var rest = new PrefixedStream([.. head], buffered);
        if (first == '[')
        {
            int i = 0;
            await using var e = JsonSerializer.DeserializeAsyncEnumerable<JsonNode>(rest, cancellationToken: ct).GetAsyncEnumerator(ct);
            while (true)
            {
                bool more;
                try { more = await e.MoveNextAsync(); }
                catch (JsonException ex) { throw new DatasetException([new DatasetError(fileName, i + 1, "(file)", $"is not a valid JSON array: {ex.Message.Split(" Path:")[0]}")]); }
                if (!more) yield break;
                i++;
                yield return (i, e.Current?.ToJsonString() ?? "null", e.Current);
            }
        }
        using var reader = new StreamReader(rest, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        await foreach (var (n, l) in Jsonl.LinesAsync(reader, Jsonl.MaxLineChars, ct))
        {
            if (l is null) { yield return (n, $"(line {n}: longer than {Jsonl.MaxLineChars} characters)", null); continue; }
            if (string.IsNullOrWhiteSpace(l)) continue;
            JsonNode? node = null;
            try { node = JsonNode.Parse(l); } catch (JsonException) { }
            yield return (n, l, node);
        }
    }

    /// <summary>Some bytes already read, then the rest of the stream.</summary>
    sealed class PrefixedStream(byte[] prefix, Stream rest) : ReadOnlyStream
    {
        int _at;

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_at < prefix.Length) { int n = Math.Min(count, prefix.Length - _at); Array.Copy(prefix, _at, buffer, offset, n); _at += n; return n; }
            return rest.Read(buffer, offset, count);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            if (_at < prefix.Length) { int n = Math.Min(buffer.Length, prefix.Length - _at); prefix.AsMemory(_at, n).CopyTo(buffer); _at += n; return n; }
            return await rest.ReadAsync(buffer, ct);
        }
    }
}
