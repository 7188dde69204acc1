using System.Text;
using System.Text.Json.Nodes;
using MathV2.Gpu.Worker.Text;
using HfTokenizer = Tokenizers.DotNet.Tokenizer;

namespace MathV2.Gpu.Worker.Tests;

/// <summary>
/// Character classes the tokenizers library takes from Rust (char::is_alphanumeric for single_word added tokens,
/// char::to_lowercase for the Lowercase normalizer, byte fallback over the prefixed symbol) against Hugging Face's
/// own tokenizers on every code point: a byte-level file without merges makes the ids the UTF-8 bytes of what the
/// normalizer and the added tokens leave.
/// </summary>
public sealed class UnicodeClassTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("mathv2-unicode-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    static IEnumerable<string> AllCodePoints()
    {
        for (int c = 0; c <= 0x10FFFF; c++)
            if (c is < 0xD800 or > 0xDFFF) yield return char.ConvertFromUtf32(c);
    }

    string BytesFile(string name, JsonNode? normalizer, params JsonObject[] added)
    {
        var vocab = ByteLevel.Symbols.Select((s, i) => (s, i)).ToDictionary(x => x.s, x => x.i);
        return TiktokenJson.Write(TiktokenJson.Tokenizer(vocab, [], TiktokenJson.ByteLevelPre(), [.. added, TiktokenJson.Added("</s>", 256 + added.Length)], normalizer: normalizer), Path.Combine(_dir, name));
    }

    /// <summary>Each chunk of code points rendered as one text; where a text differs, its code points one by one, reported as ranges.</summary>
    static void AssertSame(string path, IEnumerable<string[]> chunks, Func<IEnumerable<string>, string> render)
    {
        var ours = BpeTokenizer.FromFile(path);
        var hf = new HfTokenizer(vocabPath: path);
        bool Same(string text) => ours.Encode(text).SequenceEqual(hf.Encode(text).Select(i => (int)i));
        var differing = new List<int>();
        foreach (var chunk in chunks)
            if (!Same(render(chunk)))
                differing.AddRange(chunk.Where(c => !Same(render([c]))).Select(c => char.ConvertToUtf32(c, 0)));
        var ranges = new List<(int From, int To)>();
        foreach (int c in differing)
            if (ranges.Count > 0 && ranges[^1].To == c - 1) ranges[^1] = (ranges[^1].From, c);
            else ranges.Add((c, c));
        Assert.True(differing.Count == 0, $"{differing.Count} code points differ from Hugging Face's: " +
            string.Join(", ", ranges.Select(r => r.From == r.To ? $"0x{r.From:X}" : $"0x{r.From:X}-0x{r.To:X}")));
    }

    static void AssertSame(string path, IEnumerable<string> texts)
    {
        var ours = BpeTokenizer.FromFile(path);
        var hf = new HfTokenizer(vocabPath: path);
        foreach (string text in texts)
            Assert.True(ours.Encode(text).SequenceEqual(hf.Encode(text).Select(i => (int)i)), $"'{text}': [{string.Join(",", ours.Encode(text))}], Hugging Face's [{string.Join(",", hf.Encode(text))}]");
    }

    [Fact]
    public void Single_word_added_tokens_see_words_as_Rust_does_on_every_code_point()
    {
        // "§§" is matched only with no word character (Rust: alphanumeric or _) on either side.
        string path = BytesFile("single-word.json", null, TiktokenJson.Added("§§", 256, special: false, singleWord: true, normalized: false));
        AssertSame(path, AllCodePoints().Chunk(512), chunk => string.Concat(chunk.Select(c => $"{c}§§ §§{c} ")));
        var tok = BpeTokenizer.FromFile(path);
        Assert.Contains(256, tok.Encode("x §§ y"));
        Assert.DoesNotContain(256, tok.Encode("𝑥§§"));   // a letter beyond 16 bits is a word character
        Assert.DoesNotContain(256, tok.Encode("e\u0301§§"));   // and a combining mark
        Assert.Contains(256, tok.Encode("²§§"));   // a digit of another category (No) is not
    }

    [Fact]
    public void Lowercase_maps_every_code_point_as_Rust_does()
    {
        string path = BytesFile("lowercase.json", new JsonObject { ["type"] = "Lowercase" });
        AssertSame(path, AllCodePoints().Chunk(2048), string.Concat);
        Assert.Equal(Encoding.UTF8.GetBytes("i\u0307").Select(b => (int)b), BpeTokenizer.FromFile(path).Encode("İ"));
    }

    [Fact]
    public void Byte_fallback_spells_the_prefixed_symbol_as_Rust_does()
    {
        // A WordPiece-style vocabulary in a BPE model: symbols after the first carry "##"; what is missing falls back to bytes.
        var vocab = new Dictionary<string, int> { ["<unk>"] = 0 };
        for (int b = 0; b < 256; b++) vocab[$"<0x{b:X2}>"] = vocab.Count;
        foreach (string s in new[] { "a", "b", "##a", "##b", "ab" }) vocab[s] = vocab.Count;
        var json = TiktokenJson.Tokenizer(vocab, [("a", "##b")], new JsonObject { ["type"] = "WhitespaceSplit" }, [TiktokenJson.Added("<unk>", 0), TiktokenJson.Added("</s>", vocab.Count)],
            ignoreMerges: false, unk: "<unk>", byteFallback: true, decoder: new JsonObject { ["type"] = "ByteFallback" });
        json["model"]!["continuing_subword_prefix"] = "##";
        string path = TiktokenJson.Write(json, Path.Combine(_dir, "prefix-fallback.json"));
        AssertSame(path, ["ab", "aé", "éa", "a中b", "ba b", "é", "aaé 中"]);
        var tok = BpeTokenizer.FromFile(path);
        Assert.Equal(["a", "<0x23>", "<0x23>", "<0xC3>", "<0xA9>"], tok.Encode("aé").Select(tok.TokenOf));
    }
}
