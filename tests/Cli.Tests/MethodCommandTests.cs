using System.Text.Json;

namespace MathV2.Cli.Tests;

public sealed class MethodCommandTests
{
    static async Task<(int Rc, string Out)> Run(string input, params string[] args) => (await RunWithErrors(input, args)) is var r ? (r.Rc, r.Out) : default;

    static async Task<(int Rc, string Out, string Err)> RunWithErrors(string input, params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int rc = await new Commands(StackLayout.ForRepository(Path.GetTempPath()), o, e, new StringReader(input)).RunAsync(args);
        return (rc, o.ToString(), e.ToString());
    }

    [Fact]
    public async Task Method_parse_prints_what_the_parser_extracts()
    {
        var (rc, output) = await Run("## Solution\nx\n## Self Evaluation\nHere is my evaluation of the solution: ok. Based on my evaluation, the final overall score should be: \\boxed{\\frac{1}{2}}",
            "method", "parse", "--kind", "generation", "--json");
        Assert.Equal(0, rc);
        var doc = JsonDocument.Parse(output).RootElement;
        Assert.Equal(0.5, doc.GetProperty("selfScore").GetDouble());
        Assert.Equal("x", doc.GetProperty("proof").GetString());
    }

    [Fact]
    public async Task Method_parse_exits_2_with_the_reason_for_a_rejected_output()
    {
        var (rc, output) = await Run("no phrases \\boxed{0.3}", "method", "parse", "--kind", "verification", "--json");
        Assert.Equal(2, rc);
        Assert.Equal("invalidScore", JsonDocument.Parse(output).RootElement.GetProperty("failure").GetString());
        var poem = await RunWithErrors("", "method", "parse", "--kind", "poem");
        Assert.Equal(Commands.UsageError, poem.Rc);
        Assert.Contains("--kind must be one of verification, meta, generation, not 'poem'", poem.Err);
    }

    [Fact]
    public async Task Bench_consensus_reports_fixed_and_adaptive_side_by_side()
    {
        var (rc, output) = await Run("", "bench", "consensus", "--proofs", "400", "--json");
        Assert.Equal(0, rc);
        var doc = JsonDocument.Parse(output).RootElement;
        double fixedSamples = doc.GetProperty("fixed").GetProperty("samples").GetDouble();
        double adaptiveSamples = doc.GetProperty("adaptive").GetProperty("samples").GetDouble();
        Assert.True(adaptiveSamples < fixedSamples);
        Assert.Equal(doc.GetProperty("fixed").GetProperty("agreement").GetDouble(), doc.GetProperty("adaptive").GetProperty("agreement").GetDouble());
        // The consensus options' own cross-field rule (k <= n) is a usage error naming the option.
        var bad = await RunWithErrors("", "bench", "consensus", "--n", "2", "--k", "3");
        Assert.Equal(Commands.UsageError, bad.Rc);
        Assert.Contains("--k must be between 1 and n", bad.Err);
    }
}
