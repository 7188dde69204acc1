using System.Text.Json;
using System.Text.Json.Nodes;

namespace MathV2.Gpu.Worker.Text;

/// <summary>
/// The demo's character and word tokenizers as Hugging Face tokenizer.json files that the tokenizers library
/// loads as is and that encode the same ids: a BPE model with no merges and <c>ignore_merges</c> (a piece in the
/// vocabulary is one token, any other piece its characters, an unknown character &lt;unk&gt;), the word tokenizer's
/// pieces as a Split pre-tokenizer, &lt;bos&gt; added by the post-processor, pieces fused back on decoding.
/// tokenizer_config.json beside it names the special tokens for AutoTokenizer.
/// </summary>
public static class HfVocabularyJson
{
    /// <summary>The vocabulary in id order, written as tokenizer.json; <paramref name="splitPattern"/> null: the whole text is one piece.</summary>
    public static string Write(IReadOnlyList<string> tokensById, string? splitPattern)
    {
        var vocab = new JsonObject();
        for (int i = 0; i < tokensById.Count; i++) vocab[tokensById[i]] = i;
        var added = new JsonArray();
        for (int i = 0; i < CharTokenizer.Specials.Length; i++)
            added.Add(new JsonObject
            {
                ["id"] = i, ["content"] = CharTokenizer.Specials[i], ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
            });
        JsonObject Bos() => new() { ["SpecialToken"] = new JsonObject { ["id"] = "<bos>", ["type_id"] = 0 } };
        JsonObject Seq(string id, int type) => new() { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = type } };
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = splitPattern == null ? null : new JsonObject
            {
                ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = splitPattern }, ["behavior"] = "Isolated", ["invert"] = false,
            },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(Bos(), Seq("A", 0)),
                ["pair"] = new JsonArray(Bos(), Seq("A", 0), Seq("B", 1)),
                ["special_tokens"] = new JsonObject { ["<bos>"] = new JsonObject { ["id"] = "<bos>", ["ids"] = new JsonArray(1), ["tokens"] = new JsonArray("<bos>") } },
            },
            ["decoder"] = new JsonObject { ["type"] = "Fuse" },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = "<unk>", ["continuing_subword_prefix"] = null, ["end_of_word_suffix"] = null,
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = true, ["vocab"] = vocab, ["merges"] = new JsonArray(),
            },
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>tokenizer_config.json for the demo tokenizers: the special tokens and the fast tokenizer class.</summary>
    public static string Config(int maxLength) => new JsonObject
    {
        ["tokenizer_class"] = "PreTrainedTokenizerFast", ["bos_token"] = "<bos>", ["eos_token"] = "<eos>", ["pad_token"] = "<pad>", ["unk_token"] = "<unk>",
        ["model_max_length"] = maxLength, ["clean_up_tokenization_spaces"] = false,
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>
    /// The vocabulary (id order) and split pattern of a tokenizer.json this class wrote, or null for any other file
    /// (a real model's tokenizer, which BpeTokenizer reads).
    /// </summary>
    public static (List<string> Tokens, string? Pattern)? TryRead(JsonElement root)
    {
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object
            || !model.TryGetProperty("type", out var type) || type.GetString() != "BPE"
            || !model.TryGetProperty("ignore_merges", out var ignore) || ignore.ValueKind != JsonValueKind.True
            || !model.TryGetProperty("merges", out var merges) || merges.GetArrayLength() != 0
            || !model.TryGetProperty("vocab", out var vocab)) return null;
        string? pattern = root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object
            && pre.TryGetProperty("pattern", out var p) && p.TryGetProperty("Regex", out var r) ? r.GetString() : null;
        var tokens = vocab.EnumerateObject().OrderBy(x => x.Value.GetInt32()).Select(x => x.Name).ToList();
        if (!tokens.Take(CharTokenizer.Specials.Length).SequenceEqual(CharTokenizer.Specials)) return null;
        return (tokens, pattern);
    }
}
