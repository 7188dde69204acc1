using System.Globalization;

namespace MathV2.Core;

/// <summary>A mistyped MATHV2_* setting: the process stops with the variable named, never falls back silently.</summary>
public sealed class SettingsException(string message) : Exception(message);

/// <summary>
/// Reads MATHV2_* settings: unset or empty takes the default; a value that does not parse or is out of range throws
/// <see cref="SettingsException"/> naming the variable. <c>read</c> is the environment unless a test gives another.
/// </summary>
public sealed class Settings(Func<string, string?>? read = null)
{
    readonly Func<string, string?> _read = read ?? System.Environment.GetEnvironmentVariable;

    public static readonly Settings Environment = new();

    public string? String(string name) => _read(name) is { Length: > 0 } s ? s : null;

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        if (String(name) is not { } raw) return fallback;
        if (!int.TryParse(raw.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
            throw new SettingsException($"{name}='{raw}' is not an integer between {min} and {max}");
        return v;
    }

    public double Double(string name, double fallback, double min = double.MinValue, double max = double.MaxValue)
    {
        if (String(name) is not { } raw) return fallback;
        if (!double.TryParse(raw.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v) || v < min || v > max)
            throw new SettingsException($"{name}='{raw}' is not a number between {min} and {max}");
        return v;
    }

    public T Enum<T>(string name, T fallback) where T : struct, System.Enum
    {
        if (String(name) is not { } raw) return fallback;
        if (!System.Enum.TryParse(raw.Trim(), ignoreCase: true, out T v) || !System.Enum.IsDefined(v))
            throw new SettingsException($"{name}='{raw}' is not one of {string.Join(", ", System.Enum.GetNames<T>())}");
        return v;
    }
}
