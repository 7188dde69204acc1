using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace MathV2.Gpu.Worker.Text;

/// <summary>
/// The parts of a Hugging Face tokenizer.json around its model, as the tokenizers library runs them: normalizers,
/// pre-tokenizers (splits of splits), decoders and the post-processor's leading special token. Each part is read
/// from its JSON; a type or option that would change the ids and is not implemented is refused by name.
/// </summary>
public static class HfPipeline
{
    const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    // ---- normalizers ----

    /// <summary>The normalizer of tokenizer.json (null when it has none).</summary>
    public static Func<string, string>? Normalizer(JsonNode? n, string where = "normalizer")
    {
        if (n is not JsonObject o) return null;
        string type = Type(o, where);
        switch (type)
        {
            case "Sequence":
                var parts = Array(o, "normalizers", where).Select((x, i) => Normalizer(x, $"{where}.normalizers[{i}]")).OfType<Func<string, string>>().ToList();
                return s => parts.Aggregate(s, (acc, f) => f(acc));
            case "NFC": return s => s.Normalize(NormalizationForm.FormC);
            case "NFD": return s => s.Normalize(NormalizationForm.FormD);
            case "NFKC": return s => s.Normalize(NormalizationForm.FormKC);
            case "NFKD": return s => s.Normalize(NormalizationForm.FormKD);
            case "Lowercase": return RustChars.ToLower;
            case "Strip":
                bool left = Bool(o, "strip_left", true), right = Bool(o, "strip_right", true);
                return s => left && right ? s.Trim() : left ? s.TrimStart() : right ? s.TrimEnd() : s;
            case "Prepend":
                string prepend = Str(o, "prepend", where);
                return s => s.Length == 0 ? s : prepend + s;
            case "Replace":
                var (regex, content) = (Pattern(o, where), Str(o, "content", where));
                return s => regex.Replace(s, content.Replace("$", "$$"));
            default:
                throw Unsupported(where, type, "Sequence, NFC, NFD, NFKC, NFKD, Lowercase, Strip, Prepend, Replace");
        }
    }

    // ---- pre-tokenizers ----

    /// <summary>Splits each piece of a text into smaller pieces (the input of the model).</summary>
    public delegate void PreTokenizer(List<string> pieces, bool atTextStart);

    public static PreTokenizer? PreTokenizerOf(JsonNode? n, string where = "pre_tokenizer")
    {
        if (n is not JsonObject o) return null;
        string type = Type(o, where);
        switch (type)
        {
            case "Sequence":
                var steps = Array(o, "pretokenizers", where).Select((x, i) => PreTokenizerOf(x, $"{where}.pretokenizers[{i}]")).OfType<PreTokenizer>().ToList();
                return (pieces, start) => { foreach (var step in steps) step(pieces, start); };
            case "Split":
            {
                var regex = Pattern(o, where);
                var behavior = Behavior(o, where, "Isolated");
                bool invert = Bool(o, "invert", false);
                return (pieces, _) => Each(pieces, p => SplitBy(p, Matches(regex, p), behavior, invert));
            }
            case "ByteLevel":
            {
                bool prefix = Bool(o, "add_prefix_space", true), useRegex = Bool(o, "use_regex", true);
                var gpt2 = new Regex(Gpt2Pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);
                return (pieces, _) => Each(pieces, p =>
                {
                    if (prefix && !p.StartsWith(' ')) p = " " + p;
                    var split = useRegex ? SplitBy(p, Matches(gpt2, p), "Isolated", false) : [p];
                    return split.Select(ByteLevel.Map);
                });
            }
            case "Digits":
            {
                bool individual = Bool(o, "individual_digits", false);
                return (pieces, _) => Each(pieces, p => SplitBy(p, CharRuns(p, Rune.IsNumber, individual), individual ? "Isolated" : "Contiguous", false));
            }
            case "Punctuation":
            {
                var behavior = Behavior(o, where, "Isolated");
                return (pieces, _) => Each(pieces, p => SplitBy(p, CharRuns(p, r => Rune.IsPunctuation(r) || (r.Value < 128 && Rune.IsSymbol(r)), true), behavior, false));
            }
            case "Whitespace":
            {
                var words = new Regex(@"\w+|[^\w\s]+", RegexOptions.CultureInvariant | RegexOptions.Compiled);
                return (pieces, _) => Each(pieces, p => SplitBy(p, Matches(words, p), "Removed", true));
            }
            case "WhitespaceSplit":
                return (pieces, _) => Each(pieces, p => SplitBy(p, CharRuns(p, Rune.IsWhiteSpace, false), "Removed", false));
            case "Metaspace":
            {
                string replacement = Str(o, "replacement", where);
                string scheme = o["prepend_scheme"]?.GetValue<string>() ?? (Bool(o, "add_prefix_space", true) ? "always" : "never");
                if (scheme is not ("always" or "first" or "never")) throw new InvalidDataException($"tokenizer.json: {where}.prepend_scheme '{scheme}' is not always, first or never");
                bool split = Bool(o, "split", true);
                var at = new Regex(Regex.Escape(replacement), RegexOptions.CultureInvariant);
                return (pieces, atTextStart) =>
                {
                    for (int i = 0; i < pieces.Count; i++)
                    {
                        string p = pieces[i].Replace(" ", replacement);
                        if ((scheme == "always" || (scheme == "first" && i == 0 && atTextStart)) && !p.StartsWith(replacement, StringComparison.Ordinal)) p = replacement + p;
                        pieces[i] = p;
                    }
                    if (split) Each(pieces, p => SplitBy(p, Matches(at, p), "MergedWithNext", false));
                };
            }
            default:
                throw Unsupported(where, type, "Sequence, Split, ByteLevel, Digits, Punctuation, Whitespace, WhitespaceSplit, Metaspace");
        }
    }

    static void Each(List<string> pieces, Func<string, IEnumerable<string>> split)
    {
        var result = new List<string>(pieces.Count * 2);
        foreach (string p in pieces) foreach (string s in split(p)) if (s.Length > 0) result.Add(s);
        pieces.Clear();
        pieces.AddRange(result);
    }

    /// <summary>
    /// Regex matches in code points, as Oniguruma finds them: .NET matches UTF-16 units, so a character beyond 16 bits
    /// (𝑥, 𝟏, 𝔽, CJK extension B) would be two surrogates, neither a letter nor a digit. The regex runs on a shadow of the
    /// text where each such character is one character of its own Unicode category, and the matches are mapped back.
    /// </summary>
    public static List<(int Start, int End)> Matches(Regex regex, string text)
    {
        var found = new List<(int, int)>();
        int firstSurrogate = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF');
        if (firstSurrogate < 0)
        {
            for (var m = regex.Match(text); m.Success; m = m.NextMatch()) found.Add((m.Index, m.Index + m.Length));
            return found;
        }
        var shadow = new StringBuilder(text.Length);
        var at = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length;)
        {
            at.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                shadow.Append(Representative[(int)CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1]))]);
                i += 2;
            }
            else shadow.Append(text[i++]);
        }
        at.Add(text.Length);
        for (var m = regex.Match(shadow.ToString()); m.Success; m = m.NextMatch()) found.Add((at[m.Index], at[m.Index + m.Length]));
        return found;
    }

    /// <summary>For each Unicode category, a 16-bit character of it, away from ASCII, Latin and the CJK block that patterns name.</summary>
    static readonly char[] Representative = BuildRepresentatives();

    static char[] BuildRepresentatives()
    {
        var map = new char[32];
        foreach (int start in new[] { 0xA000, 0x0100, 0 })
            for (int c = start; c <= 0xFFFF; c++)
            {
                if (c is >= 0xD800 and <= 0xDFFF) continue;
                int cat = (int)CharUnicodeInfo.GetUnicodeCategory((char)c);
                if (map[cat] == '\0') map[cat] = (char)c;
            }
        return map;
    }

    /// <summary>Runs of the characters (code points, as HF sees them: 𝟏 is one digit) for which isIn holds; one run per character when individual.</summary>
    static List<(int Start, int End)> CharRuns(string text, Func<Rune, bool> isIn, bool individual)
    {
        var runs = new List<(int, int)>();
        for (int i = 0; i < text.Length;)
        {
            int width = Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out int used) == System.Buffers.OperationStatus.Done ? used : 1;
            if (isIn(rune))
            {
                if (!individual && runs.Count > 0 && runs[^1].Item2 == i) runs[^1] = (runs[^1].Item1, i + width);
                else runs.Add((i, i + width));
            }
            i += width;
        }
        return runs;
    }

    /// <summary>HF's SplitDelimiterBehavior over the matches (the delimiters; with invert, what lies between them).</summary>
    static List<string> SplitBy(string text, List<(int Start, int End)> matches, string behavior, bool invert)
    {
        var parts = new List<(int Start, int End, bool Match)>();
        int prev = 0;
        foreach (var (s, e) in matches)
        {
            if (s == e) continue;
            if (prev != s) parts.Add((prev, s, invert));
            parts.Add((s, e, !invert));
            prev = e;
        }
        if (prev != text.Length) parts.Add((prev, text.Length, invert));
        var result = new List<(int Start, int End)>();
        switch (behavior)
        {
            case "Isolated":
                result.AddRange(parts.Select(p => (p.Start, p.End)));
                break;
            case "Removed":
                result.AddRange(parts.Where(p => !p.Match).Select(p => (p.Start, p.End)));
                break;
            case "MergedWithPrevious":
            {
                bool previous = false;
                foreach (var p in parts)
                {
                    if (p.Match && !previous && result.Count > 0) result[^1] = (result[^1].Start, p.End);
                    else result.Add((p.Start, p.End));
                    previous = p.Match;
                }
                break;
            }
            case "MergedWithNext":
            {
                bool previous = false;
                for (int i = parts.Count - 1; i >= 0; i--)
                {
                    var p = parts[i];
                    if (p.Match && !previous && result.Count > 0) result[^1] = (p.Start, result[^1].End);
                    else result.Add((p.Start, p.End));
                    previous = p.Match;
                }
                result.Reverse();
                break;
            }
            case "Contiguous":
            {
                bool previous = false;
                foreach (var p in parts)
                {
                    if (p.Match == previous && result.Count > 0) result[^1] = (result[^1].Start, p.End);
                    else result.Add((p.Start, p.End));
                    previous = p.Match;
                }
                break;
            }
            default:
                throw new InvalidDataException($"tokenizer.json: split behavior '{behavior}' is not Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous");
        }
        return result.Select(r => text[r.Start..r.End]).ToList();
    }

    // ---- decoders ----

    /// <summary>Turns tokens back into text pieces (their concatenation is the text).</summary>
    public delegate List<string> Decoder(List<string> tokens);

    public static Decoder? DecoderOf(JsonNode? n, string where = "decoder")
    {
        if (n is not JsonObject o) return null;
        string type = Type(o, where);
        switch (type)
        {
            case "Sequence":
                var steps = Array(o, "decoders", where).Select((x, i) => DecoderOf(x, $"{where}.decoders[{i}]")).OfType<Decoder>().ToList();
                return tokens => steps.Aggregate(tokens, (acc, d) => d(acc));
            case "ByteLevel":
                return tokens =>
                {
                    var bytes = new List<byte>();
                    foreach (string t in tokens)
                        if (ByteLevel.TryUnmap(t, out var b)) bytes.AddRange(b);
                        else bytes.AddRange(Encoding.UTF8.GetBytes(t));
                    return [Encoding.UTF8.GetString(bytes.ToArray())];
                };
            case "ByteFallback":
                return tokens =>
                {
                    var result = new List<string>();
                    var bytes = new List<byte>();
                    void Flush()
                    {
                        if (bytes.Count == 0) return;
                        try { result.Add(new UTF8Encoding(false, true).GetString(bytes.ToArray())); }
                        catch (DecoderFallbackException) { result.AddRange(bytes.Select(_ => "\uFFFD")); }
                        bytes.Clear();
                    }
                    foreach (string t in tokens)
                        if (t.Length == 6 && t.StartsWith("<0x", StringComparison.Ordinal) && t.EndsWith('>') && byte.TryParse(t.AsSpan(3, 2), NumberStyles.HexNumber, null, out byte b)) bytes.Add(b);
                        else { Flush(); result.Add(t); }
                    Flush();
                    return result;
                };
            case "Fuse":
                return tokens => [string.Concat(tokens)];
            case "Strip":
            {
                string content = Str(o, "content", where);
                int start = o["start"]?.GetValue<int>() ?? 0, stop = o["stop"]?.GetValue<int>() ?? 0;
                return tokens => tokens.Select(t =>
                {
                    int s = 0, e = t.Length;
                    for (int k = 0; k < start && t.AsSpan(s).StartsWith(content) && content.Length > 0; k++) s += content.Length;
                    for (int k = 0; k < stop && e - content.Length >= s && t.AsSpan(s, e - s).EndsWith(content) && content.Length > 0; k++) e -= content.Length;
                    return t[s..e];
                }).ToList();
            }
            case "Replace":
            {
                var (regex, content) = (Pattern(o, where), Str(o, "content", where));
                return tokens => tokens.Select(t => regex.Replace(t, content.Replace("$", "$$"))).ToList();
            }
            case "Metaspace":
            {
                string replacement = Str(o, "replacement", where);
                string scheme = o["prepend_scheme"]?.GetValue<string>() ?? (Bool(o, "add_prefix_space", true) ? "always" : "never");
                return tokens => tokens.Select((t, i) =>
                {
                    string s = t.Replace(replacement, " ");
                    return i == 0 && scheme != "never" && s.StartsWith(' ') ? s[1..] : s;
                }).ToList();
            }
            default:
                throw Unsupported(where, type, "Sequence, ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace");
        }
    }

    // ---- post-processor ----

    /// <summary>
    /// The special token the post-processor puts before a single sequence (Llama 3's &lt;|begin_of_text|&gt;), if any;
    /// null when it adds none. A template that adds more than that is refused: the worker adds one start token.
    /// </summary>
    public static (bool Known, string? Bos) PostProcessorBos(JsonNode? n, string where = "post_processor")
    {
        if (n is not JsonObject o) return (false, null);
        string type = Type(o, where);
        switch (type)
        {
            case "ByteLevel": return (false, null);
            case "Sequence":
                (bool, string?) found = (false, null);
                foreach (var (p, i) in Array(o, "processors", where).Select((p, i) => (p, i)))
                    if (PostProcessorBos(p, $"{where}.processors[{i}]") is { Known: true } r) found = r;
                return found;
            case "TemplateProcessing":
                var single = Array(o, "single", where);
                var specials = single.Select(x => x?["SpecialToken"]?["id"]?.GetValue<string>()).ToList();
                int seq = single.FindIndex(x => x?["Sequence"] != null);
                if (seq < 0 || seq > 1 || specials.Count(s => s != null) != seq)
                    throw new InvalidDataException($"tokenizer.json: {where}.single adds special tokens other than one before the text; the worker adds at most a start token");
                return (true, seq == 1 ? specials[0] : null);
            default:
                throw Unsupported(where, type, "ByteLevel, TemplateProcessing, Sequence");
        }
    }

    // ---- JSON helpers ----

    static string Type(JsonObject o, string where) => o["type"]?.GetValue<string>() ?? throw new InvalidDataException($"tokenizer.json: {where} has no type");

    static List<JsonNode?> Array(JsonObject o, string name, string where) =>
        o[name] is JsonArray a ? [.. a] : throw new InvalidDataException($"tokenizer.json: {where}.{name} is missing");

    static bool Bool(JsonObject o, string name, bool fallback) => o[name] is { } v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>() : fallback;

    static string Str(JsonObject o, string name, string where) =>
        o[name] is { } v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw new InvalidDataException($"tokenizer.json: {where}.{name} is missing");

    static string Behavior(JsonObject o, string where, string fallback)
    {
        string b = o["behavior"]?.GetValue<string>() ?? fallback;
        return b is "Removed" or "Isolated" or "MergedWithPrevious" or "MergedWithNext" or "Contiguous" ? b
            : throw new InvalidDataException($"tokenizer.json: {where}.behavior '{b}' is not Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous");
    }


    /// <summary>A Split/Replace pattern: {"String": literal} or {"Regex": Oniguruma pattern, run by .NET's engine}.</summary>
    static Regex Pattern(JsonObject o, string where)
    {
        var p = o["pattern"] as JsonObject ?? throw new InvalidDataException($"tokenizer.json: {where}.pattern is missing");
        string text;
        if (p["String"] is { } s) text = Regex.Escape(s.GetValue<string>());
        else if (p["Regex"] is { } r) text = r.GetValue<string>();
        else throw new InvalidDataException($"tokenizer.json: {where}.pattern is neither String nor Regex");
        try { return new Regex(text, RegexOptions.CultureInvariant | RegexOptions.Compiled); }
        catch (ArgumentException e) { throw new InvalidDataException($"tokenizer.json: {where}.pattern is not supported by .NET regex: {e.Message}"); }
    }

    static InvalidDataException Unsupported(string where, string type, string supported) =>
        new($"tokenizer.json: {where} type {type} is not supported (supported: {supported})");
}

/// <summary>GPT-2's reversible map of bytes to printable characters (the ByteLevel pre-tokenizer and decoder).</summary>
public static class ByteLevel
{
    static readonly char[] ByteToChar = BuildByteMap();
    static readonly Dictionary<char, byte> CharToByte = ByteToChar.Select((c, b) => (c, b)).ToDictionary(x => x.c, x => (byte)x.b);

    public static string Map(string text) => Map(Encoding.UTF8.GetBytes(text));

    public static string Map(byte[] bytes) => string.Create(bytes.Length, bytes, (span, b) => { for (int i = 0; i < b.Length; i++) span[i] = ByteToChar[b[i]]; });

    /// <summary>The bytes of a token whose every character is a byte symbol.</summary>
    public static bool TryUnmap(string token, out byte[] bytes)
    {
        bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
            if (!CharToByte.TryGetValue(token[i], out bytes[i])) return false;
        return true;
    }

    /// <summary>The 256 byte symbols, in byte order.</summary>
    public static IReadOnlyList<string> Symbols => ByteToChar.Select(c => c.ToString()).ToList();

    static char[] BuildByteMap()
    {
        var map = new char[256];
        var printable = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range('¡', '¬' - '¡' + 1)).Concat(Enumerable.Range('®', 'ÿ' - '®' + 1)).ToHashSet();
        int n = 0;
        for (int b = 0; b < 256; b++) map[b] = printable.Contains(b) ? (char)b : (char)(256 + n++);
        return map;
    }
}
