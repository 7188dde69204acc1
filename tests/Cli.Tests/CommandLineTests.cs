using System.CommandLine;

namespace MathV2.Cli.Tests;

/// <summary>The command line itself: help everywhere, and usage errors (exit 2) that name the option, before any work.</summary>
public sealed class CommandLineTests
{
    // No stack runs for these tests: a command that got past parsing would fail with "the local stack is not up".
    static readonly StackLayout Layout = StackLayout.ForRepository(Path.Combine(Path.GetTempPath(), "mathv2-no-stack-" + Guid.NewGuid().ToString("N")[..8]));

    static async Task<(int Rc, string Out, string Err)> Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int rc = await new Commands(Layout, o, e, new StringReader("")).RunAsync(args);
        return (rc, o.ToString(), e.ToString());
    }

    /// <summary>Every command path of the tree: "up", "lap", "lap start", …</summary>
    static IEnumerable<(string[] Path, Command Command)> Walk(Command c, string[] path)
    {
        foreach (var sub in c.Subcommands)
        {
            string[] p = [.. path, sub.Name];
            yield return (p, sub);
            foreach (var x in Walk(sub, p)) yield return x;
        }
    }

    [Fact]
    public async Task Every_command_and_subcommand_has_help_with_its_options()
    {
        var root = new Commands(Layout, TextWriter.Null, TextWriter.Null).Root();
        var all = Walk(root, []).ToList();
        Assert.True(all.Count >= 35, $"only {all.Count} commands");
        foreach (var (path, command) in all)
        {
            Assert.False(string.IsNullOrWhiteSpace(command.Description), $"{string.Join(" ", path)} has no description");
            var (rc, output, err) = await Run([.. path, "--help"]);
            Assert.True(rc == 0, $"{string.Join(" ", path)} --help: {rc} {err}");
            Assert.Contains(command.Description!, output);
            Assert.Contains("Usage:", output);
            foreach (var option in command.Options)
            {
                Assert.False(string.IsNullOrWhiteSpace(option.Description), $"{string.Join(" ", path)} {option.Name} has no description");
                Assert.Contains(option.Name, output);
            }
        }
    }

    [Fact]
    public async Task No_arguments_print_the_commands_and_fail()
    {
        var (rc, output, _) = await Run();
        Assert.Equal(1, rc);
        Assert.Contains("lap", output);
        Assert.Contains("bench", output);
        Assert.Equal(0, (await Run("help")).Rc);
    }

    [Theory]
    [InlineData("--size", "0", "between 1 and 16384, not '0'")]
    [InlineData("--size", "big", "not 'big'")]
    [InlineData("--size", "100000", "not '100000'")]
    [InlineData("--jobs", "-1", "--jobs must be a whole number")]
    [InlineData("--min-seconds", "soon", "--min-seconds must be a number")]
    public async Task Out_of_range_and_mistyped_values_name_the_option(string option, string value, string message)
    {
        var (rc, output, err) = await Run("probe", option, value);
        Assert.Equal(Commands.UsageError, rc);
        Assert.Contains(message, err);
        Assert.Contains("usage: mathv2 probe --help", err);
        Assert.Equal("", output);
    }

    [Theory]
    [InlineData(new[] { "frobnicate" }, "'frobnicate'")]
    [InlineData(new[] { "lap", "list", "--colour", "red" }, "'--colour'")]
    [InlineData(new[] { "lap", "restart", "lap-1", "--from-phase", "5" }, "--from-phase must be one of 1a, 1b, 1c, 1d, 2, 3, 4, not '5'")]
    [InlineData(new[] { "lap", "restart", "lap-1" }, "--from-phase")]
    [InlineData(new[] { "lap", "start", "--spec", "/no/such/spec.json" }, "--spec: no such file")]
    [InlineData(new[] { "lap", "start", "--annotator", "robot" }, "--annotator must be one of oracle, http, not 'robot'")]
    [InlineData(new[] { "instances", "show" }, "Required argument")]
    [InlineData(new[] { "instances", "explode", "x" }, "'explode'")]
    [InlineData(new[] { "annotations", "submit", "lap-1", "b-1" }, "--in")]
    [InlineData(new[] { "flywheel", "start", "--laps", "0" }, "--laps must be a whole number between 1 and 100")]
    [InlineData(new[] { "datasets", "import", "--in", "/no/such.jsonl", "--problem-field", "q" }, "--in: no such file")]
    [InlineData(new[] { "datasets", "demo", "--out", "/tmp/x", "--prompts", "fancy" }, "--prompts must be one of standard, compact")]
    [InlineData(new[] { "bench", "bootstrap", "--tokenizers", "char,bpe" }, "'bpe' is not one of char, words")]
    [InlineData(new[] { "bench", "api", "--clients", "0" }, "--clients")]
    [InlineData(new[] { "up", "--workers", "99" }, "--workers")]
    public async Task Usage_errors_are_reported_before_any_work(string[] args, string message)
    {
        var (rc, _, err) = await Run(args);
        Assert.Equal(Commands.UsageError, rc);
        Assert.Contains(message, err);
        Assert.DoesNotContain("stack is not up", err);
    }

    [Fact]
    public async Task A_well_formed_command_gets_past_parsing_to_its_own_errors()
    {
        // Parsed fine; it then needs the stack, which is not up here.
        var e = await Assert.ThrowsAsync<CliException>(() => Run("lap", "show", "lap-1", "--json"));
        Assert.Contains("stack is not up", e.Message);
    }

    [Theory]
    [InlineData(new double[] { 5 }, 50, 5)]
    [InlineData(new double[] { 1, 2, 3, 4 }, 50, 2.5)]
    [InlineData(new double[] { 10, 20, 30, 40, 50 }, 95, 48)]
    public void Percentiles_interpolate(double[] values, double p, double expected) =>
        Assert.Equal(expected, Commands.Percentile([.. values], p), 6);

    [Fact]
    public void The_stack_connection_string_points_at_its_own_azurite_ports()
    {
        var layout = StackLayout.ForRepository("/repo") with { AzuritePort = 20000 };
        Assert.Contains("BlobEndpoint=http://127.0.0.1:20000/", layout.StorageConnectionString);
        Assert.Contains("QueueEndpoint=http://127.0.0.1:20001/", layout.StorageConnectionString);
        Assert.Contains("TableEndpoint=http://127.0.0.1:20002/", layout.StorageConnectionString);
    }
}
