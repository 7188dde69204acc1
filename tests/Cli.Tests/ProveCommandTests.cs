using System.Reflection;

namespace MathV2.Cli.Tests;

/// <summary>`mathv2 prove` refuses bad problems and a missing source before it calls the API.</summary>
public sealed class ProveCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("mathv2-provecli-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    static string Meta(string key) => typeof(ProveCommandTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    async Task<(int Rc, string Err)> Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        var layout = StackLayout.ForRepository(Meta("RepoRoot"), Meta("Configuration"));
        try { return (await new Commands(layout, o, e, new StringReader("")).RunAsync(args), e.ToString()); }
        catch (CliException ex) { return (1, ex.Message); }
    }

    [Fact]
    public async Task A_bad_problems_file_or_no_problem_source_is_refused_naming_what_is_wrong()
    {
        string file = Path.Combine(_dir, "problems.jsonl");
        await File.WriteAllTextAsync(file, "{\"id\": \"p1\", \"problem\": \"Prove it.\"}\n{\"id\": \"p2\", \"problme\": \"typo\"}\n");
        var (rc, err) = await Run("prove", "--problems", file, "--generator", "g", "--verifier", "v");
        Assert.Equal(1, rc);
        Assert.Contains("problems.jsonl", err);
        Assert.Contains("problems.jsonl:2: problme", err);   // file, line, field
        Assert.Contains("problme", err);

        (rc, err) = await Run("prove", "--generator", "g", "--verifier", "v");
        Assert.Equal(1, rc);
        Assert.Contains("--problems FILE or --artifact ID", err);
        (rc, err) = await Run("prove", "--problems", file, "--artifact", "a", "--generator", "g", "--verifier", "v");
        Assert.Equal(1, rc);
        (rc, err) = await Run("prove", "--problems", Path.Combine(_dir, "missing.jsonl"), "--generator", "g", "--verifier", "v");
        Assert.Equal(2, rc);   // a usage error: the file does not exist
    }
}
