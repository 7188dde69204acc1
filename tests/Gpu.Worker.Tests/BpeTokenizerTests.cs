using WorkerTokenizers = MathV2.Gpu.Worker.Text.Tokenizers;
using System.Text.Json.Nodes;
using MathV2.Gpu.Worker.Text;

namespace MathV2.Gpu.Worker.Tests;

public sealed class BpeTokenizerTests
{
    /// <summary>256 byte symbols, then "he", "Ġt", "Ġthe"; merges h+e, Ġ+t, Ġt+he; &lt;|endoftext|&gt; special.</summary>
    static string HandBuilt(bool arrayMerges = false)
    {
        var vocab = new JsonObject();
        var symbols = BpeTokenizer.ByteSymbols;
        for (int i = 0; i < symbols.Count; i++) vocab[symbols[i]] = i;
        vocab["he"] = 256;
        vocab["Ġt"] = 257;
        vocab["Ġthe"] = 258;
        string[][] merges = [["h", "e"], ["Ġ", "t"], ["Ġt", "he"]];
        var mergeNodes = merges.Select(m => arrayMerges ? (JsonNode)new JsonArray(m[0], m[1]) : $"{m[0]} {m[1]}").ToArray();
        return new JsonObject
        {
            ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = 259, ["content"] = "<|endoftext|>", ["special"] = true }),
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray(mergeNodes) },
        }.ToJsonString();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Merges_apply_lowest_rank_first_and_special_tokens_match_literally(bool arrayMerges)
    {
        var tok = BpeTokenizer.FromJson(HandBuilt(arrayMerges));
        // "the" → t, h, e → t, he (no t+he merge);  " the" → Ġ t he → Ġt he → Ġthe.
        Assert.Equal([(int)'t', 256, 258, 259], tok.Encode("the the<|endoftext|>"));
        Assert.Equal(259, tok.EosId);
        Assert.Equal(259, tok.PadId);
        Assert.Null(tok.BosId);
        Assert.Equal(260, tok.VocabSize);
        Assert.Equal("the the", tok.Decode([(int)'t', 256, 258, 259]));
    }

    [Fact]
    public void Any_text_round_trips_through_bytes()
    {
        var tok = BpeTokenizer.FromJson(HandBuilt());
        const string text = "Grüße, 世界! 🎉\n\tx  y   \\boxed{½}\r\n";
        Assert.Equal(text, tok.Decode(tok.Encode(text)));
    }

    [Fact]
    public void Trained_merges_compress_and_round_trip_and_config_names_the_special_tokens()
    {
        string[] corpus = ["Prove that 3 + 4 = 7.", "Prove that 12 * 3 = 36.", "The proof is complete."];
        string json = BpeTokenizer.Train(corpus, merges: 40, specials: ["<s>", "</s>", "<pad>"]);
        string config = """{"add_bos_token": true, "bos_token": "<s>", "eos_token": {"content": "</s>"}, "pad_token": "<pad>"}""";
        var tok = BpeTokenizer.FromJson(json, config);
        const string text = "Prove that 5 + 5 = 10. The proof is complete.";
        var ids = tok.Encode(text);
        Assert.True(ids.Length < System.Text.Encoding.UTF8.GetByteCount(text) / 2, $"{ids.Length} tokens");
        Assert.Equal(text, tok.Decode(ids));
        Assert.Equal(tok.Encode("<s>")[0], tok.BosId);
        Assert.Equal(tok.Encode("</s>")[0], tok.EosId);
        Assert.Equal(tok.Encode("<pad>")[0], tok.PadId);
        Assert.Equal(text, tok.Decode([tok.BosId!.Value, .. ids, tok.EosId]));
        // Without add_bos_token (GPT-2 style files), HF's fast tokenizer adds no start token.
        Assert.Null(BpeTokenizer.FromJson(json, config.Replace("\"add_bos_token\": true, ", "")).BosId);
    }

    [Fact]
    public void Tokenizers_load_finds_every_kind_beside_a_checkpoint()
    {
        string dir = Directory.CreateTempSubdirectory("mathv2-tok-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "tokenizer.json"), HandBuilt());
            Assert.IsType<BpeTokenizer>(WorkerTokenizers.Load(dir));
            File.WriteAllText(Path.Combine(dir, "tokenizer.json"), CharTokenizer.Ascii().ToJson());
            Assert.IsType<CharTokenizer>(WorkerTokenizers.Load(dir));
            File.WriteAllText(Path.Combine(dir, "tokenizer.json"), WordTokenizer.Train(["Step 1: 2 + 3 = 5.", "Step 1: 2 + 3 = 5."]).ToJson());
            Assert.IsType<WordTokenizer>(WorkerTokenizers.Load(dir));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Digits_and_punctuation_split_characters_beyond_16_bits_as_one()
    {
        List<string> Split(string json, string text)
        {
            var pieces = new List<string> { text };
            HfPipeline.PreTokenizerOf(JsonNode.Parse(json))!(pieces, true);
            return pieces;
        }
        // 𝟏 and 𝟐 (mathematical bold digits) are digits to HF, which works on code points.
        Assert.Equal(["a", "𝟏", "𝟐", "b", "1", "2"], Split("""{"type": "Digits", "individual_digits": true}""", "a𝟏𝟐b12"));
        Assert.Equal(["a", "𝟏𝟐", "b", "12"], Split("""{"type": "Digits", "individual_digits": false}""", "a𝟏𝟐b12"));
        Assert.Equal(["x", "!", "𝑦", "?", "?"], Split("""{"type": "Punctuation"}""", "x!𝑦??"));
        Assert.Equal(["a", "𝑥", "b"], Split("""{"type": "WhitespaceSplit"}""", "a \u3000𝑥\tb"));
    }

    [Fact]
    public void Unsupported_files_get_clear_errors()
    {
        var wordPiece = """{"model": {"type": "WordPiece", "vocab": {}}}""";
        Assert.Contains("WordPiece is not supported", Assert.Throws<InvalidDataException>(() => BpeTokenizer.FromJson(wordPiece)).Message);
        var noEos = """{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}""";
        Assert.Contains("end-of-sequence", Assert.Throws<InvalidDataException>(() => BpeTokenizer.FromJson(noEos)).Message);
        var badMerge = """{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b c"]}}""";
        Assert.Contains("merges[0]", Assert.Throws<InvalidDataException>(() => BpeTokenizer.FromJson(badMerge)).Message);
        var missingMerge = """{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}}""";
        Assert.Contains("merges[0] ('a' + 'b')", Assert.Throws<InvalidDataException>(() => BpeTokenizer.FromJson(missingMerge)).Message);

        // Every part that would change the ids and is not implemented is refused by name, never skipped.
        string With(string part, string json)
        {
            var root = JsonNode.Parse(HandBuilt())!.AsObject();
            root[part] = JsonNode.Parse(json);
            return root.ToJsonString();
        }
        string Refused(string json) => Assert.Throws<InvalidDataException>(() => BpeTokenizer.FromJson(json)).Message;
        Assert.Contains("normalizer type Precompiled is not supported", Refused(With("normalizer", """{"type": "Precompiled", "precompiled_charsmap": "AA=="}""")));
        Assert.Contains("normalizer.normalizers[1] type BertNormalizer", Refused(With("normalizer", """{"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "BertNormalizer"}]}""")));
        Assert.Contains("pre_tokenizer.pretokenizers[0] type UnicodeScripts", Refused(With("pre_tokenizer", """{"type": "Sequence", "pretokenizers": [{"type": "UnicodeScripts"}]}""")));
        Assert.Contains("decoder type WordPiece", Refused(With("decoder", """{"type": "WordPiece", "prefix": "##"}""")));
        Assert.Contains("post_processor type RobertaProcessing", Refused(With("post_processor", """{"type": "RobertaProcessing"}""")));
        Assert.Contains("adds special tokens other than one before the text", Refused(With("post_processor",
            """{"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}]}""")));
        Assert.Contains("not supported by .NET regex", Refused(With("pre_tokenizer", """{"type": "Split", "pattern": {"Regex": "\\p{L}++"}, "behavior": "Isolated"}""")));
        Assert.Contains("pre_tokenizer.behavior 'Sideways'", Refused(With("pre_tokenizer", """{"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways"}""")));
        var dropout = JsonNode.Parse(HandBuilt())!.AsObject();
        dropout["model"]!["dropout"] = 0.1;
        Assert.Contains("dropout", Refused(dropout.ToJsonString()));
        // Added tokens take the ids after the vocabulary, as Hugging Face's loader gives them: a gap is refused.
        var gap = JsonNode.Parse(HandBuilt())!.AsObject();
        gap["added_tokens"]![0]!["id"] = 300;
        Assert.Contains("has id 300, but Hugging Face's tokenizers would give it 259", Refused(gap.ToJsonString()));
    }
}
