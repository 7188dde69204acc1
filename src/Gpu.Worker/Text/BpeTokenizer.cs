using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace MathV2.Gpu.Worker.Text;

/// <summary>
/// A Hugging Face tokenizer.json with a BPE model, run as the tokenizers library runs it: added tokens matched
/// first (lstrip/rstrip/single_word; those marked normalized after the normalizer), the normalizer, the
/// pre-tokenizers (<see cref="HfPipeline"/>), then BPE merges lowest rank first (ignore_merges, byte_fallback,
/// unk_token with fuse_unk, continuing_subword_prefix, end_of_word_suffix), and the decoders back. The start token
/// is the post-processor's (Llama 3's &lt;|begin_of_text|&gt;), else tokenizer_config.json's bos_token when it adds one.
/// </summary>
public sealed class BpeTokenizer : ITokenizer
{
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    sealed record AddedToken(string Content, int Id, bool Special, bool LStrip, bool RStrip, bool SingleWord, bool Normalized);

    readonly Dictionary<string, int> _model, _vocab;
    readonly string[] _idToToken;
    readonly Dictionary<(int, int), (int Rank, int Id)> _merges;
    readonly Dictionary<int, AddedToken> _addedById;
    readonly Regex? _rawAdded, _normalizedAdded;
    readonly Dictionary<string, AddedToken> _rawByText = [], _normalizedByText = [];
    readonly Func<string, string>? _normalizer;
    readonly HfPipeline.PreTokenizer? _preTokenizer;
    readonly HfPipeline.Decoder? _decoder;
    readonly int? _unk;
    readonly string? _prefix, _suffix;
    readonly bool _fuseUnk, _byteFallback, _ignoreMerges;
    readonly System.Collections.Concurrent.ConcurrentDictionary<string, int[]> _cache = new();
    int _cached;

    BpeTokenizer(JsonObject root, string? tokenizerConfigJson)
    {
        var model = root["model"] as JsonObject ?? throw new InvalidDataException("tokenizer.json: no model");
        string type = model["type"]?.GetValue<string>() ?? "BPE";
        if (type != "BPE") throw new InvalidDataException($"tokenizer.json: model type {type} is not supported (only BPE)");
        if (model["dropout"] is { } dropout && dropout.GetValueKind() == JsonValueKind.Number && dropout.GetValue<double>() > 0)
            throw new InvalidDataException("tokenizer.json: model.dropout is set (BPE dropout samples different ids on every call; set it to null)");
        _model = (model["vocab"] as JsonObject)?.ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<int>())
            ?? throw new InvalidDataException("tokenizer.json: model.vocab is missing");
        _vocab = new Dictionary<string, int>(_model);
        var added = new List<AddedToken>();
        int nextAdded = _model.Count;
        foreach (var t in root["added_tokens"] as JsonArray ?? [])
        {
            bool Flag(string name, bool fallback = false) => t?[name]?.GetValue<bool>() ?? fallback;
            bool special = Flag("special");
            string content = t!["content"]!.GetValue<string>();
            int declared = t["id"]!.GetValue<int>();
            // As the tokenizers library loads a file: an added token the model has keeps the model's id; the others
            // take the next ids after the model's vocabulary, in file order. A file that says otherwise is refused.
            int id = _model.TryGetValue(content, out int modelId) ? modelId : nextAdded;
            if (!_model.ContainsKey(content))
            {
                if (declared != id)
                    throw new InvalidDataException($"tokenizer.json: added token '{content}' has id {declared}, but Hugging Face's tokenizers would give it {id} (added tokens not in the model's vocabulary take the ids after it, in order, without gaps)");
                nextAdded = id + 1;
            }
            added.Add(new AddedToken(content, id, special, Flag("lstrip"), Flag("rstrip"), Flag("single_word"), Flag("normalized", !special)));
        }
        foreach (var a in added) _vocab[a.Content] = a.Id;
        _addedById = [];
        foreach (var a in added)
            if (!_addedById.TryAdd(a.Id, a))
                throw new InvalidDataException($"tokenizer.json: added tokens '{_addedById[a.Id].Content}' and '{a.Content}' have the same id {a.Id}");
        int size = _vocab.Count == 0 ? 0 : _vocab.Values.Max() + 1;
        _idToToken = new string[size];
        foreach (var (tok, id) in _vocab) if (id >= 0) _idToToken[id] = tok;

        _prefix = model["continuing_subword_prefix"]?.GetValue<string>();
        _suffix = model["end_of_word_suffix"]?.GetValue<string>();
        _fuseUnk = model["fuse_unk"]?.GetValue<bool>() ?? false;
        _byteFallback = model["byte_fallback"]?.GetValue<bool>() ?? false;
        _ignoreMerges = model["ignore_merges"]?.GetValue<bool>() ?? false;
        if (model["unk_token"]?.GetValue<string>() is { } unk)
            _unk = _model.TryGetValue(unk, out int u) ? u : throw new InvalidDataException($"tokenizer.json: model.unk_token '{unk}' is not in the vocabulary");

        _merges = [];
        int index = 0;
        foreach (var m in model["merges"] as JsonArray ?? [])
        {
            (string, string) pair = m switch
            {
                JsonArray { Count: 2 } a => (a[0]!.GetValue<string>(), a[1]!.GetValue<string>()),
                _ when m?.GetValueKind() == JsonValueKind.String && m.GetValue<string>().Split(' ') is [var l, var r] => (l, r),
                _ => throw new InvalidDataException($"tokenizer.json: model.merges[{index}] is neither \"a b\" nor [\"a\", \"b\"]"),
            };
            string right = _prefix != null && pair.Item2.StartsWith(_prefix, StringComparison.Ordinal) ? pair.Item2[_prefix.Length..] : pair.Item2;
            if (!_model.TryGetValue(pair.Item1, out int a1) || !_model.TryGetValue(pair.Item2, out int a2) || !_model.TryGetValue(pair.Item1 + right, out int merged))
                throw new InvalidDataException($"tokenizer.json: model.merges[{index}] ('{pair.Item1}' + '{pair.Item2}') names a token that is not in the vocabulary");
            _merges[(a1, a2)] = (index, merged);   // a pair listed twice takes its last rank, as HF's loader does
            index++;
        }

        _normalizer = HfPipeline.Normalizer(root["normalizer"]);
        _preTokenizer = HfPipeline.PreTokenizerOf(root["pre_tokenizer"]);
        _decoder = HfPipeline.DecoderOf(root["decoder"]);
        // Tokens marked normalized are found in the normalized text, by their normalized content (HF).
        foreach (var a in added)
            if (a.Normalized) _normalizedByText.TryAdd(_normalizer?.Invoke(a.Content) ?? a.Content, a);
            else _rawByText.TryAdd(a.Content, a);
        _rawAdded = AddedRegex(_rawByText.Keys);
        _normalizedAdded = AddedRegex(_normalizedByText.Keys);

        JsonObject? cfg = tokenizerConfigJson == null ? null : JsonNode.Parse(tokenizerConfigJson) as JsonObject;
        string? bos = TokenName(cfg?["bos_token"]), eos = TokenName(cfg?["eos_token"]), pad = TokenName(cfg?["pad_token"]);
        var (templated, templateBos) = HfPipeline.PostProcessorBos(root["post_processor"]);
        bool? addBos = cfg?["add_bos_token"] is { } ab && ab.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? ab.GetValue<bool>() : null;
        // HF's fast tokenizers add a start token only through the post-processor; add_bos_token: true asks for one too.
        BosId = templated ? (templateBos == null ? null : Find(templateBos))
            : addBos != true ? null
            : Find(bos) ?? throw new InvalidDataException("tokenizer_config.json: add_bos_token is true but bos_token is not given");
        EosId = Find(eos, "<|end_of_text|>", "<|endoftext|>", "</s>", "<eos>", "<|im_end|>", "<｜end▁of▁sentence｜>")
            ?? throw new InvalidDataException("tokenizer.json: no end-of-sequence token (give eos_token in tokenizer_config.json, or add <|endoftext|> / </s>)");
        PadId = Find(pad, "<pad>", "<|pad|>", "<|finetune_right_pad_id|>") ?? EosId;
    }

    static Regex? AddedRegex(IEnumerable<string> texts)
    {
        var list = texts.Where(c => c.Length > 0).OrderByDescending(c => c.Length).ThenBy(c => c, StringComparer.Ordinal).ToList();
        return list.Count == 0 ? null : new Regex(string.Join("|", list.Select(Regex.Escape)), RegexOptions.CultureInvariant);
    }

    int? Find(string? given) => given == null ? null : Find(given, []);

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

    /// <summary>Reads tokenizer.json and, when present beside it, tokenizer_config.json (bos_token, eos_token, pad_token, add_bos_token).</summary>
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
        var root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { MaxDepth = 256 }) as JsonObject ?? throw new InvalidDataException("tokenizer.json is empty");
        return new BpeTokenizer(root, tokenizerConfigJson) { Json = json, ConfigJson = tokenizerConfigJson };
    }

    static string? TokenName(JsonNode? n) => n switch
    {
        null => null,
        JsonObject o => o["content"]?.GetValue<string>(),
        _ => n.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : null,
    };

    /// <summary>The token of an id (null when the id is unused).</summary>
    public string? TokenOf(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;

    public int[] Encode(string text)
    {
        var ids = new List<int>();
        foreach (var (segment, added, start) in SplitAdded(text, _rawAdded, _rawByText, true))
        {
            if (added != null) { ids.Add(added.Id); continue; }
            string normalized = _normalizer?.Invoke(segment) ?? segment;
            foreach (var (piece, addedN, startN) in SplitAdded(normalized, _normalizedAdded, _normalizedByText, start))
                if (addedN != null) ids.Add(addedN.Id);
                else EncodeOrdinary(piece, ids, startN);
        }
        return [.. ids];
    }

    /// <summary>Text between added tokens, and the added tokens (with lstrip/rstrip taking the whitespace beside them).</summary>
    static IEnumerable<(string Text, AddedToken? Added, bool AtStart)> SplitAdded(string text, Regex? regex, Dictionary<string, AddedToken> byText, bool atStart)
    {
        if (regex == null) { yield return (text, null, atStart); yield break; }
        int at = 0;
        for (var m = regex.Match(text); m.Success; m = m.NextMatch())
        {
            var token = byText[m.Value];
            int s = m.Index, e = m.Index + m.Length;
            if (token.SingleWord && (RustChars.WordBefore(text, s) || RustChars.WordAfter(text, e))) continue;
            if (token.LStrip) while (s > at && char.IsWhiteSpace(text[s - 1])) s--;
            if (token.RStrip) while (e < text.Length && char.IsWhiteSpace(text[e])) e++;
            if (s > at) yield return (text[at..s], null, atStart && at == 0);
            yield return (text[s..e], token, false);
            at = e;
        }
        if (at < text.Length) yield return (text[at..], null, atStart && at == 0);
    }

    void EncodeOrdinary(string text, List<int> ids, bool atStart)
    {
        if (text.Length == 0) return;
        var pieces = new List<string> { text };
        _preTokenizer?.Invoke(pieces, atStart);
        foreach (string piece in pieces)
        {
            if (piece.Length > 256) { ids.AddRange(Bpe(piece)); continue; }   // long pieces (whole segments) are not worth keeping
            if (!_cache.TryGetValue(piece, out var pieceIds))
            {
                pieceIds = Bpe(piece);
                if (Volatile.Read(ref _cached) < 100_000 && _cache.TryAdd(piece, pieceIds)) Interlocked.Increment(ref _cached);
            }
            ids.AddRange(pieceIds);
        }
    }

    /// <summary>One piece: its characters (code points) as symbols, then merges lowest rank first, leftmost first.</summary>
    int[] Bpe(string piece)
    {
        if (_ignoreMerges && _model.TryGetValue(piece, out int whole)) return [whole];
        var symbols = new List<int>(piece.Length);
        bool lastWasUnk = false;
        var runes = piece.EnumerateRunes().ToList();
        for (int i = 0; i < runes.Count; i++)
        {
            string s = runes[i].ToString();
            if (_prefix != null && i > 0) s = _prefix + s;
            if (_suffix != null && i == runes.Count - 1) s += _suffix;
            if (_model.TryGetValue(s, out int id)) { symbols.Add(id); lastWasUnk = false; continue; }
            if (_byteFallback)
            {
                var bytes = Encoding.UTF8.GetBytes(s);   // the symbol as looked up, prefix and suffix included
                var byteIds = bytes.Select(b => _model.TryGetValue($"<0x{b:X2}>", out int bid) ? bid : -1).ToList();
                if (byteIds.All(b => b >= 0)) { symbols.AddRange(byteIds); lastWasUnk = false; continue; }
            }
            if (_unk is { } unk)
            {
                if (!(_fuseUnk && lastWasUnk)) symbols.Add(unk);
                lastWasUnk = true;
                continue;
            }
            throw new InvalidDataException($"tokenizer.json: '{s}' (U+{runes[i].Value:X4}) is not in the vocabulary, and the model has neither byte_fallback nor unk_token");
        }
        return MergeAll(symbols);
    }

    int[] MergeAll(List<int> symbols)
    {
        int n = symbols.Count;
        if (n < 2 || _merges.Count == 0) return [.. symbols];
        var id = symbols.ToArray();
        var next = new int[n];
        var prev = new int[n];
        for (int i = 0; i < n; i++) { prev[i] = i - 1; next[i] = i + 1 < n ? i + 1 : -1; }
        var queue = new PriorityQueue<(int Pos, int Left, int Right), (int Rank, int Pos)>();
        void Push(int i)
        {
            int j = next[i];
            if (j >= 0 && _merges.TryGetValue((id[i], id[j]), out var m)) queue.Enqueue((i, id[i], id[j]), (m.Rank, i));
        }
        for (int i = 0; i < n - 1; i++) Push(i);
        while (queue.TryDequeue(out var e, out _))
        {
            int i = e.Pos;
            if (id[i] != e.Left || next[i] is var j && (j < 0 || id[j] != e.Right)) continue;
            id[i] = _merges[(e.Left, e.Right)].Id;
            id[j] = -1;
            next[i] = next[j];
            if (next[j] >= 0) prev[next[j]] = i;
            if (prev[i] >= 0) Push(prev[i]);
            Push(i);
        }
        var result = new List<int>();
        for (int i = 0; i >= 0; i = next[i]) result.Add(id[i]);
        return [.. result];
    }

    /// <summary>Decodes ids through the decoders; special tokens are left out, other added tokens kept.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            if (id < 0 || id >= _idToToken.Length || _idToToken[id] is not { } token) continue;
            if (_addedById.TryGetValue(id, out var a) && a.Special) continue;
            tokens.Add(token);
        }
        return _decoder == null ? string.Join(" ", tokens) : string.Concat(_decoder(tokens));
    }

    /// <summary>The 256 byte symbols, in byte order (what every byte-level vocabulary starts from).</summary>
    public static IReadOnlyList<string> ByteSymbols => ByteLevel.Symbols;

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
                string w = ByteLevel.Map(m.Value);
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
