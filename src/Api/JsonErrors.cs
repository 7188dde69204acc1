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
        string? path = Json.PathOf(e);
        string field = string.IsNullOrEmpty(path) || path == "$" ? "body" : path.TrimStart('$', '.');
        string message = e.Message.Split(" Path:")[0];
        if (Unmapped().Match(e.Message) is { Success: true } m)
        {
            message = Names.Unknown("field", m.Groups["name"].Value, KnownFields(m.Groups["type"].Value));
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
}
