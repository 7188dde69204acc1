using System.Text.Json;

namespace MathV2.Cli.Tests;

public sealed class DatasetCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("mathv2-ds-").FullName;

    async Task<(int Rc, string Out, string Err)> Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        try { return (await new Commands(StackLayout.ForRepository(_dir), o, e).RunAsync(args), o.ToString(), e.ToString()); }
        catch (CliException ex) { return (1, o.ToString(), ex.Message); }
    }

    [Fact]
    public async Task Import_maps_0_to_7_points_and_a_bad_map_is_a_usage_error_before_the_file_is_read()
    {
        string input = Path.Combine(_dir, "in.jsonl"), output = Path.Combine(_dir, "out.jsonl");
        await File.WriteAllTextAsync(input, "{\"q\":\"Prove A.\",\"p\":{\"proof\":\"ok\",\"pts\":6}}\n{\"q\":\"Prove A.\",\"p\":{\"proof\":\"ok\",\"pts\":6}}\n");
        var (rc, outText, err) = await Run("datasets", "import", "--in", input, "--problem-field", "q", "--proof-field", "p.proof", "--score-field", "p.pts",
            "--score-map", "7:1,5-6:0.5,0-4:0", "--out", output, "--json");
        Assert.True(rc == 0, err);
        var done = JsonDocument.Parse(outText).RootElement;
        Assert.Equal((2, 1, 1, 1), (done.GetProperty("read").GetInt32(), done.GetProperty("rows").GetInt32(), done.GetProperty("mapped").GetInt32(), done.GetProperty("duplicates").GetInt32()));
        Assert.Contains("\"score\":0.5", await File.ReadAllTextAsync(output));
        (rc, _, err) = await Run("datasets", "import", "--in", input, "--problem-field", "q", "--proof-field", "p.proof", "--score-field", "p.pts", "--score-map", "7:1,5-7:0.5");
        Assert.Equal(Commands.UsageError, rc);
        Assert.Contains("--score-map: the ranges of '7:1,5-7:0.5' overlap", err);
    }

    [Fact]
    public async Task Import_rejects_a_file_with_bad_rows_unless_asked_to_set_them_aside()
    {
        string input = Path.Combine(_dir, "in.jsonl"), output = Path.Combine(_dir, "out.jsonl");
        await File.WriteAllTextAsync(input, "{\"q\":\"Prove A.\",\"a\":\"ok\",\"s\":\"1/2\"}\n{\"q\":\"Prove B.\",\"a\":\"x\",\"s\":7}\n");
        var (rc, _, err) = await Run("datasets", "import", "--in", input, "--problem-field", "q", "--proof-field", "a", "--score-field", "s", "--out", output);
        Assert.Equal(1, rc);
        Assert.Contains("in.jsonl:2: s must be 0, 0.5 or 1", err);
        Assert.False(File.Exists(output));

        (rc, var json, _) = await Run("datasets", "import", "--in", input, "--problem-field", "q", "--proof-field", "a", "--score-field", "s", "--out", output, "--skip-invalid", "--json");
        Assert.Equal(0, rc);
        var doc = JsonDocument.Parse(json).RootElement;
        Assert.Equal((1, 1), (doc.GetProperty("rows").GetInt32(), doc.GetProperty("rejected").GetInt32()));
        Assert.Contains("\"score\":0.5", await File.ReadAllTextAsync(output));
        Assert.Contains("\"s\":7", await File.ReadAllTextAsync(output + ".rejected"));
    }

    [Fact]
    public async Task Demo_writes_the_four_datasets()
    {
        var (rc, json, _) = await Run("datasets", "demo", "--out", _dir, "--problems-per-difficulty", "4", "--json");
        Assert.Equal(0, rc);
        var rows = JsonDocument.Parse(json).RootElement.GetProperty("rows");
        Assert.Equal(8, rows.GetProperty("problems.jsonl").GetInt32());
        Assert.Equal(32, rows.GetProperty("graded-proofs.jsonl").GetInt32());
        Assert.True(File.Exists(Path.Combine(_dir, "demonstrations.jsonl")));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
