namespace MathV2.Core;

/// <summary>Ids of jobs, artifacts and instances double as blob prefixes, table keys and URL segments.</summary>
public static class Ids
{
    public static bool IsValid(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= 200 && id[0] != '.' &&
        id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}
