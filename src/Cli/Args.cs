namespace MathV2.Cli;

/// <summary>Minimal argument parsing: positionals, --flag, --name value.</summary>
public sealed class Args
{
    readonly List<string> _positionals = [];
    readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    static readonly HashSet<string> Flags = ["--json", "--history", "--help", "-h", "--skip-invalid", "--quick", "--wait"];

    public Args(IEnumerable<string> args)
    {
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            string a = e.Current;
            if (a.StartsWith("--") && a.Contains('=')) _options[a[..a.IndexOf('=')]] = a[(a.IndexOf('=') + 1)..];
            else if (Flags.Contains(a)) _options[a] = null;
            else if (a.StartsWith("--"))
            {
                if (!e.MoveNext()) throw new CliException($"option {a} needs a value");
                _options[a] = e.Current;
            }
            else _positionals.Add(a);
        }
    }

    public IReadOnlyList<string> Positionals => _positionals;
    public bool Json => _options.ContainsKey("--json");
    public bool Has(string name) => _options.ContainsKey(name);
    public string? Get(string name) => _options.GetValueOrDefault(name);

    public int Int(string name, int fallback, int min, int max)
    {
        if (!_options.TryGetValue(name, out string? v)) return fallback;
        if (!int.TryParse(v, out int i) || i < min || i > max) throw new CliException($"{name} must be a whole number between {min} and {max}, not '{v}'");
        return i;
    }

    public double Double(string name, double fallback)
    {
        if (!_options.TryGetValue(name, out string? v)) return fallback;
        if (!double.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out double d)) throw new CliException($"{name} must be a number, not '{v}'");
        return d;
    }

    public string Positional(int index, string what) =>
        index < _positionals.Count ? _positionals[index] : throw new CliException($"missing {what}");

    /// <summary>Rejects options the command does not know, so typos are not silently ignored.</summary>
    public void Allow(params string[] names)
    {
        var unknown = _options.Keys.Where(k => k != "--json" && !names.Contains(k)).ToList();
        if (unknown.Count > 0) throw new CliException($"unknown option(s): {string.Join(", ", unknown)}");
    }
}
