using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace MathV2.Gpu.Worker.Text;

/// <summary>
/// Hugging Face byte-level BPE (GPT-2, Llama 3, Qwen2 family) read from tokenizer.json: vocab and merges of the
/// "BPE" model, added (special) tokens matched literally before pre-tokenization, the Split regex of the
/// pre-tokenizer (GPT-2's when the file has none), bytes mapped to printable characters as GPT-2 does.
/// </summary>
public sealed class BpeTokenizer : ITokenizer
{
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    static readonly char[] ByteToChar = BuildByteMap();
    static readonly Dictionary<char, byte> CharToByte = ByteToChar.Select((c, b) => (c, b)).ToDictionary(x => x.c, x => (byte)x.b);

    readonly Dictionary<string, int> _vocab;
    readonly string[] _idToToken;
    readonly Dictionary<(string, string), int> _ranks;
    readonly Dictionary<string, int> _added;
    readonly HashSet<int> _special;
    readonly Regex? _addedRegex;
    readonly Regex _split;
    readonly bool _addPrefixSpace;
    readonly Dictionary<string, int[]> _cache = new();

    public BpeTokenizer(IReadOnlyDictionary<string, int> vocab, IEnumerable<(string Left, string Right)> merges,
        IEnumerable<(string Content, int Id, bool Special)>? added = null, string? pattern = null, bool addPrefixSpace = false,
        string? bos = null, string? eos = null, string? pad = null)
    {
        _vocab = new Dictionary<string, int>(vocab);
        _ranks = new Dictionary<(string, string), int>();
        int rank = 0;
        foreach (var m in merges) _ranks.TryAdd(m, rank++);
        _added = new Dictionary<string, int>();
        _special = [];
        foreach (var (content, id, special) in added ?? [])
        {
            _added[content] = id;
            _vocab.TryAdd(content, id);
            if (special) _special.Add(id);
        }
        int size = _vocab.Count == 0 ? 0 : _vocab.Values.Max() + 1;
        _idToToken = new string[size];
        foreach (var (t, id) in _vocab) _idToToken[id] = t;
        _addedRegex = _added.Count == 0 ? null
            : new Regex(string.Join("|", _added.Keys.OrderByDescending(k => k.Length).Select(Regex.Escape)), RegexOptions.CultureInvariant);
        try { _split = new Regex(pattern ?? Gpt2Pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled); }
        catch (ArgumentException e) { throw new InvalidDataException($"tokenizer.json: pre-tokenizer pattern is not supported by .NET regex: {e.Message}"); }
        _addPrefixSpace = addPrefixSpace;
        BosId = Find(bos, "<|begin_of_text|>", "<s>", "<bos>");
        EosId = Find(eos, "<|end_of_text|>", "<|endoftext|>", "</s>", "<eos>", "<|im_end|>")
            ?? throw new InvalidDataException("tokenizer.json: no end-of-sequence token (give eos, or add <|endoftext|> / </s>)");
        PadId = Find(pad, "<pad>", "<|pad|>", "<|finetune_right_pad_id|>") ?? EosId;
    }

    int? Find(string? given, params string[] candidates)
    {
        if (given != null) return _vocab.TryGetValue(given, out int id) ? id : throw new InvalidDataException($"tokenizer.json: token '{given}' is not in the vocabulary");
        foreach (string c in candidates) if (_vocab.TryGetValue(c, out int id)) return id;
        return null;
    }

    public int VocabSize => _idToToken.Length;
    public int PadId { get; }
    public int? BosId { get; }
    public int EosId { get; }

    /// <summary>Reads tokenizer.json and, when present beside it, tokenizer_config.json (bos_token, eos_token, pad_token).</summary>
    public static BpeTokenizer FromFile(string tokenizerJson)
    {
        string? configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tokenizerJson))!, "tokenizer_config.json");
        return FromJson(File.ReadAllText(tokenizerJson), File.Exists(configPath) ? File.ReadAllText(configPath) : null);
    }

    /// <summary>The tokenizer.json it was read from (saved beside checkpoints as is).</summary>
    public string Json { get; private set; } = "";
    /// <summary>The tokenizer_config.json read with it, if any.</summary>
    public string? ConfigJson { get; private set; }

    public static BpeTokenizer FromJson(string json, string? tokenizerConfigJson = null)
    {
        var tok = Parse(json, tokenizerConfigJson);
        tok.Json = json;
        tok.ConfigJson = tokenizerConfigJson;
        return tok;
    }

    static BpeTokenizer Parse(string json, string? tokenizerConfigJson)
    {
        var root = JsonNode.Parse(json)?.AsObject() ?? throw new InvalidDataException("tokenizer.json is empty");
        var model = root["model"]?.AsObject() ?? throw new InvalidDataException("tokenizer.json: no model");
        string type = model["type"]?.GetValue<string>() ?? "BPE";
        if (type != "BPE") throw new InvalidDataException($"tokenizer.json: model type {type} is not supported (only byte-level BPE)");
        var vocab = model["vocab"]?.AsObject().ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<int>())
            ?? throw new InvalidDataException("tokenizer.json: model.vocab is missing");
        var merges = new List<(string, string)>();
        int index = 0;
        foreach (var m in model["merges"]?.AsArray() ?? [])
        {
            index++;
            if (m is JsonArray pair && pair.Count == 2) merges.Add((pair[0]!.GetValue<string>(), pair[1]!.GetValue<string>()));
            else if (m?.GetValueKind() == JsonValueKind.String && m.GetValue<string>().Split(' ') is [var l, var r]) merges.Add((l, r));
            else throw new InvalidDataException($"tokenizer.json: model.merges[{index - 1}] is neither \"a b\" nor [\"a\", \"b\"]");
        }
        var added = (root["added_tokens"]?.AsArray() ?? []).Select(t => (
            t!["content"]!.GetValue<string>(), t["id"]!.GetValue<int>(), t["special"]?.GetValue<bool>() ?? false)).ToList();
        string? pattern = null;
        bool prefix = false;
        foreach (var pre in Flatten(root["pre_tokenizer"]))
        {
            string? t = pre["type"]?.GetValue<string>();
            if (t == "Split" && pre["pattern"]?["Regex"] is { } rx) pattern = rx.GetValue<string>();
            if (t == "ByteLevel") prefix = pre["add_prefix_space"]?.GetValue<bool>() ?? false;
        }
        string? bos = null, eos = null, pad = null;
        if (tokenizerConfigJson != null && JsonNode.Parse(tokenizerConfigJson) is JsonObject cfg)
            (bos, eos, pad) = (TokenName(cfg["bos_token"]), TokenName(cfg["eos_token"]), TokenName(cfg["pad_token"]));
        return new BpeTokenizer(vocab, merges, added, pattern, prefix, bos, eos, pad);
    }

    static string? TokenName(JsonNode? n) => n switch
    {
        null => null,
        JsonObject o => o["content"]?.GetValue<string>(),
        _ => n.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : null,
    };

    static IEnumerable<JsonObject> Flatten(JsonNode? n)
    {
        if (n is not JsonObject o) yield break;
        if (o["pretokenizers"] is JsonArray list) { foreach (var x in list) foreach (var y in Flatten(x)) yield return y; }
        else yield return o;
    }

    public int[] Encode(string text)
    {
        var ids = new List<int>();
        int at = 0;
        if (_addedRegex != null)
            foreach (Match m in _addedRegex.Matches(text))
            {
                EncodeOrdinary(text[at..m.Index], ids, at == 0);
                ids.Add(_added[m.Value]);
                at = m.Index + m.Length;
            }
        EncodeOrdinary(text[at..], ids, at == 0);
        return [.. ids];
    }

    void EncodeOrdinary(string text, List<int> ids, bool first)
    {
        if (text.Length == 0) return;
        if (first && _addPrefixSpace && !text.StartsWith(' ')) text = " " + text;
        foreach (Match piece in _split.Matches(text))
        {
            var bytes = Encoding.UTF8.GetBytes(piece.Value);
            string mapped = new(bytes.Select(b => ByteToChar[b]).ToArray());
            if (!_cache.TryGetValue(mapped, out var pieceIds))
            {
                pieceIds = Bpe(mapped);
                if (_cache.Count < 100_000) _cache[mapped] = pieceIds;
            }
            ids.AddRange(pieceIds);
        }
    }

    /// <summary>Applies merges lowest rank first until none applies.</summary>
    int[] Bpe(string word)
    {
        var parts = word.Select(c => c.ToString()).ToList();
        while (parts.Count > 1)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int i = 0; i < parts.Count - 1; i++)
                if (_ranks.TryGetValue((parts[i], parts[i + 1]), out int r) && r < bestRank) (best, bestRank) = (i, r);
            if (best < 0) break;
            parts[best] += parts[best + 1];
            parts.RemoveAt(best + 1);
        }
        var result = new int[parts.Count];
        for (int i = 0; i < parts.Count; i++)
            result[i] = _vocab.TryGetValue(parts[i], out int id) ? id
                : throw new InvalidDataException($"tokenizer.json: the vocabulary lacks '{parts[i]}' (a byte-level vocabulary must hold all 256 byte symbols)");
        return result;
    }

    /// <summary>Decodes ids; special tokens are left out, other added tokens are written as they are.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var sb = new StringBuilder();
        var bytes = new List<byte>();
        void Flush() { sb.Append(Encoding.UTF8.GetString(bytes.ToArray())); bytes.Clear(); }
        foreach (int id in ids)
        {
            if (id < 0 || id >= _idToToken.Length || _idToToken[id] is not { } token || _special.Contains(id)) continue;
            if (_added.ContainsKey(token)) { Flush(); sb.Append(token); continue; }
            foreach (char c in token)
                if (CharToByte.TryGetValue(c, out byte b)) bytes.Add(b);
        }
        Flush();
        return sb.ToString();
    }

    /// <summary>GPT-2's reversible map of bytes to printable characters.</summary>
    static char[] BuildByteMap()
    {
        var map = new char[256];
        var printable = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range('¡', '¬' - '¡' + 1)).Concat(Enumerable.Range('®', 'ÿ' - '®' + 1)).ToHashSet();
        int n = 0;
        for (int b = 0; b < 256; b++) map[b] = printable.Contains(b) ? (char)b : (char)(256 + n++);
        return map;
    }

    /// <summary>The 256 byte symbols, in byte order (what every byte-level vocabulary starts from).</summary>
    public static IReadOnlyList<string> ByteSymbols => ByteToChar.Select(c => c.ToString()).ToList();

    /// <summary>
    /// Learns merges from a corpus (most frequent adjacent pair first) and writes a HF tokenizer.json; used for small
    /// models trained from scratch and in tests.
    /// </summary>
    public static string Train(IEnumerable<string> corpus, int merges, IReadOnlyList<string> specials)
    {
        var split = new Regex(Gpt2Pattern, RegexOptions.CultureInvariant);
        var words = new Dictionary<string, int>();
        foreach (string text in corpus)
            foreach (Match m in split.Matches(text))
            {
                string w = new(Encoding.UTF8.GetBytes(m.Value).Select(b => ByteToChar[b]).ToArray());
                words[w] = words.GetValueOrDefault(w) + 1;
            }
        var seqs = words.Select(kv => (Parts: kv.Key.Select(c => c.ToString()).ToList(), Count: kv.Value)).ToList();
        var vocab = new Dictionary<string, int>();
        foreach (string s in ByteSymbols) vocab[s] = vocab.Count;
        var mergeList = new List<(string, string)>();
        for (int k = 0; k < merges; k++)
        {
            var pairs = new Dictionary<(string, string), int>();
            foreach (var (parts, count) in seqs)
                for (int i = 0; i < parts.Count - 1; i++)
                    pairs[(parts[i], parts[i + 1])] = pairs.GetValueOrDefault((parts[i], parts[i + 1])) + count;
            if (pairs.Count == 0) break;
            var best = pairs.OrderByDescending(p => p.Value).ThenBy(p => p.Key.Item1, StringComparer.Ordinal).ThenBy(p => p.Key.Item2, StringComparer.Ordinal).First().Key;
            mergeList.Add(best);
            vocab.TryAdd(best.Item1 + best.Item2, vocab.Count);
            foreach (var (parts, _) in seqs)
                for (int i = 0; i < parts.Count - 1; i++)
                    if (parts[i] == best.Item1 && parts[i + 1] == best.Item2) { parts[i] += parts[i + 1]; parts.RemoveAt(i + 1); }
        }
        var added = new JsonArray(specials.Select((s, i) => (JsonNode)new JsonObject { ["id"] = vocab.Count + i, ["content"] = s, ["special"] = true }).ToArray());
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = added,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = Gpt2Pattern }, ["behavior"] = "Isolated" },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = false }),
            },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["vocab"] = new JsonObject(vocab.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
                ["merges"] = new JsonArray(mergeList.Select(m => (JsonNode)$"{m.Item1} {m.Item2}").ToArray()),
            },
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }
}
