using System.Text;
using System.Text.Json;

namespace MathV2.Core.Datasets;

/// <summary>A bad row: where it is and what is wrong with it.</summary>
public sealed record DatasetError(string File, int Line, string Field, string Message)
{
    public override string ToString() => $"{File}:{Line}: {Field} {Message}";
}

/// <summary>The rows read, and the rows set aside (only when skipping was asked for).</summary>
public sealed record DatasetReadResult<T>
{
    public required IReadOnlyList<T> Rows { get; init; }
    public required IReadOnlyList<DatasetError> Errors { get; init; }
    /// <summary>The raw text of every rejected row, kept so nothing is silently dropped.</summary>
    public required IReadOnlyList<string> RejectedLines { get; init; }
}

/// <summary>A streamed validation: good rows, the first bad ones, and how many bad ones there were in all.</summary>
public sealed record DatasetValidation(int Rows, IReadOnlyList<DatasetError> Errors, int ErrorCount);

/// <summary>Thrown when a dataset has bad rows and skipping was not asked for; names every bad row.</summary>
public sealed class DatasetException(IReadOnlyList<DatasetError> errors) : Exception
{
    public IReadOnlyList<DatasetError> Errors { get; } = errors;
    /// <summary>How many bad rows there were (Errors may list only the first ones).</summary>
    public int Total { get; init; } = errors.Count;

    public override string Message => $"dataset rejected: {Total} bad row(s); first: {Errors[0]}" + (Total > 1 ? $" (and {Total - 1} more)" : "");
}

/// <summary>JSONL readers and writers for D_p, D_v, D_mv and demonstrations, with schema validation.</summary>
public static class Jsonl
{
    public static DatasetKind KindOf<T>() =>
        typeof(T) == typeof(ProblemRow) ? DatasetKind.Problems :
        typeof(T) == typeof(GradedProofRow) ? DatasetKind.GradedProofs :
        typeof(T) == typeof(GradedAnalysisRow) ? DatasetKind.GradedAnalyses :
        typeof(T) == typeof(DemonstrationRow) ? DatasetKind.Demonstrations :
        throw new ArgumentException($"{typeof(T).Name} is not a dataset row type");

    /// <summary>
    /// Reads and validates every line. Any bad row rejects the whole dataset (<see cref="DatasetException"/>)
    /// unless <paramref name="skipInvalid"/>; then bad rows are counted and kept aside in the result.
    /// </summary>
    public static DatasetReadResult<T> Read<T>(string text, string fileName, bool skipInvalid = false)
    {
        var kind = KindOf<T>();
        var rows = new List<T>();
        var errors = new List<DatasetError>();
        var rejected = new List<string>();
        foreach (var (lineNo, row, l) in Lines(text, fileName, errors, rejected))
        {
            var problems = DatasetSchema.Validate(kind, row).ToList();
            if (problems.Count > 0)
            {
                errors.AddRange(problems.Select(p => new DatasetError(fileName, lineNo, p.Field, p.Message)));
                rejected.Add(l);
                continue;
            }
            rows.Add(Convert<T>(kind, row));
        }
        if (errors.Count > 0 && !skipInvalid) throw new DatasetException(errors);
        return new DatasetReadResult<T> { Rows = rows, Errors = errors, RejectedLines = rejected };
    }

    /// <summary>The longest row a streamed reader takes (a file without newlines must not become one string).</summary>
    public const int MaxLineChars = 16 << 20;

    /// <summary>
    /// The lines of a stream with 1-based numbers, read in blocks; a line longer than <paramref name="maxChars"/> is
    /// given as null (skipped to its end, never held whole).
    /// </summary>
    public static async IAsyncEnumerable<(int Line, string? Text)> LinesAsync(TextReader reader, int maxChars = MaxLineChars,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        var buffer = new char[1 << 16];
        var line = new StringBuilder();
        bool tooLong = false;
        int lineNo = 0, n;
        while ((n = await reader.ReadAsync(buffer.AsMemory(), ct)) > 0)
        {
            int from = 0;
            for (int i = 0; i < n; i++)
            {
                if (buffer[i] != '\n') continue;
                if (!tooLong && line.Length + (i - from) > maxChars + 1) tooLong = true;   // + 1: a trailing '\r'
                if (!tooLong) line.Append(buffer, from, i - from);
                lineNo++;
                yield return (lineNo, tooLong ? null : line.ToString().TrimEnd('\r'));
                line.Clear();
                tooLong = false;
                from = i + 1;
            }
            if (!tooLong)
            {
                line.Append(buffer, from, n - from);
                if (line.Length > maxChars) { tooLong = true; line.Clear(); }
            }
        }
        if (line.Length > 0 || tooLong) yield return (lineNo + 1, tooLong ? null : line.ToString().TrimEnd('\r'));
    }

    /// <summary>
    /// Validates a JSONL stream row by row (never holding it whole): the rows of the schema, the first
    /// <paramref name="maxErrors"/> bad rows and how many there were.
    /// </summary>
    public static async Task<DatasetValidation> ValidateAsync(Stream s, string fileName, DatasetKind kind, CancellationToken ct = default, int maxErrors = 100)
    {
        using var reader = new StreamReader(s, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        int rows = 0, errorCount = 0;
        var errors = new List<DatasetError>();
        void Error(IEnumerable<DatasetError> es) { errorCount++; foreach (var e in es) if (errors.Count < maxErrors) errors.Add(e); }
        await foreach (var (lineNo, l) in LinesAsync(reader, MaxLineChars, ct))
        {
            if (l is null) { Error([new DatasetError(fileName, lineNo, "(row)", $"is longer than {MaxLineChars} characters")]); continue; }
            if (string.IsNullOrWhiteSpace(l)) continue;
            List<(string Field, string Message)> problems;
            try { using var doc = JsonDocument.Parse(l); problems = DatasetSchema.Validate(kind, doc.RootElement).ToList(); }
            catch (JsonException e) { problems = [("(row)", $"is not valid JSON: {e.Message.Split(" Path:")[0]}")]; }
            if (problems.Count == 0) { rows++; continue; }
            Error(problems.Select(p => new DatasetError(fileName, lineNo, p.Field, p.Message)));
        }
        return new DatasetValidation(rows, errors, errorCount);
    }

    /// <summary>
    /// Copies the good rows of a JSONL stream to <paramref name="good"/> and the bad lines to <paramref name="rejected"/>,
    /// line by line: what --skip-invalid keeps and sets aside.
    /// </summary>
    public static async Task<DatasetValidation> FilterAsync(Stream input, string fileName, DatasetKind kind, Stream good, Stream rejected, CancellationToken ct = default, int maxErrors = 100)
    {
        using var reader = new StreamReader(input, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        await using var keep = new StreamWriter(good, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
        await using var aside = new StreamWriter(rejected, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
        int rows = 0, errorCount = 0;
        var errors = new List<DatasetError>();
        await foreach (var (lineNo, l) in LinesAsync(reader, MaxLineChars, ct))
        {
            if (l is null)
            {
                errorCount++;
                if (errors.Count < maxErrors) errors.Add(new DatasetError(fileName, lineNo, "(row)", $"is longer than {MaxLineChars} characters (not kept)"));
                continue;
            }
            if (string.IsNullOrWhiteSpace(l)) continue;
            List<(string Field, string Message)> problems;
            try { using var doc = JsonDocument.Parse(l); problems = DatasetSchema.Validate(kind, doc.RootElement).ToList(); }
            catch (JsonException e) { problems = [("(row)", $"is not valid JSON: {e.Message.Split(" Path:")[0]}")]; }
            if (problems.Count == 0) { rows++; await keep.WriteLineAsync(l); continue; }
            errorCount++;
            if (errors.Count < maxErrors) errors.AddRange(problems.Select(p => new DatasetError(fileName, lineNo, p.Field, p.Message)));
            await aside.WriteLineAsync(l);
        }
        return new DatasetValidation(rows, errors, errorCount);
    }

    /// <summary>
    /// The non-blank lines of a JSONL text parsed as JSON, with their 1-based line numbers. A line that is not JSON is
    /// added to <paramref name="errors"/> (and its text to <paramref name="rejected"/>) and skipped.
    /// </summary>
    public static IEnumerable<(int Line, JsonElement Row, string Text)> Lines(string text, string fileName, List<DatasetError> errors, List<string>? rejected = null)
    {
        int lineNo = 0;
        foreach (string raw in text.Split('\n'))
        {
            lineNo++;
            string l = raw.TrimEnd('\r');
            if (string.IsNullOrWhiteSpace(l)) continue;
            JsonElement row;
            try { row = JsonDocument.Parse(l).RootElement.Clone(); }
            catch (JsonException e)
            {
                errors.Add(new DatasetError(fileName, lineNo, "(row)", $"is not valid JSON: {e.Message.Split(" Path:")[0]}"));
                rejected?.Add(l);
                continue;
            }
            yield return (lineNo, row, l);
        }
    }

    /// <summary>Records the product wrote itself (samples, decisions, items), one JSON object per non-blank line.</summary>
    public static List<T> Records<T>(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !string.IsNullOrWhiteSpace(l)).Select(l => Json.Deserialize<T>(l)).ToList();

    public static string Write<T>(IEnumerable<T> rows)
    {
        var sb = new StringBuilder();
        foreach (var r in rows) sb.Append(JsonSerializer.Serialize(r, Json.Options)).Append('\n');
        return sb.ToString();
    }

    static T Convert<T>(DatasetKind kind, JsonElement row)
    {
        if (kind is DatasetKind.GradedProofs or DatasetKind.GradedAnalyses)
        {
            // Scores may be spelled "1/2"; store the normalised number.
            var obj = System.Text.Json.Nodes.JsonNode.Parse(row.GetRawText())!.AsObject();
            obj["score"] = DatasetSchema.ScoreOf(row.GetProperty("score"));
            return obj.Deserialize<T>(Json.Options)!;
        }
        return row.Deserialize<T>(Json.Options)!;
    }
}
