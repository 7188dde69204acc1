using System.Text.Json;
using System.Text.RegularExpressions;

namespace MathV2.Gpu.Worker.Text;

/// <summary>
/// A word-level tokenizer built from a training set, for tiny models on the demo domain: text is cut into pieces —
/// a word, a number, or one other character, each with an optional leading space — and every piece that occurs
/// at least <c>minCount</c> times in the training texts is one token; any other piece falls back to its characters
/// (printable ASCII, newline, '½'; anything else is &lt;unk&gt;, as in <see cref="CharTokenizer"/>), so every text over
/// that alphabet encodes and decodes losslessly. Numbers as single tokens make a
/// step's arithmetic one lookup and shorten sequences about three-fold against characters.
/// Saved as a Hugging Face tokenizer.json (<see cref="HfVocabularyJson"/>); the earlier {"type":"mathv2-words",…} form still loads.
/// </summary>
public sealed partial class WordTokenizer : ITokenizer
{
    public const string Type = "mathv2-words";

    /// <summary>The pieces: a word, a number, or one other character, each with an optional leading space; or one whitespace.</summary>
    public const string Pattern = @" ?[A-Za-z]+| ?\d+| ?[^\sA-Za-z\d]|\s";

    /// <summary>The same in .NET's regex, which sees UTF-16 units: a character beyond 16 bits (a surrogate pair) is one piece, as in Hugging Face's.</summary>
    const string Utf16Pattern = @" ?[A-Za-z]+| ?\d+| ?(?:[\uD800-\uDBFF][\uDC00-\uDFFF]|[^\sA-Za-z\d])|\s";

    [GeneratedRegex(Utf16Pattern, RegexOptions.CultureInvariant)]
    private static partial Regex Pieces();

    readonly string[] _tokens;
    readonly Dictionary<string, int> _ids;

    /// <summary>Vocabulary: the specials, the character fallback, then the given pieces (order kept, duplicates dropped).</summary>
    public WordTokenizer(IEnumerable<string> pieces)
    {
        var tokens = new List<string>(CharTokenizer.Specials);
        _ids = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string s in CharTokenizer.Specials) _ids[s] = _ids.Count;
        foreach (string p in Fallback.Concat(pieces))
            if (p.Length > 0 && _ids.TryAdd(p, tokens.Count)) tokens.Add(p);
        _tokens = [.. tokens];
        Words = _tokens.Skip(CharTokenizer.Specials.Length + Fallback.Count()).ToList();
    }

    static IEnumerable<string> Fallback => CharTokenizer.Ascii().Alphabet.Select(c => c.ToString());

    /// <summary>The pieces of the vocabulary beyond the specials and the character fallback.</summary>
    public IReadOnlyList<string> Words { get; }

    /// <summary>Every piece seen at least minCount times, most frequent first (ties in ordinal order), at most maxWords.</summary>
    public static WordTokenizer Train(IEnumerable<string> texts, int minCount = 2, int maxWords = 4096)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string t in texts)
            foreach (Match m in Pieces().Matches(t))
                if (m.Length > 1) counts[m.Value] = counts.GetValueOrDefault(m.Value) + 1;
        return new WordTokenizer(counts.Where(kv => kv.Value >= minCount)
            .OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Take(maxWords).Select(kv => kv.Key));
    }

    public int VocabSize => _tokens.Length;

    public string? TokenOf(int id) => id >= 0 && id < _tokens.Length ? _tokens[id] : null;
    public int PadId => 0;
    public int? BosId => 1;
    public int EosId => 2;
    public int UnkId => 3;

    public int[] Encode(string text)
    {
        var ids = new List<int>(text.Length / 2 + 1);
        int at = 0;
        foreach (Match m in Pieces().Matches(text))
        {
            // The regex covers every character; a gap would only be a character it cannot see (none today).
            Chars(text.AsSpan(at, m.Index - at), ids);
            if (_ids.TryGetValue(m.Value, out int id)) ids.Add(id);
            else Chars(m.ValueSpan, ids);
            at = m.Index + m.Length;
        }
        Chars(text.AsSpan(at), ids);
        return [.. ids];
    }

    /// <summary>The character fallback: one id per character (one &lt;unk&gt; for a character outside the vocabulary, surrogate pairs included).</summary>
    void Chars(ReadOnlySpan<char> piece, List<int> ids)
    {
        foreach (var r in piece.EnumerateRunes()) ids.Add(_ids.TryGetValue(r.ToString(), out int id) ? id : UnkId);
    }

    public string Decode(IEnumerable<int> ids) =>
        string.Concat(ids.Where(i => i >= CharTokenizer.Specials.Length && i < _tokens.Length).Select(i => _tokens[i]));

    public string ToJson() => HfVocabularyJson.Write(_tokens, Pattern);

    public static WordTokenizer FromJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.TryGetProperty("type", out var type))
        {
            if (type.GetString() != Type) throw new InvalidDataException($"tokenizer.json is not a {Type} tokenizer");
            return new WordTokenizer(doc.RootElement.GetProperty("words").EnumerateArray().Select(w => w.GetString() ?? ""));
        }
        var (tokens, pattern) = HfVocabularyJson.TryRead(doc.RootElement) ?? throw new InvalidDataException("tokenizer.json is not a word tokenizer");
        if (pattern != Pattern) throw new InvalidDataException($"tokenizer.json splits by '{pattern}', not the word tokenizer's pieces");
        var fallback = Fallback.ToList();
        if (!tokens.Skip(CharTokenizer.Specials.Length).Take(fallback.Count).SequenceEqual(fallback))
            throw new InvalidDataException("tokenizer.json: the word tokenizer's character fallback is not where it belongs");
        return new WordTokenizer(tokens.Skip(CharTokenizer.Specials.Length + fallback.Count));
    }
}
