using System.Text.Json;
using System.Text.RegularExpressions;
using MathV2.Core;

namespace MathV2.Api;

/// <summary>Turns System.Text.Json's errors into what a user can act on: the field's path and, for a typo, the nearest known field.</summary>
public static partial class JsonErrors
{
    [GeneratedRegex(@"^The JSON property '(?<name>[^']*)' could not be mapped to any \.NET member contained in type '(?<type>[^']*)'")]
    private static partial Regex Unmapped();

    /// <summary>The field (a path like "verifier.learningRat", or "body") and the message for a body that did not deserialize.</summary>
    public static (string Field, string Message) Describe(JsonException e)
    {
        string field = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "body" : e.Path.TrimStart('$', '.');
        string message = e.Message.Split(" Path:")[0];
        if (Unmapped().Match(e.Message) is { Success: true } m)
        {
            string name = m.Groups["name"].Value;
            var known = KnownFields(m.Groups["type"].Value);
            string? nearest = known.Where(k => Distance(k, name) <= Math.Max(2, name.Length / 4)).OrderBy(k => Distance(k, name)).FirstOrDefault();
            message = $"unknown field '{name}'" + (nearest != null ? $"; did you mean '{nearest}'?" : "") +
                (known.Count > 0 ? $" (known here: {string.Join(", ", known)})" : "");
        }
        else if (e.Message.Contains("could not be converted to"))
            message = $"wrong type or value: {message}";
        return (field, message);
    }

    /// <summary>The JSON names of the type's properties, as the shared strict options read them.</summary>
    static List<string> KnownFields(string typeName)
    {
        var type = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(typeName)).FirstOrDefault(t => t != null);
        if (type == null) return [];
        try { return Json.Strict.GetTypeInfo(type).Properties.Select(p => p.Name).ToList(); }
        catch (NotSupportedException) { return []; }
    }

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
