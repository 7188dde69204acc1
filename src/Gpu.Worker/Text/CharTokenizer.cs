using System.Text.Json;

namespace MathV2.Gpu.Worker.Text;

/// <summary>What the sampler and trainers need of a tokenizer.</summary>
public interface ITokenizer
{
    int VocabSize { get; }
    int PadId { get; }
    /// <summary>Prepended to every sequence when the tokenizer has one.</summary>
    int? BosId { get; }
    int EosId { get; }
    int[] Encode(string text);
    string Decode(IEnumerable<int> ids);
    /// <summary>The vocabulary's piece for an id (null when unused).</summary>
    string? TokenOf(int id);
    /// <summary>A prompt's ids as the model reads them: the start token and the text (a chat template's turn with <see cref="ChatPrompts"/>).</summary>
    int[] EncodePrompt(string prompt) => [.. Tokenizers.Start(this), .. Encode(prompt)];
}

/// <summary>
/// A character tokenizer for the built-in demo domain: special tokens &lt;pad&gt; &lt;bos&gt; &lt;eos&gt; &lt;unk&gt;,
/// then one id per character of its alphabet. Saved as a Hugging Face tokenizer.json (<see cref="HfVocabularyJson"/>);
/// the earlier {"type":"mathv2-char",…} form still loads.
/// </summary>
public sealed class CharTokenizer : ITokenizer
{
    public static readonly string[] Specials = ["<pad>", "<bos>", "<eos>", "<unk>"];
    public const string FileName = "tokenizer.json";

    readonly string _alphabet;
    readonly Dictionary<char, int> _ids;

    public CharTokenizer(string alphabet)
    {
        _alphabet = new string(alphabet.Distinct().ToArray());
        _ids = _alphabet.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i + Specials.Length);
    }

    /// <summary>The printable ASCII range plus newline: enough for the demo domain and its prompts.</summary>
    public static CharTokenizer Ascii() => new("\n" + new string(Enumerable.Range(32, 95).Select(i => (char)i).ToArray()) + "½");

    public string Alphabet => _alphabet;
    public int VocabSize => Specials.Length + _alphabet.Length;
    public int PadId => 0;
    public int? BosId => 1;
    public int EosId => 2;
    public int UnkId => 3;

    /// <summary>One id per character (a character outside the alphabet, or beyond 16 bits, is one &lt;unk&gt;, as in Hugging Face's tokenizers).</summary>
    public int[] Encode(string text) => text.EnumerateRunes().Select(r => r.IsBmp && _ids.TryGetValue((char)r.Value, out int id) ? id : UnkId).ToArray();

    public string Decode(IEnumerable<int> ids) =>
        new(ids.Where(i => i >= Specials.Length && i < VocabSize).Select(i => _alphabet[i - Specials.Length]).ToArray());

    public string? TokenOf(int id) => id < 0 || id >= VocabSize ? null : id < Specials.Length ? Specials[id] : _alphabet[id - Specials.Length].ToString();

    public string ToJson() => HfVocabularyJson.Write([.. Specials, .. _alphabet.Select(c => c.ToString())], null);

    public static CharTokenizer FromJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.TryGetProperty("type", out var type))
        {
            if (type.GetString() != "mathv2-char") throw new InvalidDataException("tokenizer.json is not a mathv2-char tokenizer");
            return new CharTokenizer(doc.RootElement.GetProperty("alphabet").GetString()!);
        }
        var (tokens, pattern) = HfVocabularyJson.TryRead(doc.RootElement) ?? throw new InvalidDataException("tokenizer.json is not a character tokenizer");
        var chars = tokens.Skip(Specials.Length).ToList();
        if (pattern != null || chars.Any(t => t.Length != 1)) throw new InvalidDataException("tokenizer.json is not a character tokenizer (it splits text, or has pieces longer than a character)");
        return new CharTokenizer(string.Concat(chars));
    }
}

/// <summary>Loads the tokenizer saved beside a checkpoint: the demo's character or word tokenizer, or a HF byte-level BPE.</summary>
public static class Tokenizers
{
    public static ITokenizer Load(string dir)
    {
        string path = Path.Combine(dir, CharTokenizer.FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint {dir} has no {CharTokenizer.FileName}");
        string json = File.ReadAllText(path);
        using (var doc = JsonDocument.Parse(json))
        {
            if (doc.RootElement.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String)
                switch (t.GetString())
                {
                    case "mathv2-char": return CharTokenizer.FromJson(json);
                    case WordTokenizer.Type: return WordTokenizer.FromJson(json);
                }
            // The demo tokenizers in Hugging Face's form: a merge-free vocabulary, split into words or not at all.
            if (HfVocabularyJson.TryRead(doc.RootElement) is var (_, pattern))
                return pattern == null ? CharTokenizer.FromJson(json) : WordTokenizer.FromJson(json);
        }
        return BpeTokenizer.FromFile(path);
    }

    /// <summary>Token ids of a sequence start: BOS when the tokenizer has one.</summary>
    public static int[] Start(this ITokenizer tok) => tok.BosId is { } b ? [b] : [];
}
