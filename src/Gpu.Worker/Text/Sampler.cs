using MathV2.Gpu.Worker.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Text;

/// <summary>Sampling settings; temperature 0 is greedy.</summary>
public sealed record SamplingOptions
{
    public int MaxNewTokens { get; init; } = 64;
    public double Temperature { get; init; } = 1.0;
    public double TopP { get; init; } = 1.0;
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    public long Seed { get; init; } = 0;
    /// <summary>Rows with the same prompt share one prefill (off: each row prefills its prompt; a benchmark's baseline).</summary>
    public bool SharePrefill { get; init; } = true;
    /// <summary>Rows decoded together (slots); 0: all rows at once.</summary>
    public int BatchSize { get; init; }
    /// <summary>A row that ends gives its slot to the next waiting prompt (continuous batching); off: static batches, each run until its longest row ends (a benchmark's baseline).</summary>
    public bool Refill { get; init; } = true;
    /// <summary>Per-row limits below MaxNewTokens (one per prompt), for callers that know a row's budget.</summary>
    public IReadOnlyList<int>? RowMaxNewTokens { get; init; }
    /// <summary>Each row's own stream seed (one per prompt) in place of (Seed, row index): a caller that keys them by what the row is (prompt id, sample index) gets the same sample from any job, shard or batch.</summary>
    public IReadOnlyList<long>? RowStreams { get; init; }
    /// <summary>Called when a row ends, with its index and its tokens (progress on long sampling).</summary>
    public Action<int, int>? OnRowDone { get; init; }
}

/// <summary>One completion: its tokens, text, per-token log-probabilities and why it ended.</summary>
public sealed record Sample
{
    public required int[] Tokens { get; init; }
    public required string Text { get; init; }
    /// <summary>log p(token) under the sampling distribution (softmax of logits / temperature; the model's own at temperature 0).</summary>
    public required double[] LogProbs { get; init; }
    /// <summary>"stop" (end of sequence or a stop string) or "length".</summary>
    public required string FinishReason { get; init; }
    /// <summary>Whether the end-of-sequence token ended it (that token is not in Tokens).</summary>
    public bool EndedWithEos { get; init; }
}

/// <summary>
/// Batched generation with continuous batching: up to BatchSize rows decode together, each in a slot of a
/// <see cref="SlotKvCache"/> at its own position; when a row ends, the next waiting prompt is prefilled into its
/// slot (Refill), and once nothing waits, ended rows leave the batch. Rows with the same prompt admitted together
/// share one prefill. Each row draws from its own random stream (seeded by Seed and the row's index), so what a row
/// samples does not depend on the batch it shares.
/// </summary>
public static class Sampler
{
    public static IReadOnlyList<Sample> Generate(LlamaForCausalLM model, ITokenizer tok, IReadOnlyList<string> prompts, SamplingOptions o, bool useCache = true)
    {
        if (o.TopP is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(o), "top_p must be in (0, 1]");
        if (o.Temperature < 0) throw new ArgumentOutOfRangeException(nameof(o), "temperature must be >= 0");
        if (o.BatchSize < 0) throw new ArgumentOutOfRangeException(nameof(o), "batch size must be >= 0");
        if (o.RowMaxNewTokens is { } limits && limits.Count != prompts.Count) throw new ArgumentException("RowMaxNewTokens needs one limit per prompt");
        if (o.RowStreams is { } streams && streams.Count != prompts.Count) throw new ArgumentException("RowStreams needs one seed per prompt");
        if (prompts.Count == 0) return [];
        var encoded = prompts.Select(tok.EncodePrompt).ToList();
        if (encoded.Any(e => e.Length == 0)) throw new ArgumentException("an empty prompt needs a tokenizer with a BOS token");
        using var noGrad = torch.no_grad();
        var run = new Run(model, tok, encoded, o);
        if (useCache) run.Cached();
        else run.Uncached();
        return run.Results();
    }

    /// <summary>One Generate call: rows, their tokens so far, and the loop over slots.</summary>
    sealed class Run(LlamaForCausalLM model, ITokenizer tok, List<int[]> encoded, SamplingOptions o)
    {
        readonly Device _device = model.model.embed_tokens.weight!.device;
        readonly List<int>[] _tokens = encoded.Select(_ => new List<int>()).ToArray();
        readonly List<double>[] _logps = encoded.Select(_ => new List<double>()).ToArray();
        readonly string?[] _finish = new string?[encoded.Count];
        readonly bool[] _eos = new bool[encoded.Count];
        readonly SplitMix[] _random = encoded.Select((_, r) => o.RowStreams is { } s ? new SplitMix(s[r], -1) : new SplitMix(o.Seed, r)).ToArray();
        readonly int _stopTail = o.StopStrings.Count == 0 ? 0 : o.StopStrings.Max(s => s.Length) + 4;
        int Slots => o.BatchSize == 0 ? Math.Max(1, encoded.Count) : Math.Min(o.BatchSize, Math.Max(1, encoded.Count));
        int Limit(int row) => Math.Min(o.MaxNewTokens, o.RowMaxNewTokens?[row] ?? int.MaxValue);

        public void Cached()
        {
            int slots = Slots, next = 0;
            using var cache = new SlotKvCache(model.Config.Layers, encoded.Max(e => e.Length) + o.MaxNewTokens);
            // slot → row (-1: free); per slot its length (positions cached) and the token it feeds next.
            var rowOf = Enumerable.Repeat(-1, slots).ToList();
            var length = new List<long>(new long[slots]);
            var pending = new List<long>(new long[slots]);
            while (true)
            {
                bool allFree = rowOf.All(r => r < 0 || _finish[r] != null);
                if (next < encoded.Count && (o.Refill || allFree))
                {
                    var admitted = new List<(int Slot, int Row)>();
                    for (int s = 0; s < rowOf.Count && next < encoded.Count; s++)
                        if (rowOf[s] < 0 || _finish[rowOf[s]] != null) { rowOf[s] = next; admitted.Add((s, next++)); }
                    if (admitted.Count > 0) Prefill(cache, admitted, rowOf.Count, length, pending);
                    if (!o.Refill && next >= encoded.Count && admitted.Count < rowOf.Count)
                    {
                        // The last static batch is smaller: the slots it does not use leave.
                        var used = admitted.Select(a => a.Slot).ToArray();
                        using (var idx = torch.tensor(used.Select(k => (long)k).ToArray(), device: _device)) cache.Keep(idx);
                        rowOf = used.Select(k => rowOf[k]).ToList();
                        length = used.Select(k => length[k]).ToList();
                        pending = used.Select(k => pending[k]).ToList();
                    }
                }
                if (rowOf.All(r => r < 0 || _finish[r] != null))
                {
                    if (next >= encoded.Count) break;
                    continue;
                }
                if (next >= encoded.Count && o.Refill && rowOf.Any(r => r < 0 || _finish[r] != null))
                {
                    // Nothing waits: ended rows leave the batch.
                    var keep = Enumerable.Range(0, rowOf.Count).Where(s => rowOf[s] >= 0 && _finish[rowOf[s]] == null).ToArray();
                    using (var idx = torch.tensor(keep.Select(k => (long)k).ToArray(), device: _device)) cache.Keep(idx);
                    rowOf = keep.Select(k => rowOf[k]).ToList();
                    length = keep.Select(k => length[k]).ToList();
                    pending = keep.Select(k => pending[k]).ToList();
                }
                using var scope = torch.NewDisposeScope();
                int b = rowOf.Count;
                long span = length.Max() + 1;
                var positions = torch.tensor(length.ToArray(), device: _device);
                cache.Positions = positions;
                cache.Span = span;
                var ids = torch.tensor(pending.ToArray(), [b, 1], device: _device);
                var keys = torch.arange(0, span, device: _device).unsqueeze(0);
                var hidden = keys > positions.unsqueeze(1);                               // [b, span]
                var mask = torch.zeros(b, 1, 1, span, dtype: model.DType, device: _device).masked_fill(hidden.view(b, 1, 1, span), float.NegativeInfinity);
                var logits = model.Forward(ids, positions.unsqueeze(1), mask, cache)[TensorIndex.Colon, -1];
                for (int s = 0; s < b; s++) length[s]++;
                var chosen = Choose(logits, rowOf);
                for (int s = 0; s < b; s++)
                    if (rowOf[s] >= 0 && _finish[rowOf[s]] == null) pending[s] = Accept(rowOf[s], chosen[s]);
                    else pending[s] = tok.EosId;
                cache.Positions = null;
            }
        }

        /// <summary>Prefills the admitted rows' prompts (one prefill per distinct prompt), loads each into its slot and samples its first token.</summary>
        void Prefill(SlotKvCache cache, List<(int Slot, int Row)> admitted, int slots, List<long> length, List<long> pending)
        {
            using var scope = torch.NewDisposeScope();
            var firstOf = new Dictionary<string, int>();
            var source = new int[admitted.Count];
            for (int i = 0; i < admitted.Count; i++)
            {
                string key = o.SharePrefill ? string.Join(',', encoded[admitted[i].Row]) : i.ToString();
                if (!firstOf.TryGetValue(key, out int at)) firstOf[key] = at = firstOf.Count;
                source[i] = at;
            }
            var distinct = Enumerable.Range(0, firstOf.Count).Select(at => admitted[Array.IndexOf(source, at)].Row).ToArray();
            int width = distinct.Max(r => encoded[r].Length);
            var ids = new long[distinct.Length * width];
            var keep = new long[distinct.Length * width];
            for (int d = 0; d < distinct.Length; d++)
            {
                var e = encoded[distinct[d]];
                for (int i = 0; i < e.Length; i++) { ids[d * width + width - e.Length + i] = e[i]; keep[d * width + width - e.Length + i] = 1; }
            }
            using var prefill = new KvCache(model.Config.Layers, capacity: width);
            var logits = model.Forward(torch.tensor(ids, [distinct.Length, width], device: _device), prefill,
                torch.tensor(keep, [distinct.Length, width], device: _device), lastOnly: true)[TensorIndex.Colon, -1];
            var rows = admitted.Select(a => a.Row).ToArray();
            var perRow = logits.index_select(0, torch.tensor(source.Select(x => (long)x).ToArray(), device: _device));
            var chosen = Choose(perRow, rows);
            for (int i = 0; i < admitted.Count; i++)
            {
                var (slot, row) = admitted[i];
                int len = encoded[row].Length;
                cache.Load(slot, slots, prefill, source[i], width - len, len);
                length[slot] = len;
                pending[slot] = Accept(row, chosen[i]);
            }
        }

        /// <summary>Without a cache (a baseline, and the reference the cache is tested against): every step runs each row's whole sequence.</summary>
        public void Uncached()
        {
            for (int first = 0; first < encoded.Count; first += Slots)
            {
                var batch = Enumerable.Range(first, Math.Min(Slots, encoded.Count - first)).ToArray();
                while (batch.Any(r => _finish[r] == null))
                {
                    using var scope = torch.NewDisposeScope();
                    var seqs = batch.Select(r => encoded[r].Concat(_tokens[r]).ToArray()).ToArray();
                    int width = seqs.Max(x => x.Length);
                    var ids = new long[batch.Length * width];
                    for (int i = 0; i < batch.Length; i++)
                        for (int j = 0; j < seqs[i].Length; j++) ids[i * width + j] = seqs[i][j];
                    // Right padding: causal attention keeps real positions from seeing it; each row's logits are at its own end.
                    var logits = model.Forward(torch.tensor(ids, [batch.Length, width], device: _device));
                    var last = torch.tensor(seqs.Select(x => (long)x.Length - 1).ToArray(), device: _device);
                    var at = logits.gather(1, last.view(-1, 1, 1).expand(-1, 1, logits.shape[^1])).squeeze(1);
                    var chosen = Choose(at, batch);
                    for (int i = 0; i < batch.Length; i++)
                        if (_finish[batch[i]] == null) Accept(batch[i], chosen[i]);
                }
            }
        }

        /// <summary>The next token of each row (-1 where a slot holds no live row) with its log-probability.</summary>
        (long Token, double LogProb)[] Choose(Tensor logits, IReadOnlyList<int> rows)
        {
            var f = logits.to_type(ScalarType.Float32);
            var scaled = o.Temperature > 0 ? f / o.Temperature : f;
            var logProbs = scaled.log_softmax(-1);
            Tensor next;
            if (o.Temperature == 0) next = f.argmax(-1);
            else
            {
                var u = rows.Select(r => r >= 0 && _finish[r] == null ? _random[r].NextDouble() : 0.5).ToArray();
                next = SampleTopP(logProbs, o.TopP, torch.tensor(u, dtype: ScalarType.Float64, device: _device));
            }
            var lp = logProbs.gather(1, next.unsqueeze(1)).squeeze(1);
            long[] ids = next.cpu().data<long>().ToArray();
            double[] lps = lp.cpu().to_type(ScalarType.Float64).data<double>().ToArray();
            return ids.Select((id, i) => (id, lps[i])).ToArray();
        }

        /// <summary>Appends a row's next token (or ends the row); returns the token it feeds next.</summary>
        long Accept(int row, (long Token, double LogProb) c)
        {
            if (Limit(row) <= 0) { _finish[row] = "length"; o.OnRowDone?.Invoke(row, _tokens[row].Count); return tok.EosId; }
            if (c.Token == tok.EosId) { _finish[row] = "stop"; _eos[row] = true; o.OnRowDone?.Invoke(row, _tokens[row].Count); return tok.EosId; }
            _tokens[row].Add((int)c.Token);
            _logps[row].Add(c.LogProb);
            if (_stopTail > 0)
            {
                // Only the newest tokens can complete a stop string (every token decodes to at least one character).
                string tail = tok.Decode(_tokens[row].Skip(Math.Max(0, _tokens[row].Count - _stopTail)));
                if (o.StopStrings.Any(s => tail.Contains(s, StringComparison.Ordinal))) _finish[row] = "stop";
            }
            if (_finish[row] == null && _tokens[row].Count >= Limit(row)) _finish[row] = "length";
            if (_finish[row] != null) o.OnRowDone?.Invoke(row, _tokens[row].Count);
            return c.Token;
        }

        public IReadOnlyList<Sample> Results() => Enumerable.Range(0, encoded.Count).Select(r =>
        {
            string text = tok.Decode(_tokens[r]);
            foreach (string s in o.StopStrings)
            {
                int at = text.IndexOf(s, StringComparison.Ordinal);
                if (at >= 0) text = text[..at];
            }
            return new Sample { Tokens = [.. _tokens[r]], Text = text, LogProbs = [.. _logps[r]], FinishReason = _finish[r] ?? "length", EndedWithEos = _eos[r] };
        }).ToList();
    }

    /// <summary>A row's own random stream (SplitMix64 of the seed and the row), the same on every device and batch.</summary>
    sealed class SplitMix(long seed, int row)
    {
        ulong _state = (ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)(row + 1) * 0xD1B54A32D192ED03UL;

        public double NextDouble()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return ((z ^ (z >> 31)) >> 11) * (1.0 / (1UL << 53));
        }
    }

    /// <summary>
    /// Nucleus sampling (keep the smallest set of tokens whose probability reaches top_p), by inverse transform: the
    /// first token whose cumulative probability exceeds each row's uniform draw u [rows].
    /// </summary>
    static Tensor SampleTopP(Tensor logProbs, double topP, Tensor u)
    {
        var probs = logProbs.exp();
        if (topP < 1)
        {
            var (sorted, order) = probs.sort(-1, descending: true);
            var cumulative = sorted.cumsum(-1);
            var drop = (cumulative - sorted) >= topP;       // tokens entirely past the nucleus
            sorted = sorted.masked_fill(drop, 0);
            probs = torch.zeros_like(probs).scatter(-1, order, sorted);
        }
        var cdf = probs.to_type(ScalarType.Float64).cumsum(-1);
        var target = (u * cdf[TensorIndex.Colon, -1]).unsqueeze(1);
        return torch.searchsorted(cdf, target, right: true).squeeze(1).clamp_max(probs.shape[^1] - 1);
    }
}
