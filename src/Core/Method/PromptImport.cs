using System.Text;
using System.Text.RegularExpressions;

namespace MathV2.Core.Method;

/// <summary>
/// Reads the authors' published templates (their inference code's math_templates.py: a Python dict of
/// triple-quoted strings) into a <see cref="PromptSet"/>, text verbatim: Python escapes and str.format's doubled
/// braces undone, its fields renamed to this project's placeholders. This project does not ship their text; a team
/// imports it from its own copy.
/// </summary>
public static class PromptImport
{
    /// <summary>The template keys of the reference file, by the role they fill.</summary>
    public const string VerificationKey = "proof_verification", MetaKey = "meta_verification", GenerationKey = "proof_generation", RefinementKey = "proof_refinement";

    /// <summary>The reference's str.format fields and this project's placeholder for each.</summary>
    public static readonly IReadOnlyDictionary<string, string> Fields = new Dictionary<string, string>
    {
        ["statement"] = "problem", ["question"] = "problem", ["proof"] = "proof", ["rating"] = "analysis",
        ["instruction"] = "instruction", ["proofs_to_refine"] = "candidates",
    };

    static readonly Regex Entry = new("""(?<key>"\w+"|'\w+')\s*:\s*(?<q>\"\"\"|''')(?<body>.*?)\k<q>(?<strip>\s*\.strip\(\))?""", RegexOptions.Singleline | RegexOptions.Compiled);

    /// <exception cref="FormatException">A template is missing, or has a field this importer does not know; the message names the file.</exception>
    public static PromptSet FromPythonTemplates(string source, string file, string name = "paper")
    {
        var templates = new Dictionary<string, string>();
        foreach (Match m in Entry.Matches(source))
        {
            string key = m.Groups["key"].Value[1..^1];
            string text = Unescape(m.Groups["body"].Value);
            templates[key] = m.Groups["strip"].Success ? text.Trim() : text;
        }
        string[] missing = [.. new[] { VerificationKey, MetaKey, GenerationKey, RefinementKey }.Where(k => !templates.ContainsKey(k))];
        if (missing.Length > 0)
            throw new FormatException($"{file}: no template {string.Join(", ", missing.Select(k => $"'{k}'"))} (found: {(templates.Count == 0 ? "none" : string.Join(", ", templates.Keys))})");
        PromptTemplate T(string key, string role) => new() { Name = $"{role}-{name}", Version = 1, Text = FromFormat(templates[key], file, key) };
        var set = new PromptSet
        {
            Name = name,
            Verification = T(VerificationKey, "verification"),
            MetaVerification = T(MetaKey, "meta-verification"),
            Generation = T(GenerationKey, "generation"),
            Refinement = T(RefinementKey, "refinement"),
            Candidates = CandidateStyle.Reference,
            MetaLead = Prompts.PaperMetaLead,
            MetaClosing = Prompts.PaperMetaClosing,
        };
        var problems = set.Validate().ToList();
        if (problems.Count > 0) throw new FormatException($"{file}: {string.Join("; ", problems.Select(p => $"{p.Field} {p.Message}"))}");
        return set;
    }

    /// <summary>A Python string literal's body with its escapes undone (an unknown escape keeps its backslash, as Python does).</summary>
    public static string Unescape(string body)
    {
        var sb = new StringBuilder(body.Length);
        for (int i = 0; i < body.Length; i++)
        {
            if (body[i] != '\\' || i + 1 == body.Length) { sb.Append(body[i]); continue; }
            char n = body[++i];
            switch (n)
            {
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '\n': break; // a line continuation
                default: sb.Append('\\').Append(n); break;
            }
        }
        return sb.ToString();
    }

    /// <summary>A str.format template as this project's: {{ and }} are braces, {field} becomes its placeholder.</summary>
    public static string FromFormat(string text, string file, string key)
    {
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char ch = text[i];
            if ((ch == '{' || ch == '}') && i + 1 < text.Length && text[i + 1] == ch) { sb.Append(ch); i++; continue; }
            if (ch == '}') throw new FormatException($"{file}: template '{key}' has a single '}}' (str.format would reject it)");
            if (ch != '{') { sb.Append(ch); continue; }
            int end = text.IndexOf('}', i);
            if (end < 0) throw new FormatException($"{file}: template '{key}' has an unclosed '{{'");
            string field = text[(i + 1)..end];
            if (!Fields.TryGetValue(field, out string? placeholder))
                throw new FormatException($"{file}: template '{key}' has the field {{{field}}}, which this importer does not know ({string.Join(", ", Fields.Keys)})");
            sb.Append('{').Append(placeholder).Append('}');
            i = end;
        }
        return sb.ToString();
    }
}

/// <summary>Prompt sets as a user names them: a built-in name or a JSON file.</summary>
public static class PromptSets
{
    /// <exception cref="FormatException">Not a built-in name nor a readable, valid prompt-set file; the message says which.</exception>
    public static PromptSet Read(string nameOrFile)
    {
        if (Prompts.TryGet(nameOrFile) is { } builtIn && nameOrFile.Length > 0) return builtIn;
        if (!File.Exists(nameOrFile))
            throw new FormatException($"'{nameOrFile}' is neither a built-in prompt set nor a file" + Names.Hint(nameOrFile, Prompts.BuiltInNames));
        PromptSet? set;
        try { set = System.Text.Json.JsonSerializer.Deserialize<PromptSet>(File.ReadAllText(nameOrFile), Json.Strict); }
        catch (System.Text.Json.JsonException e) { throw new FormatException($"{nameOrFile}: {e.Message}"); }
        if (set is null) throw new FormatException($"{nameOrFile}: not a prompt set (null)");
        var problems = set.Validate().ToList();
        if (problems.Count > 0) throw new FormatException($"{nameOrFile}: {string.Join("; ", problems.Select(p => $"{p.Field} {p.Message}"))}");
        return set;
    }
}
