using System.Text;
using System.Text.Json;
using MathV2.Core.Datasets;

namespace MathV2.Core.Tests;

/// <summary>Imports of published layouts: nested fields, other score scales, duplicates, streams of any length.</summary>
public sealed class ImporterTests
{
    // The layout of the authors' published outputs: question, problem_idx, model_prediction {proof, average_automatic_rating, human_rating (0–7)}.
    static string Published(int idx, string proof, double auto, int human) => JsonSerializer.Serialize(new
    {
        question = $"Prove statement {idx}.", problem_idx = $"P{idx}",
        model_prediction = new { proof, average_automatic_rating = auto, human_rating = human },
    });

    static readonly FieldMapping Human = new()
    {
        ProblemField = "question", IdField = "problem_idx", ProofField = "model_prediction.proof", ScoreField = "model_prediction.human_rating",
        Scores = ScoreMapping.ParseMap("7:1,5-6:0.5,0-4:0"),
    };

    static List<GradedProofRow> Rows(string jsonl) => Jsonl.Read<GradedProofRow>(jsonl, "out.jsonl").Rows.ToList();

    [Fact]
    public void Points_on_a_0_to_7_scale_map_by_inclusive_ranges_and_an_unmapped_value_is_a_bad_row()
    {
        string input = string.Join("\n", Published(1, "A", 1, 7), Published(2, "B", 0.5, 6), Published(3, "C", 0.5, 5), Published(4, "D", 0, 4), Published(5, "E", 0, 0));
        var (jsonl, kind, summary) = DatasetImporter.Import(input, "imo.jsonl", Human);
        Assert.Equal(DatasetKind.GradedProofs, kind);
        Assert.Equal([1, 0.5, 0.5, 0, 0], Rows(jsonl).Select(r => r.Score));
        Assert.Equal(("P1", "Prove statement 1.", "A"), (Rows(jsonl)[0].ProblemId, Rows(jsonl)[0].Problem, Rows(jsonl)[0].Proof));
        Assert.Equal((5, 5, 5, 0), (summary.Read, summary.Kept, summary.Mapped, summary.Rejected));

        var e = Assert.Throws<DatasetException>(() => DatasetImporter.Import(input + "\n" + Published(6, "F", 1, 8), "imo.jsonl", Human));
        Assert.Equal("imo.jsonl:6: model_prediction.human_rating 8 is not in the score map 7:1,5-6:0.5,0-4:0", Assert.Single(e.Errors).ToString());
    }

    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(0.25, 0.0)]
    [InlineData(0.3, 0.5)]
    [InlineData(0.75, 0.5)]
    [InlineData(0.76, 1.0)]
    [InlineData(1.0, 1.0)]
    public void A_continuous_rating_rounds_to_the_nearest_score_ties_to_the_lower(double rating, double score)
    {
        var map = Human with { ScoreField = "model_prediction.average_automatic_rating", Scores = ScoreMapping.ParseScale("0-1") };
        var (jsonl, _, _) = DatasetImporter.Import(Published(1, "A", rating, 0), "auto.jsonl", map);
        Assert.Equal(score, Rows(jsonl).Single().Score);
    }

    [Fact]
    public void Bad_score_specs_are_refused_with_the_reason()
    {
        Assert.Contains("overlap", Assert.Throws<FormatException>(() => ScoreMapping.ParseMap("7:1,5-7:0.5")).Message);
        Assert.Contains("SCORE 0, 0.5 or 1", Assert.Throws<FormatException>(() => ScoreMapping.ParseMap("7:0.7")).Message);
        Assert.Contains("not a value or an inclusive range", Assert.Throws<FormatException>(() => ScoreMapping.ParseMap("6-5:1")).Message);
        Assert.Throws<FormatException>(() => ScoreMapping.ParseScale("1-1"));
        var scaled = Human with { ScoreField = "model_prediction.average_automatic_rating", Scores = ScoreMapping.ParseScale("0-1") };
        var e = Assert.Throws<DatasetException>(() => DatasetImporter.Import(Published(1, "A", 1.5, 0), "auto.jsonl", scaled));
        Assert.Contains("1.5 is outside the scale 0-1", e.Errors[0].Message);
        // Not a number is not a score, however it is spelled.
        var nan = Assert.Throws<DatasetException>(() => DatasetImporter.Import(Published(1, "A", 0, 0).Replace("\"average_automatic_rating\":0", "\"average_automatic_rating\":\"NaN\""), "auto.jsonl", scaled));
        Assert.Contains("'NaN' is not a number", nan.Errors[0].Message);
        Assert.Throws<FormatException>(() => ScoreMapping.ParseMap(":1"));
        Assert.Throws<FormatException>(() => ScoreMapping.ParseScale("0-Infinity"));
    }

    [Fact]
    public async Task Line_numbers_count_blank_lines_and_an_endless_line_is_a_bad_row_not_a_string_in_memory()
    {
        var e = Assert.Throws<DatasetException>(() => DatasetImporter.Import("\n\n" + Published(1, "A", 1, 7) + "\n{\"question\": 1}\n", "x.jsonl", Human));
        Assert.StartsWith("x.jsonl:4: ", e.Errors[0].ToString());
        var lines = new List<(int, string?)>();
        await foreach (var l in Jsonl.LinesAsync(new StringReader("short\r\n" + new string('x', 100) + "\nlast"), maxChars: 50)) lines.Add(l);
        Assert.Equal([(1, "short"), (2, null), (3, "last")], lines);
    }

    [Fact]
    public async Task Exact_duplicates_are_dropped_and_counted_and_bad_rows_are_kept_aside_as_they_were()
    {
        string bad = "{\"question\": \"Q\"}";
        string input = string.Join("\n", Published(1, "A", 1, 7), Published(1, "A", 1, 7), Published(1, "A2", 1, 7), bad, "not json");
        using var source = new MemoryStream(Encoding.UTF8.GetBytes(input));
        using var output = new MemoryStream();
        using var rejected = new MemoryStream();
        var summary = await DatasetImporter.ImportAsync(source, "x.jsonl", Human, output, rejected, skipInvalid: true);
        Assert.Equal((5, 2, 1, 2), (summary.Read, summary.Kept, summary.Duplicates, summary.Rejected));
        Assert.Equal(["A", "A2"], Rows(Encoding.UTF8.GetString(output.ToArray())).Select(r => r.Proof));
        Assert.Equal($"{bad}\nnot json\n", Encoding.UTF8.GetString(rejected.ToArray()));
        Assert.Contains(summary.Errors, e => e.ToString() == "x.jsonl:4: problem_idx was not found in the row");
    }

    [Fact]
    public async Task A_million_rows_stream_through_and_a_json_array_is_read_element_by_element()
    {
        const int n = 1_000_000;
        using var source = new GeneratedRows(n);
        var counting = new CountingStream();
        var summary = await DatasetImporter.ImportAsync(source, "big.jsonl", new FieldMapping { ProblemField = "q" }, counting);
        Assert.Equal((n, n - n / 10, n / 10), (summary.Read, summary.Kept, summary.Duplicates));
        Assert.True(counting.Lines == summary.Kept, $"{counting.Lines} lines written");

        string array = "[" + string.Join(",", Enumerable.Range(0, 5).Select(i => $"{{\"q\": \"Q{i}\"}}")) + ", 3]";
        var e = Assert.Throws<DatasetException>(() => DatasetImporter.Import(array, "a.json", new FieldMapping { ProblemField = "q" }));
        Assert.Equal("a.json:6: (row) is not a JSON object", Assert.Single(e.Errors).ToString());
    }

    /// <summary>n JSONL rows made as they are read (every tenth repeats the one before it): never a whole file anywhere.</summary>
    sealed class GeneratedRows(int n) : Stream
    {
        int _row;
        byte[] _pending = [];
        int _at;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_at == _pending.Length)
            {
                if (_row == n) return 0;
                int k = _row % 10 == 9 ? _row - 1 : _row;
                _pending = Encoding.UTF8.GetBytes($"{{\"q\": \"Prove claim {k}.\"}}\n");
                _at = 0;
                _row++;
            }
            int m = Math.Min(count, _pending.Length - _at);
            Array.Copy(_pending, _at, buffer, offset, m);
            _at += m;
            return m;
        }
    }

    /// <summary>Counts the lines written to it and keeps nothing.</summary>
    sealed class CountingStream : Stream
    {
        public long Lines { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => 0;
        public override long Position { get => 0; set { } }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => 0;
        public override void SetLength(long value) { }
        public override void Write(byte[] buffer, int offset, int count)
        {
            for (int i = offset; i < offset + count; i++) if (buffer[i] == '\n') Lines++;
        }
    }
}
