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

/// <summary>Batched generation with left padding and a KV cache.</summary>
public static class Sampler
{
    public static IReadOnlyList<Sample> Generate(LlamaForCausalLM model, ITokenizer tok, IReadOnlyList<string> prompts, SamplingOptions o, bool useCache = true)
    {
        if (o.TopP is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(o), "top_p must be in (0, 1]");
        if (o.Temperature < 0) throw new ArgumentOutOfRangeException(nameof(o), "temperature must be >= 0");
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var device = model.model.embed_tokens.weight!.device;
        var encoded = prompts.Select(tok.EncodePrompt).ToList();
        if (encoded.Any(e => e.Length == 0)) throw new ArgumentException("an empty prompt needs a tokenizer with a BOS token");
        int b = encoded.Count, width = encoded.Max(e => e.Length);
        var ids = new long[b * width];
        var maskArr = new long[b * width];
        for (int r = 0; r < b; r++)
            for (int i = 0; i < encoded[r].Length; i++)
            {
                int at = r * width + width - encoded[r].Length + i;
                ids[at] = encoded[r][i];
                maskArr[at] = 1;
            }
        var input = torch.tensor(ids, [b, width], device: device);
        var mask = torch.tensor(maskArr, [b, width], device: device);
        var generator = new torch.Generator((ulong)o.Seed, device);
        var tokens = Enumerable.Range(0, b).Select(_ => new List<int>()).ToList();
        var logps = Enumerable.Range(0, b).Select(_ => new List<double>()).ToList();
        var finish = new string?[b];
        var eos = new bool[b];
        int stopTail = o.StopStrings.Count == 0 ? 0 : o.StopStrings.Max(s => s.Length) + 4;
        using var cache = useCache ? new KvCache(model.Config.Layers, capacity: width + o.MaxNewTokens) : null;
        var step = input;
        var fullIds = input;
        // Rows with the same prompt (a GRPO group, n samples of one prompt) share one prefill: the distinct prompts
        // run once, then their cache and last logits are copied to every row that asked for them.
        var firstRow = new Dictionary<string, int>();
        var sharedRow = encoded.Select((e, r) => firstRow.TryAdd(string.Join(',', e), r) ? r : firstRow[string.Join(',', e)]).ToArray();
        bool sharePrefill = useCache && o.SharePrefill && firstRow.Count < b;
        for (int t = 0; t < o.MaxNewTokens && finish.Any(f => f == null); t++)
        {
            Tensor logits;
            if (t == 0 && sharePrefill)
            {
                var distinct = firstRow.Values.Order().ToArray();
                var distinctIndex = torch.tensor(distinct.Select(r => (long)r).ToArray(), device: device);
                var prefill = model.Forward(input.index_select(0, distinctIndex), cache, mask.index_select(0, distinctIndex), lastOnly: true)[TensorIndex.Colon, -1].to_type(ScalarType.Float32);
                var rows = torch.tensor(sharedRow.Select(r => (long)Array.IndexOf(distinct, r)).ToArray(), device: device);
                cache!.Expand(rows);
                logits = prefill.index_select(0, rows);
            }
            else logits = model.Forward(useCache ? step : fullIds, cache, mask, lastOnly: true)[TensorIndex.Colon, -1].to_type(ScalarType.Float32);
            var scaled = o.Temperature > 0 ? logits / o.Temperature : logits;
            var logProbs = scaled.log_softmax(-1);
            Tensor next = o.Temperature == 0 ? logits.argmax(-1) : SampleTopP(logProbs, o.TopP, generator);
            var chosen = logProbs.gather(1, next.unsqueeze(1)).squeeze(1);
            long[] nextIds = next.cpu().data<long>().ToArray();
            double[] chosenLp = chosen.cpu().to_type(ScalarType.Float64).data<double>().ToArray();
            for (int r = 0; r < b; r++)
            {
                if (finish[r] != null) { nextIds[r] = tok.EosId; continue; }
                if (nextIds[r] == tok.EosId) { finish[r] = "stop"; eos[r] = true; continue; }
                tokens[r].Add((int)nextIds[r]);
                logps[r].Add(chosenLp[r]);
                if (stopTail > 0)
                {
                    // Only the newest tokens can complete a stop string (every token decodes to at least one character).
                    string tail = tok.Decode(tokens[r].Skip(Math.Max(0, tokens[r].Count - stopTail)));
                    if (o.StopStrings.Any(s => tail.Contains(s, StringComparison.Ordinal))) finish[r] = "stop";
                }
            }
            step = torch.tensor(nextIds, [b, 1], device: device);
            fullIds = torch.cat([fullIds, step], 1);
            mask = torch.cat([mask, torch.ones(b, 1, dtype: ScalarType.Int64, device: device)], 1);
        }
        return Enumerable.Range(0, b).Select(r =>
        {
            string text = tok.Decode(tokens[r]);
            foreach (string s in o.StopStrings)
            {
                int at = text.IndexOf(s, StringComparison.Ordinal);
                if (at >= 0) text = text[..at];
            }
            return new Sample { Tokens = [.. tokens[r]], Text = text, LogProbs = [.. logps[r]], FinishReason = finish[r] ?? "length", EndedWithEos = eos[r] };
        }).ToList();
    }

    /// <summary>Nucleus sampling: keep the smallest set of tokens whose probability reaches top_p.</summary>
    static Tensor SampleTopP(Tensor logProbs, double topP, torch.Generator generator)
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
        return torch.multinomial(probs, 1, generator: generator).squeeze(1);
    }
}
