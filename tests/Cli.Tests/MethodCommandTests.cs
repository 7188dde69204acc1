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
    public async Task Prompts_import_writes_a_set_that_lap_start_and_show_accept_and_a_bad_set_is_a_usage_error()
    {
        string dir = Directory.CreateTempSubdirectory("prompts-").FullName;
        try
        {
            string py = Path.Combine(dir, "math_templates.py"), json = Path.Combine(dir, "paper.json");
            await File.WriteAllTextAsync(py, "math_templates = {\n" +
                "\"proof_verification\": \"\"\"V {statement} {proof} \\\\boxed{{...}}\"\"\".strip(),\n" +
                "\"meta_verification\": \"\"\"M {statement} {proof} {rating}\"\"\".strip(),\n" +
                "\"proof_generation\": \"\"\"G {question}\"\"\".strip(),\n" +
                "\"proof_refinement\": \"\"\"{instruction}\n{proofs_to_refine}\"\"\".strip()\n}\n");
            var (rc, output) = await Run("", "prompts", "import", "--in", py, "--out", json, "--json");
            Assert.Equal(0, rc);
            Assert.Equal("paper", JsonDocument.Parse(output).RootElement.GetProperty("name").GetString());
            var (shown, verification) = await Run("", "prompts", "show", "--set", json, "--render", "verification");
            Assert.Equal(0, shown);
            Assert.Equal("V Prove that 1 + 1 = 2. Step 1: 1 + 1 = 2. \\boxed{...}\n", verification);
            var (_, refinement) = await Run("", "prompts", "show", "--set", json, "--render", "refinement");
            Assert.StartsWith("G Prove that 1 + 1 = 2.\n--- Solution 0 ---\nStep 1: 1 + 1 = 2.\n\n=== Evaluation 0 of Solution 0 ===\nHere is my evaluation", refinement);

            await File.WriteAllTextAsync(json, "{\"name\": \"mine\", \"verification\": {\"name\": \"v\", \"version\": 1, \"text\": \"{problem}\"}}");
            var bad = await RunWithErrors("", "lap", "start", "--prompts", json);
            Assert.Equal(Commands.UsageError, bad.Rc);
            Assert.Contains("--prompts: " + json + ": prompts.verification.text must contain the placeholder {proof}", bad.Err);
            var typo = await RunWithErrors("", "prompts", "show", "--set", "compcat");
            Assert.Equal(Commands.UsageError, typo.Rc);
            Assert.Contains("did you mean 'compact'?", typo.Err);
        }
        finally { Directory.Delete(dir, true); }
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
