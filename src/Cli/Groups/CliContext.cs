using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.Json;
using MathV2.Core;

namespace MathV2.Cli.Groups;

/// <summary>What every command works with: the stack's layout, the output streams, the shared --json option.</summary>
public sealed class CliContext(StackLayout layout, TextWriter stdout, TextWriter stderr, TextReader stdin)
{
    /// <summary>On every command: exactly one JSON document on stdout; progress goes to stderr. One per command tree.</summary>
    public Option<bool> JsonOption { get; } = new("--json")
    {
        Description = "Print exactly one JSON document on stdout (progress goes to stderr)",
        Recursive = true,
    };

    public StackLayout Layout => layout;
    public TextWriter Out => stdout;
    public TextWriter Err => stderr;
    public TextReader In => stdin;

    public bool IsJson(ParseResult pr) => pr.GetValue(JsonOption);

    /// <summary>Where progress lines go: stdout for people, stderr when stdout carries JSON.</summary>
    public TextWriter Progress(ParseResult pr) => IsJson(pr) ? stderr : stdout;

    public void WriteJson<T>(T value) => stdout.WriteLine(JsonSerializer.Serialize(value, Json.Indented));

    /// <summary>The API of MATHV2_URL/MATHV2_KEY, or of the local stack.</summary>
    public ApiClient Api() => ApiClient.FromEnvironment(layout);
}

/// <summary>Options with their ranges and choices declared once: a bad value is a usage error naming the option.</summary>
public static class CliOptions
{
    public static Option<int> Int(string name, string description, int defaultValue, int min, int max) => new(name)
    {
        Description = $"{description} ({min}-{max})", HelpName = "N", DefaultValueFactory = _ => defaultValue,
        CustomParser = r => ParseInt(r, name, min, max) ?? default,
    };

    /// <summary>An int option whose absence means "the spec's or the worker's own value".</summary>
    public static Option<int?> OptionalInt(string name, string description, int min, int max) => new(name)
    {
        Description = $"{description} ({min}-{max})", HelpName = "N", CustomParser = r => ParseInt(r, name, min, max),
    };

    public static Option<double> Double(string name, string description, double defaultValue, double min, double max) => new(name)
    {
        Description = $"{description} ({min}-{max})", HelpName = "X", DefaultValueFactory = _ => defaultValue,
        CustomParser = r =>
        {
            string token = r.Tokens.Count > 0 ? r.Tokens[^1].Value : "";
            if (double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= min && v <= max) return v;
            r.AddError($"{name} must be a number between {min} and {max}, not '{token}'");
            return default;
        },
    };

    static int? ParseInt(ArgumentResult r, string name, int min, int max)
    {
        string token = r.Tokens.Count > 0 ? r.Tokens[^1].Value : "";
        if (int.TryParse(token, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max) return v;
        r.AddError($"{name} must be a whole number between {min} and {max}, not '{token}'");
        return null;
    }

    public static Option<string> Choice(string name, string description, string? defaultValue, params string[] values)
    {
        var o = new Option<string>(name)
        {
            Description = description, HelpName = string.Join("|", values),
            CustomParser = r =>
            {
                string token = r.Tokens.Count > 0 ? r.Tokens[^1].Value : "";
                if (values.Contains(token)) return token;
                r.AddError($"{name} must be one of {string.Join(", ", values)}, not '{token}'");
                return null;
            },
        };
        if (defaultValue != null) o.DefaultValueFactory = _ => defaultValue;
        return o;
    }

    public static Option<string?> Text(string name, string description, string helpName = "TEXT", bool required = false) =>
        new(name) { Description = description, HelpName = helpName, Required = required };

    /// <summary>A file that must exist (checked when the command line is parsed).</summary>
    public static Option<string?> ExistingFile(string name, string description, bool required = false)
    {
        var o = new Option<string?>(name) { Description = description, HelpName = "FILE", Required = required };
        o.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } path && !File.Exists(path)) r.AddError($"{name}: no such file: {path}");
        });
        return o;
    }

    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    /// <summary>
    /// A prompt set: a built-in name, or a JSON file holding a set (from <c>mathv2 prompts import</c>), read and
    /// checked when the command line is parsed.
    /// </summary>
    public static Option<Core.Method.PromptSet?> PromptSetOption(string name, string description)
    {
        var o = new Option<Core.Method.PromptSet?>(name)
        {
            Description = description, HelpName = "NAME|FILE",
            CustomParser = r =>
            {
                string value = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
                try { return Core.Method.PromptSets.Read(value); }
                catch (FormatException e) { r.AddError($"{name}: {e.Message}"); return null; }
            },
        };
        return o;
    }

    public static Argument<string> Id(string name, string description) => new(name) { Description = description };

    /// <summary>A command whose action is <paramref name="action"/>, with the given options and arguments.</summary>
    public static Command Command(string name, string description, Func<ParseResult, CancellationToken, Task<int>> action, params Symbol[] symbols)
    {
        var c = new Command(name, description);
        foreach (var s in symbols)
        {
            if (s is Option o) c.Options.Add(o);
            else if (s is Argument a) c.Arguments.Add(a);
            else if (s is Command sub) c.Subcommands.Add(sub);
        }
        c.SetAction(action);
        return c;
    }

    /// <summary>A group of subcommands (no action of its own).</summary>
    public static Command Group(string name, string description, params Command[] subcommands)
    {
        var c = new Command(name, description);
        foreach (var s in subcommands) c.Subcommands.Add(s);
        return c;
    }
}
