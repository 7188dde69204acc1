using System.CommandLine;
using System.CommandLine.Parsing;
using MathV2.Cli.Groups;

namespace MathV2.Cli;

/// <summary>
/// The mathv2 command line (System.CommandLine): one command group per file under Groups/. `--help` works on
/// every command; a bad option or value is a usage error (exit 2) naming it; a failure while running is a
/// <see cref="CliException"/> (exit 1, printed by Program). With --json each command prints exactly one JSON
/// document on stdout.
/// </summary>
public sealed class Commands(StackLayout layout, TextWriter stdout, TextWriter stderr, TextReader? input = null)
{
    public const int UsageError = 2;

    readonly CliContext c = new(layout, stdout, stderr, input ?? Console.In);

    public RootCommand Root()
    {
        var root = new RootCommand("MathV2: the DeepSeekMath-V2 flywheel (verifier, meta-verifier, generator) as durable laps.");
        root.Options.Add(c.JsonOption);
        foreach (var command in StackCommands.Build(c).Concat(LapCommands.Build(c)).Concat(OpsCommands.Build(c))
                     .Concat(DatasetCommands.Build(c)).Concat(BenchCommands.Build(c)).Concat(SearchCommands.Build(c)))
            root.Subcommands.Add(command);
        return root;
    }

    public async Task<int> RunAsync(string[] argv, CancellationToken ct = default)
    {
        var root = Root();
        if (argv is [] or ["help"])
        {
            await root.Parse(["--help"]).InvokeAsync(Configuration, ct);
            return argv.Length == 0 ? 1 : 0;
        }
        var parsed = root.Parse(argv);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors) stderr.WriteLine($"mathv2: {e.Message}");
            string path = string.Join(" ", parsed.Tokens.Where(t => t.Type == TokenType.Command).Select(t => t.Value));
            stderr.WriteLine($"usage: mathv2 {(path == "" ? "" : path + " ")}--help");
            return UsageError;
        }
        return await parsed.InvokeAsync(Configuration, ct);
    }

    InvocationConfiguration Configuration => new()
    {
        Output = stdout,
        Error = stderr,
        // Failures are CliExceptions with a message for people; Program prints them.
        EnableDefaultExceptionHandler = false,
        ProcessTerminationTimeout = null,
    };

    internal static double Percentile(List<double> values, double p) => BenchCommands.Percentile(values, p);
}
