using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace MathV2.Core.Method;

/// <summary>Why an output was rejected; lap metrics count these.</summary>
public enum ParseFailure
{
    None,
    /// <summary>The output stopped at the token limit (finish reason "length").</summary>
    Unfinished,
    Empty,
    NoBoxedScore,
    /// <summary>A boxed value that is not one of 0, 0.5, 1 in any accepted spelling.</summary>
    InvalidScore,
    MissingLeadPhrase,
    MissingClosingPhrase,
    MissingSolution,
    MissingSelfEvaluation,
    /// <summary>The boxed score comes before the closing phrase (R_format checks the order).</summary>
    ScoreBeforeClosingPhrase,
}

/// <summary>Scores are 0, 0.5 or 1; accepted spellings are normalised, anything else is rejected.</summary>
public static class Scores
{
    public static readonly double[] Allowed = [0, 0.5, 1];

    static readonly Regex Frac = new(@"^\\[dt]?frac\{?(\d+)\}?\{?(\d+)\}?$", RegexOptions.Compiled);

    /// <summary>0, 0.0, 1, 1.00, 0.5, .5, 0.50, 1/2, \frac{1}{2}, \dfrac12, ½ (spaces and a trailing period ignored); else null.</summary>
    public static double? Normalize(string raw)
    {
        string s = Regex.Replace(raw, @"\s+", "").TrimEnd('.').Trim('$');
        if (s.StartsWith("\\text{", StringComparison.Ordinal) && s.EndsWith('}')) s = s[6..^1];
        if (s == "½") return 0.5;
        double? value = null;
        var m = Frac.Match(s);
        if (m.Success) value = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) / double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        else if (s.Split('/') is [var a, var b] && double.TryParse(a, NumberStyles.Float, CultureInfo.InvariantCulture, out double x)
                 && double.TryParse(b, NumberStyles.Float, CultureInfo.InvariantCulture, out double y) && y != 0) value = x / y;
        else if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) value = d;
        if (value is not { } v) return null;
        foreach (double allowed in Allowed)
            if (Math.Abs(v - allowed) < 1e-9) return allowed;
        return null;
    }
}

/// <summary>Finds the final \boxed{…} of an output.</summary>
public static class Boxed
{
    /// <summary>The text after the last &lt;/think&gt; (reasoning before it is never parsed for answers).</summary>
    public static string AfterThinking(string text)
    {
        int i = text.LastIndexOf("</think>", StringComparison.Ordinal);
        return i < 0 ? text : text[(i + "</think>".Length)..];
    }

    /// <summary>
    /// Content of the LAST non-empty brace-balanced \boxed{…} after any &lt;/think&gt;, or null. An empty box
    /// (\boxed{} or blanks) is skipped, as the reference code skips it.
    /// </summary>
    public static string? Last(string text) => LastAt(AfterThinking(text)) is { } b ? b.Content : null;

    /// <summary>The last non-empty brace-balanced box of text (no &lt;/think&gt; handling): its content and where "\boxed{" starts.</summary>
    public static (string Content, int Index)? LastAt(string t)
    {
        (string, int)? last = null;
        int from = 0;
        while (true)
        {
            int i = t.IndexOf("\\boxed{", from, StringComparison.Ordinal);
            if (i < 0) return last;
            int start = i + "\\boxed{".Length, depth = 1, j = start;
            for (; j < t.Length && depth > 0; j++)
            {
                if (t[j] == '{') depth++;
                else if (t[j] == '}') depth--;
            }
            if (depth == 0 && !string.IsNullOrWhiteSpace(t[start..(j - 1)])) last = (t[start..(j - 1)], i);
            from = start;
        }
    }
}

/// <summary>
/// Case- and whitespace-insensitive phrase matching (the official template even misspells "overal"); a phrase may
/// have alternatives (the compact set's meta phrases and the paper's), any of which matches. A straight double
/// quote in a phrase also matches curly quotes.
/// </summary>
public sealed class KeyPhrase
{
    readonly Regex _regex;

    public KeyPhrase(string phrase, params (string Word, string Pattern)[] variants) : this([phrase], variants) { }

    public KeyPhrase(IReadOnlyList<string> phrases, params (string Word, string Pattern)[] variants)
    {
        Phrase = phrases[0];
        Alternatives = phrases;
        _regex = new Regex(string.Join("|", phrases.Select(p => $"(?:{Pattern(p, variants)})")), RegexOptions.IgnoreCase | RegexOptions.Compiled);
    }

    static string Pattern(string phrase, (string Word, string Pattern)[] variants)
    {
        var sb = new StringBuilder();
        foreach (string word in phrase.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (sb.Length > 0) sb.Append(@"\s+");
            string w = word.TrimEnd(':', ',');
            string pattern = variants.FirstOrDefault(v => v.Word.Equals(w, StringComparison.OrdinalIgnoreCase)).Pattern ?? Regex.Escape(w).Replace("\"", "[\"“”]");
            sb.Append(pattern).Append(word.EndsWith(',') ? ",?" : "").Append(word.EndsWith(':') ? ":?" : "");
        }
        return sb.ToString();
    }

    /// <summary>The phrase a writer uses (the first alternative).</summary>
    public string Phrase { get; }

    public IReadOnlyList<string> Alternatives { get; }

    /// <summary>Index just past the last match, or -1.</summary>
    public int LastEnd(string text)
    {
        var ms = _regex.Matches(text);
        return ms.Count == 0 ? -1 : ms[^1].Index + ms[^1].Length;
    }

    /// <summary>Index of the last match, or -1.</summary>
    public int LastStart(string text)
    {
        var ms = _regex.Matches(text);
        return ms.Count == 0 ? -1 : ms[^1].Index;
    }
}
