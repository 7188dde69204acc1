using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace MathV2.Core;

/// <summary>
/// The one JSON setup used for records, blobs, queue messages and the HTTP API. Every shared instance is complete
/// (resolver set) and read-only before first use: frameworks that would otherwise finish a mutable instance on first
/// use (ASP.NET Core's JSON results set a resolver) then never write to it while other requests read it.
/// </summary>
public static class Json
{
    public static readonly JsonSerializerOptions Options = CreateOptions(indented: false);
    public static readonly JsonSerializerOptions Indented = CreateOptions(indented: true);
    /// <summary>For what users send (HTTP bodies, spec files): an unknown field is an error, not a silent default.</summary>
    public static readonly JsonSerializerOptions Strict = CreateOptions(indented: false, strict: true);

    /// <summary>
    /// Exception data of a JsonException thrown by a converter that reads a nested document: the path inside what the
    /// converter read, to append to the exception's own path.
    /// </summary>
    public const string RelativePathKey = "MathV2.RelativePath";

    /// <summary>The full path of a JsonException ("$.a.b"), including a converter's <see cref="RelativePathKey"/>.</summary>
    public static string? PathOf(JsonException e) =>
        e.Data[RelativePathKey] is string rel && rel.Length > 0 ? $"{e.Path ?? "$"}.{rel}" : e.Path;

    /// <summary>A new, read-only instance of the shared setup (the shared instances are made once from it).</summary>
    public static JsonSerializerOptions CreateOptions(bool indented, bool strict = false)
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            WriteIndented = indented,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        };
        if (strict)
        {
            o.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
            // null where the contract has no null ("verifier": null) is an error naming the field, not a default.
            o.RespectNullableAnnotations = true;
        }
        o.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        o.MakeReadOnly();
        return o;
    }

    public static string Serialize<T>(T value, bool indented = false) => JsonSerializer.Serialize(value, indented ? Indented : Options);
    public static T Deserialize<T>(string json) => JsonSerializer.Deserialize<T>(json, Options) ?? throw new JsonException("null document");
}
