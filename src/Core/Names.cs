namespace MathV2.Core;

/// <summary>For errors about a mistyped name: the nearest known one.</summary>
public static class Names
{
    /// <summary>The known name nearest to <paramref name="name"/> (edit distance, case ignored), or null when none is close.</summary>
    public static string? Nearest(string name, IEnumerable<string> known) =>
        known.Select(k => (k, d: Distance(k, name))).Where(x => x.d <= Math.Max(2, name.Length / 4)).OrderBy(x => x.d).Select(x => x.k).FirstOrDefault();

    /// <summary>"unknown field 'x'; did you mean 'y'? (known here: a, b)".</summary>
    public static string Unknown(string what, string name, IReadOnlyCollection<string> known) => $"unknown {what} '{name}'" + Hint(name, known);

    /// <summary>"; did you mean 'y'? (known here: a, b)", or what of it applies.</summary>
    public static string Hint(string name, IReadOnlyCollection<string> known) =>
        (Nearest(name, known) is { } nearest ? $"; did you mean '{nearest}'?" : "") + (known.Count > 0 ? $" (known here: {string.Join(", ", known)})" : "");

    static int Distance(string a, string b)
    {
        a = a.ToLowerInvariant(); b = b.ToLowerInvariant();
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}
