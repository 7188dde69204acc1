using System.Text.Json.Nodes;
using MathV2.Gpu.Worker.Text;
using TiktokenTokenizer = Microsoft.ML.Tokenizers.TiktokenTokenizer;
using Xunit.Abstractions;
using HfTokenizer = Tokenizers.DotNet.Tokenizer;

namespace MathV2.Gpu.Worker.Tests;

/// <summary>The tiktoken vocabularies turned into tokenizer.json files once for the class (o200k takes seconds).</summary>
public sealed class TiktokenFiles : IDisposable
{
    public readonly string Dir = Directory.CreateTempSubdirectory("mathv2-tiktoken-").FullName;
    readonly Dictionary<string, (Dictionary<string, int> Vocab, List<(string, string)> Merges)> _read = [];
    public IReadOnlyList<string> Corpus { get; } = TokenizerCorpus.Lines();

    public (Dictionary<string, int> Vocab, List<(string, string)> Merges) Read(string model)
    {
        lock (_read)
        {
            if (_read.TryGetValue(model, out var r)) return r;
            var e = TiktokenJson.Encodings.Single(x => x.Model == model);
            var vocab = TiktokenJson.Vocabulary(e.Assembly, e.Resource);
            return _read[model] = (vocab, TiktokenJson.Merges(vocab));
        }
    }

    public void Dispose() => Directory.Delete(Dir, true);
}

/// <summary>
/// The worker's tokenizer.json reader against two independent implementations on a 10,000-line corpus: ML.NET's
/// tiktoken tokenizers (GPT-2, cl100k, o200k) and Hugging Face's tokenizers (the Rust library), on files built from
/// the same vocabularies, and on files laid out as the model families ship them (NFC, several Splits, added tokens,
/// the start token of the post-processor, byte fallback with Metaspace or with Prepend/Replace).
/// </summary>
public sealed class TokenizerFidelityTests(TiktokenFiles files, ITestOutputHelper output) : IClassFixture<TiktokenFiles>
{
    [Theory]
    [InlineData("gpt2")]
    [InlineData("gpt-4")]
    [InlineData("gpt-4o")]
    public void Tiktoken_vocabularies_give_the_ids_of_ML_NET_and_of_Hugging_Face_on_the_corpus(string model)
    {
        var e = TiktokenJson.Encodings.Single(x => x.Model == model);
        var (vocab, merges) = files.Read(model);
        var json = TiktokenJson.Tokenizer(vocab, merges,
            TiktokenJson.Sequence("pretokenizers", TiktokenJson.Split(e.Pattern), TiktokenJson.ByteLevelPre()),
            TiktokenJson.SpecialsAfter(vocab.Count, e.Specials));
        string path = TiktokenJson.Write(json, Path.Combine(files.Dir, $"{model}.json"));
        var ours = BpeTokenizer.FromFile(path);
        var ml = TiktokenTokenizer.CreateForModel(model);
        var hf = new HfTokenizer(vocabPath: path);

        int sameAsMl = 0, mlDiffers = 0, tokens = 0;
        var mlDiffering = new List<string>();
        foreach (string line in files.Corpus)
        {
            int[] mine = ours.Encode(line);
            int[] theirs = [.. hf.Encode(line).Select(i => (int)i)];
            Assert.True(theirs.SequenceEqual(mine), $"{model}, '{line}': ours [{string.Join(",", mine)}], Hugging Face's [{string.Join(",", theirs)}]");
            Assert.Equal(line, ours.Decode(mine));
            tokens += mine.Length;
            int[] mlIds = [.. ml.EncodeToIds(line)];
            if (mlIds.SequenceEqual(mine)) { sameAsMl++; continue; }
            // ML.NET runs the pattern over UTF-16 units, so a letter or digit beyond 16 bits (𝑥, 𝟏) is neither to it;
            // tiktoken and HF match code points. Every line where it differs must hold such a character.
            mlDiffers++;
            mlDiffering.Add(line);
            Assert.True(line.Any(char.IsSurrogate), $"{model}, '{line}': ours [{string.Join(",", mine)}], ML.NET's [{string.Join(",", mlIds)}]");
        }
        output.WriteLine($"{model}: {files.Corpus.Count} lines, {tokens} tokens; ML.NET's ids on {sameAsMl} lines, Hugging Face's on all; " +
            $"{mlDiffers} lines differ from ML.NET only where it splits characters beyond 16 bits (HF's ids there)");
        Assert.True(files.Corpus.Count >= 10_000);
        Assert.True(sameAsMl >= files.Corpus.Count * 9 / 10, $"{sameAsMl} lines agree with ML.NET");
        // The deviation is ML.NET's: on the BMP-only part of each differing line it agrees.
        foreach (string line in mlDiffering.Take(50))
        {
            string bmp = new([.. line.Where(c => !char.IsSurrogate(c))]);
            Assert.Equal(ml.EncodeToIds(bmp).ToArray(), ours.Encode(bmp));
        }
        // Special tokens are single ids, never split into bytes.
        foreach (var (content, id) in e.Specials) Assert.Equal([.. ours.Encode("x"), id, .. ours.Encode("y")], ours.Encode($"x{content}y"));
    }

    public static TheoryData<string> Families => ["qwen2", "llama3", "deepseek", "gpt2-digits"];

    /// <summary>The layouts of the families' files, on the cl100k vocabulary with its derived merges.</summary>
    JsonObject FamilyFile(string family)
    {
        var (vocab, merges) = files.Read("gpt-4");
        int next = vocab.Count;
        JsonObject Add(string content, bool special = true, bool lstrip = false, bool rstrip = false, bool single = false, bool? normalized = null) =>
            TiktokenJson.Added(content, next++, special, lstrip, rstrip, single, normalized);
        const string qwenPattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
        switch (family)
        {
            case "qwen2":
                return TiktokenJson.Tokenizer(vocab, merges,
                    TiktokenJson.Sequence("pretokenizers", TiktokenJson.Split(qwenPattern), TiktokenJson.ByteLevelPre()),
                    [Add("<|endoftext|>"), Add("<|im_start|>"), Add("<|im_end|>"), Add("<think>", special: false, normalized: false), Add("</think>", special: false, normalized: false)],
                    normalizer: new JsonObject { ["type"] = "NFC" },
                    postProcessor: new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false },
                    ignoreMerges: false);
            case "llama3":
            {
                var bos = Add("<|begin_of_text|>");
                return TiktokenJson.Tokenizer(vocab, merges,
                    TiktokenJson.Sequence("pretokenizers", TiktokenJson.Split(TiktokenJson.Cl100kPattern), TiktokenJson.ByteLevelPre()),
                    [bos, Add("<|end_of_text|>"), Add("<|eot_id|>"), Add("<|start_header_id|>"), Add("<|end_header_id|>")],
                    postProcessor: TiktokenJson.Sequence("processors",
                        new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
                        TiktokenJson.BosTemplate("<|begin_of_text|>", bos["id"]!.GetValue<int>())));
            }
            case "deepseek":
            {
                var bos = Add("<｜begin▁of▁sentence｜>");
                return TiktokenJson.Tokenizer(vocab, merges,
                    TiktokenJson.Sequence("pretokenizers",
                        TiktokenJson.Split(@"\p{N}{1,3}"),
                        TiktokenJson.Split("[一-龥\u3040-ゟ゠-ヿ]+"),
                        TiktokenJson.Split(@"[!""#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"),
                        TiktokenJson.ByteLevelPre()),
                    [bos, Add("<｜end▁of▁sentence｜>"), Add("<｜User｜>", special: false, lstrip: true, rstrip: true, normalized: false),
                     Add("QED", special: false, single: true, normalized: true), Add("proof", special: false, lstrip: true, normalized: true)],
                    postProcessor: TiktokenJson.BosTemplate("<｜begin▁of▁sentence｜>", bos["id"]!.GetValue<int>()), ignoreMerges: false);
            }
            case "gpt2-digits":
                return TiktokenJson.Tokenizer(vocab, merges,
                    TiktokenJson.Sequence("pretokenizers", new JsonObject { ["type"] = "Digits", ["individual_digits"] = true }, TiktokenJson.ByteLevelPre(addPrefixSpace: true, useRegex: true)),
                    [Add("<|endoftext|>")],
                    normalizer: TiktokenJson.Sequence("normalizers", new JsonObject { ["type"] = "NFKC" },
                        new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = "\t" }, ["content"] = "    " }),
                    ignoreMerges: false);
            default: throw new ArgumentException(family);
        }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Family_layouts_give_Hugging_Face_ids_and_text_on_the_corpus(string family)
    {
        string path = TiktokenJson.Write(FamilyFile(family), Path.Combine(files.Dir, $"{family}.json"));
        AssertSameAsHuggingFace(family, path, files.Corpus);
    }

    void AssertSameAsHuggingFace(string name, string path, IReadOnlyList<string> lines, Func<string, string>? extra = null)
    {
        var ours = BpeTokenizer.FromFile(path);
        var hf = new HfTokenizer(vocabPath: path);
        int tokens = 0;
        foreach (string raw in lines)
        {
            string line = extra?.Invoke(raw) ?? raw;
            int[] mine = [.. ours.Start(), .. ours.Encode(line)];
            uint[] theirs = hf.Encode(line);
            Assert.True(theirs.Select(i => (int)i).SequenceEqual(mine), $"{name}, '{line}': ours [{string.Join(",", mine)}], Hugging Face's [{string.Join(",", theirs)}]");
            Assert.Equal(hf.Decode(theirs), ours.Decode(mine));
            tokens += mine.Length;
        }
        output.WriteLine($"{name}: {lines.Count} lines, {tokens} tokens, the same ids and text as Hugging Face's tokenizers");
    }

    [Fact]
    public void Added_tokens_inside_text_are_matched_as_Hugging_Face_matches_them()
    {
        string path = TiktokenJson.Write(FamilyFile("deepseek"), Path.Combine(files.Dir, "deepseek-added.json"));
        var rng = new Random(7);
        string[] inserts = ["<｜User｜>", " <｜User｜> ", "<｜end▁of▁sentence｜>", " QED ", "QEDs", "xQED", " proof", "  proofs", "<｜begin▁of▁sentence｜>"];
        AssertSameAsHuggingFace("deepseek with added tokens", path, files.Corpus.Take(2000).ToList(), line =>
        {
            int at = rng.Next(line.Length + 1);
            if (at > 0 && at < line.Length && char.IsLowSurrogate(line[at])) at--;
            return line[..at] + inserts[rng.Next(inserts.Length)] + line[at..];
        });
        var tok = BpeTokenizer.FromFile(path);
        Assert.Equal(files.Read("gpt-4").Vocab.Count, tok.BosId);
        Assert.Equal(tok.Encode("<｜end▁of▁sentence｜>").Single(), tok.EosId);
    }

    /// <summary>A SentencePiece-style vocabulary (Llama 2, Mistral): ▁-words, &lt;0xNN&gt; byte tokens, &lt;unk&gt;.</summary>
    static (Dictionary<string, int> Vocab, List<(string, string)> Merges) ByteFallbackVocabulary()
    {
        var vocab = new Dictionary<string, int> { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        for (int b = 0; b < 256; b++) vocab[$"<0x{b:X2}>"] = vocab.Count;
        foreach (char c in "▁" + string.Concat(Enumerable.Range(33, 94).Select(i => (char)i)) + "éüß中证明∀ε") vocab.TryAdd(c.ToString(), vocab.Count);
        var merges = new List<(string, string)>();
        foreach (string word in new[] { "▁the", "▁proof", "▁Proof", "▁Let", "▁let", "▁and", "▁is", "▁of", "▁that", "▁for", "ing", "tion", "▁Theorem", "▁n", "▁x", "▁\\frac", "▁$", "▁=", "证明" })
            for (int k = 2; k <= word.Length; k++)
            {
                string left = word[..(k - 1)], merged = word[..k];
                if (vocab.ContainsKey(merged)) continue;
                merges.Add((left, word[(k - 1)].ToString()));
                vocab[merged] = vocab.Count;
            }
        return (vocab, merges);
    }

    [Theory]
    [InlineData("prepend-replace")]
    [InlineData("metaspace")]
    public void Byte_fallback_files_give_Hugging_Face_ids_and_text_on_the_corpus(string layout)
    {
        var (vocab, merges) = ByteFallbackVocabulary();
        // <proof> is an added token matched after the normalizer, by its normalized form (▁<proof> after a space).
        var specials = new[] { TiktokenJson.Added("<unk>", 0), TiktokenJson.Added("<s>", 1), TiktokenJson.Added("</s>", 2),
            TiktokenJson.Added("<proof>", vocab.Count, special: false, normalized: true) };
        JsonNode Str(string s) => new JsonObject { ["String"] = s };
        var json = layout == "prepend-replace"
            ? TiktokenJson.Tokenizer(vocab, merges, null, specials,
                normalizer: TiktokenJson.Sequence("normalizers", new JsonObject { ["type"] = "Prepend", ["prepend"] = "▁" },
                    new JsonObject { ["type"] = "Replace", ["pattern"] = Str(" "), ["content"] = "▁" }),
                postProcessor: TiktokenJson.BosTemplate("<s>", 1),
                decoder: TiktokenJson.Sequence("decoders", new JsonObject { ["type"] = "Replace", ["pattern"] = Str("▁"), ["content"] = " " },
                    new JsonObject { ["type"] = "ByteFallback" }, new JsonObject { ["type"] = "Fuse" },
                    new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1, ["stop"] = 0 }),
                ignoreMerges: false, unk: "<unk>", byteFallback: true, fuseUnk: true)
            : TiktokenJson.Tokenizer(vocab, merges,
                new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "first", ["split"] = true }, specials,
                postProcessor: TiktokenJson.BosTemplate("<s>", 1),
                decoder: TiktokenJson.Sequence("decoders", new JsonObject { ["type"] = "ByteFallback" },
                    new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "first", ["split"] = true }),
                ignoreMerges: false, unk: "<unk>", byteFallback: true);
        string path = TiktokenJson.Write(json, Path.Combine(files.Dir, $"fallback-{layout}.json"));
        AssertSameAsHuggingFace($"byte fallback ({layout})", path, files.Corpus);
        var rng = new Random(11);
        AssertSameAsHuggingFace($"byte fallback ({layout}) with added tokens", path, files.Corpus.Take(1000).ToList(), line =>
        {
            int at = rng.Next(line.Length + 1);
            if (at > 0 && at < line.Length && char.IsLowSurrogate(line[at])) at--;
            return line[..at] + (rng.Next(3) switch { 0 => " <proof>", 1 => "<proof> ", _ => "</s>" }) + line[at..];
        });
        var tok = BpeTokenizer.FromFile(path);
        // 😀 is no token: its four bytes are.
        Assert.Equal(["<0xF0>", "<0x9F>", "<0x98>", "<0x80>"], tok.Encode("😀").Select(tok.TokenOf).Where(t => t!.StartsWith("<0x")));
    }
}
