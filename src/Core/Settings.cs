using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MathV2.Core;

/// <summary>A mistyped MATHV2_* setting: the process stops with the variable named, never falls back silently.</summary>
public sealed class SettingsException(string message) : Exception(message);

/// <summary>
/// Reads MATHV2_* settings from configuration (environment variables; the Functions app's settings): unset or empty
/// takes the default; a value that does not parse or is out of range throws <see cref="SettingsException"/> naming
/// the variable. <c>read</c> is the environment unless a test gives another.
/// </summary>
public sealed class Settings(Func<string, string?>? read = null)
{
    readonly Func<string, string?> _read = read ?? System.Environment.GetEnvironmentVariable;

    public static readonly Settings Environment = new();

    public Settings(IConfiguration configuration) : this(name => configuration[name]) { }

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

    /// <summary>
    /// MATHV2_TASKHUB, the Durable task hub's name (both hosts): Azure Storage makes queue and table names of it, so
    /// 3-45 letters and digits, starting with a letter. Without a fallback it is required.
    /// </summary>
    public string TaskHub(string? fallback)
    {
        string hub = String("MATHV2_TASKHUB") ?? fallback
            ?? throw new SettingsException("MATHV2_TASKHUB is not set: the Durable task hub's name (an app deployed before it was a setting used 'mathv2')");
        if (hub.Length is < 3 or > 45 || !hub.All(char.IsAsciiLetterOrDigit) || !char.IsAsciiLetter(hub[0]))
            throw new SettingsException($"MATHV2_TASKHUB='{hub}' must be 3-45 letters and digits, starting with a letter");
        return hub;
    }

    public T Enum<T>(string name, T fallback) where T : struct, System.Enum
    {
        if (String(name) is not { } raw) return fallback;
        if (!System.Enum.TryParse(raw.Trim(), ignoreCase: true, out T v) || !System.Enum.IsDefined(v))
            throw new SettingsException($"{name}='{raw}' is not one of {string.Join(", ", System.Enum.GetNames<T>())}");
        return v;
    }
}

/// <summary>
/// MATHV2_* settings as Options: <typeparamref name="T"/> is made by its reader from the host's configuration and
/// checked when the host starts (ValidateOnStart), so a mistyped value stops the host with the variable named.
/// Services take <typeparamref name="T"/> itself (or IOptions&lt;T&gt;); it is read once.
/// </summary>
public static class SettingsOptions
{
    public static IServiceCollection AddSettings<T>(this IServiceCollection services, Func<Settings, T> read) where T : class
    {
        services.TryAddSingleton<IOptionsFactory<T>>(sp => new Factory<T>(read, sp.GetService<IConfiguration>()));
        services.AddOptions<T>().ValidateOnStart();
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<T>>().Value);
        return services;
    }

    sealed class Factory<T>(Func<Settings, T> read, IConfiguration? configuration) : IOptionsFactory<T> where T : class
    {
        public T Create(string name) => read(configuration == null ? Settings.Environment : new Settings(configuration));
    }
}
