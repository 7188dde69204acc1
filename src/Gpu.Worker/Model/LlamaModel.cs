using MathV2.Core.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Model;

/// <summary>Where attention layers keep the keys and values of earlier positions.</summary>
public interface IKvCache
{
    /// <summary>Stores a layer's new keys and values [batch, kv heads, new, head dim]; returns all it attends over.</summary>
    (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v);
}

/// <summary>
/// Keys and values of earlier positions, per layer, for incremental decoding. With a capacity, buffers are allocated
/// once and each step writes into them (no copy of the whole cache per token); without one, steps concatenate.
/// </summary>
public sealed class KvCache(int layers, long capacity = 0) : IKvCache, IDisposable
{
    readonly Tensor?[] _keys = new Tensor?[layers], _values = new Tensor?[layers];
    readonly long[] _lengths = new long[layers];

    /// <summary>Positions already cached.</summary>
    public long Length => _lengths[0];

    /// <summary>A layer's cached keys and values (the filled part).</summary>
    internal (Tensor K, Tensor V) Layer(int layer) =>
        (_keys[layer]!.narrow(2, 0, _lengths[layer]), _values[layer]!.narrow(2, 0, _lengths[layer]));

    public (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        long s = k.shape[2], len = _lengths[layer];
        if (capacity > 0 && len + s <= capacity)
        {
            if (_keys[layer] is null)
            {
                _keys[layer] = torch.empty([k.shape[0], k.shape[1], capacity, k.shape[3]], dtype: k.dtype, device: k.device).DetachFromDisposeScope();
                _values[layer] = torch.empty([v.shape[0], v.shape[1], capacity, v.shape[3]], dtype: v.dtype, device: v.device).DetachFromDisposeScope();
            }
            using (torch.no_grad())
            {
                _keys[layer]!.narrow(2, len, s).copy_(k);
                _values[layer]!.narrow(2, len, s).copy_(v);
            }
            _lengths[layer] = len + s;
            return (_keys[layer]!.narrow(2, 0, len + s), _values[layer]!.narrow(2, 0, len + s));
        }
        if (capacity > 0 && _keys[layer] is not null && _keys[layer]!.shape[2] != len)
        {
            // Past the capacity: continue by concatenation from the filled part.
            var (fk, fv) = (_keys[layer]!, _values[layer]!);
            _keys[layer] = fk.narrow(2, 0, len).clone().DetachFromDisposeScope();
            _values[layer] = fv.narrow(2, 0, len).clone().DetachFromDisposeScope();
            fk.Dispose(); fv.Dispose();
        }
        var (oldK, oldV) = (_keys[layer], _values[layer]);
        _keys[layer] = (oldK is null ? k.detach() : torch.cat([oldK, k.detach()], 2)).DetachFromDisposeScope();
        _values[layer] = (oldV is null ? v.detach() : torch.cat([oldV, v.detach()], 2)).DetachFromDisposeScope();
        if (oldK is not null) { oldK.Dispose(); oldV!.Dispose(); }
        _lengths[layer] = len + s;
        return (_keys[layer]!, _values[layer]!);
    }

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values)) t?.Dispose();
    }
}

/// <summary>
/// Continuous batching's cache: a fixed number of slots, each holding one sequence of its own length. A decode step
/// feeds one token per slot and writes its keys and values at that slot's own position (<see cref="Positions"/>);
/// attention covers the first <see cref="Span"/> positions, the caller's mask hiding each slot's unused tail. A slot
/// is (re)filled from a prefill cache row (<see cref="Load"/>) when a sequence ends and another waits.
/// </summary>
public sealed class SlotKvCache(int layers, long capacity) : IKvCache, IDisposable
{
    Tensor?[] _keys = new Tensor?[layers], _values = new Tensor?[layers];

    /// <summary>The write position of each slot in the next decode step ([slots] int64).</summary>
    public Tensor? Positions { get; set; }
    /// <summary>Positions the next decode step attends over (the longest slot's length after the step).</summary>
    public long Span { get; set; }

    void Allocate(int layer, long slots, Tensor like)
    {
        if (_keys[layer] is not null) return;
        _keys[layer] = torch.zeros([slots, like.shape[1], capacity, like.shape[3]], dtype: like.dtype, device: like.device).DetachFromDisposeScope();
        _values[layer] = torch.zeros([slots, like.shape[1], capacity, like.shape[3]], dtype: like.dtype, device: like.device).DetachFromDisposeScope();
    }

    /// <summary>Copies the first length positions of a prefill cache's row into a slot (each layer).</summary>
    public void Load(long slot, long slots, KvCache prefill, long row, long from, long length)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        for (int layer = 0; layer < _keys.Length; layer++)
        {
            var (k, v) = prefill.Layer(layer);
            Allocate(layer, slots, k);
            _keys[layer]![slot].narrow(1, 0, length).copy_(k[row].narrow(1, from, length));
            _values[layer]![slot].narrow(1, 0, length).copy_(v[row].narrow(1, from, length));
        }
    }

    public (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        if (Positions is null || k.shape[2] != 1) throw new InvalidOperationException("a slot cache takes one token per slot, at Positions");
        var (keys, values) = (_keys[layer]!, _values[layer]!);
        using (torch.no_grad())
        {
            var at = Positions.view(-1, 1, 1, 1).expand(k.shape[0], k.shape[1], 1, k.shape[3]);
            keys.scatter_(2, at, k.detach());
            values.scatter_(2, at, v.detach());
        }
        return (keys.narrow(2, 0, Span), values.narrow(2, 0, Span));
    }

    /// <summary>Keeps only the given slots, in that order (sequences that ended and have no successor leave the batch).</summary>
    public void Keep(Tensor slots)
    {
        using var noGrad = torch.no_grad();
        for (int layer = 0; layer < _keys.Length; layer++)
        {
            if (_keys[layer] is null) continue;
            var (k, v) = (_keys[layer]!, _values[layer]!);
            _keys[layer] = k.index_select(0, slots).DetachFromDisposeScope();
            _values[layer] = v.index_select(0, slots).DetachFromDisposeScope();
            k.Dispose();
            v.Dispose();
        }
    }

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values)) t?.Dispose();
    }
}

/// <summary>RMSNorm: x / sqrt(mean(x²) + eps) · weight.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    readonly double _eps;
    public readonly Parameter weight;

    public RmsNorm(int dim, double eps) : base(nameof(RmsNorm))
    {
        _eps = eps;
        weight = new Parameter(torch.ones(dim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        bool fp32 = x.dtype == ScalarType.Float32;
        var xf = fp32 ? x : x.to_type(ScalarType.Float32);
        var normed = xf * torch.rsqrt(xf.pow(2).mean([-1L], keepdim: true) + _eps);
        return ((fp32 ? normed : normed.to_type(x.dtype)) * weight).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Grouped-query self-attention with rotary embeddings (HF layout: q_proj, k_proj, v_proj, o_proj; Qwen2's q/k/v
/// biases; Qwen3's q_norm and k_norm over each head before the rotation).
/// </summary>
public sealed class LlamaAttention : nn.Module
{
    readonly LlamaConfig _c;
    public readonly Linear q_proj, k_proj, v_proj, o_proj;
    public readonly RmsNorm? q_norm, k_norm;

    public LlamaAttention(LlamaConfig c) : base(nameof(LlamaAttention))
    {
        _c = c;
        q_proj = nn.Linear(c.HiddenSize, c.Heads * c.HeadDim, hasBias: c.QkvBias);
        k_proj = nn.Linear(c.HiddenSize, c.KvHeads * c.HeadDim, hasBias: c.QkvBias);
        v_proj = nn.Linear(c.HiddenSize, c.KvHeads * c.HeadDim, hasBias: c.QkvBias);
        o_proj = nn.Linear(c.Heads * c.HeadDim, c.HiddenSize, hasBias: false);
        if (c.QkNorm)
        {
            q_norm = new RmsNorm(c.HeadDim, c.RmsNormEps);
            k_norm = new RmsNorm(c.HeadDim, c.RmsNormEps);
        }
        RegisterComponents();
    }

    /// <param name="x">[batch, seq, hidden]</param>
    /// <param name="cos">[batch, seq, 1, head_dim] for the query positions; sin likewise, its first half negated</param>
    /// <param name="mask">additive [batch, 1, (heads / kv heads) · seq, total] mask (0 or -inf), the causal mask tiled
    /// per query group; null: causal attention within the row, or within each of its packed sequences</param>
    /// <param name="packed">the (start, length) of each sequence packed into the row (batch 1), with mask null</param>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, IKvCache? cache, int layer, IReadOnlyList<(long Start, long Length)>? packed = null)
    {
        long b = x.shape[0], s = x.shape[1];
        int h = _c.Heads, kvh = _c.KvHeads, d = _c.HeadDim;
        // Heads stay in [batch, seq, heads, head_dim] through the rotation: every elementwise op reads and writes
        // memory in order, and a packed sequence is one contiguous block.
        var q = q_proj.forward(x).view(b, s, h, d);
        var k = k_proj.forward(x).view(b, s, kvh, d);
        if (q_norm != null) (q, k) = (q_norm.forward(q), k_norm!.forward(k));
        var v = v_proj.forward(x).view(b, s, kvh, d);
        // x·cos + rotate_half(x)·sin, with rotate_half(x) = (-x2, x1) = roll(x)·(-1, 1) and the sign in sin.
        q = q * cos + q.roll(d / 2, -1) * sin;
        k = k * cos + k.roll(d / 2, -1) * sin;
        if (mask is null)
        {
            // Causal attention by the fused kernel (no mask materialized): K/V repeated per query head.
            if (packed is null)
                return o_proj.forward(CausalAttention(q, k, v, h / kvh).reshape(b, s, h * d));
            // Packed: one fused call per sequence. split's backward is one cat (narrow's would add a zero-filled
            // copy of the whole row per sequence).
            var lengths = packed.Select(p => p.Length).ToArray();
            var (qs, ks, vs) = (q.split(lengths, 1), k.split(lengths, 1), v.split(lengths, 1));
            var attended = torch.cat(qs.Select((qi, i) => CausalAttention(qi, ks[i], vs[i], h / kvh)).ToArray(), 1);
            return o_proj.forward(attended.reshape(b, s, h * d));
        }
        (q, k, v) = (q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2));
        if (cache != null) (k, v) = cache.Append(layer, k, v);
        // Grouped-query attention without copying K/V per head: the query heads of one KV head are stacked along
        // the sequence axis (head i uses KV head i / (h / kvh), as repeat_interleave would), one fused SDPA call.
        var qg = q.reshape(b, kvh, h / kvh * s, d);
        var o = nn.functional.scaled_dot_product_attention(qg, k, v, mask).view(b, h, s, d).transpose(1, 2).reshape(b, s, h * d);
        return o_proj.forward(o);
    }

    /// <summary>Causal attention of [batch, seq, heads, d] queries over [batch, seq, kv heads, d] keys and values; [batch, seq, heads, d].</summary>
    static Tensor CausalAttention(Tensor q, Tensor k, Tensor v, int groups)
    {
        if (groups > 1) (k, v) = (k.repeat_interleave(groups, 2), v.repeat_interleave(groups, 2));
        return nn.functional.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_casual: true).transpose(1, 2);
    }
}

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) · up(x)).</summary>
public sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    public readonly Linear gate_proj, up_proj, down_proj;

    public LlamaMlp(LlamaConfig c) : base(nameof(LlamaMlp))
    {
        gate_proj = nn.Linear(c.HiddenSize, c.IntermediateSize, hasBias: false);
        up_proj = nn.Linear(c.HiddenSize, c.IntermediateSize, hasBias: false);
        down_proj = nn.Linear(c.IntermediateSize, c.HiddenSize, hasBias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => down_proj.forward(nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x));
}

public sealed class LlamaDecoderLayer : nn.Module
{
    public readonly LlamaAttention self_attn;
    public readonly LlamaMlp mlp;
    public readonly RmsNorm input_layernorm, post_attention_layernorm;

    public LlamaDecoderLayer(LlamaConfig c) : base(nameof(LlamaDecoderLayer))
    {
        self_attn = new LlamaAttention(c);
        mlp = new LlamaMlp(c);
        input_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        post_attention_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, IKvCache? cache, int layer, IReadOnlyList<(long Start, long Length)>? packed = null)
    {
        var h = x + self_attn.Forward(input_layernorm.forward(x), cos, sin, mask, cache, layer, packed);
        return h + mlp.forward(post_attention_layernorm.forward(h));
    }
}

/// <summary>The decoder stack (HF name "model").</summary>
public sealed class LlamaBody : nn.Module
{
    public readonly Embedding embed_tokens;
    public readonly ModuleList<LlamaDecoderLayer> layers;
    public readonly RmsNorm norm;

    public LlamaBody(LlamaConfig c) : base(nameof(LlamaBody))
    {
        embed_tokens = nn.Embedding(c.VocabSize, c.HiddenSize);
        layers = new ModuleList<LlamaDecoderLayer>(Enumerable.Range(0, c.Layers).Select(_ => new LlamaDecoderLayer(c)).ToArray());
        norm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        RegisterComponents();
    }
}

/// <summary>
/// A Llama-family causal LM (RMSNorm, rotary embeddings, SwiGLU, grouped-query attention, causal mask, KV cache)
/// whose parameter names match Hugging Face Llama, Qwen2 and Qwen3 checkpoints (model.layers.N.self_attn.q_proj.weight, …).
/// </summary>
public sealed class LlamaForCausalLM : nn.Module
{
    public LlamaConfig Config { get; }
    public readonly LlamaBody model;
    public readonly Linear? lm_head;

    static LlamaForCausalLM() => TorchMath.EnsureReady();

    public LlamaForCausalLM(LlamaConfig config) : base(nameof(LlamaForCausalLM))
    {
        Config = config;
        model = new LlamaBody(config);
        if (!config.TieEmbeddings) lm_head = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        RegisterComponents();
    }

    /// <summary>
    /// Logits [batch, seq, vocab] for token ids [batch, seq]. Positions continue after the cache's length; rows may
    /// carry left padding, given as an optional [batch, total] attention mask (1 keep, 0 pad), and positions then
    /// count only real tokens.
    /// </summary>
    /// <param name="lastOnly">Logits of the last position only ([batch, 1, vocab]): what sampling needs, without the
    /// prompt's batch × length × vocab logits.</param>
    public Tensor Forward(Tensor inputIds, KvCache? cache = null, Tensor? attentionMask = null, bool lastOnly = false)
    {
        using var scope = torch.NewDisposeScope();
        long b = inputIds.shape[0], s = inputIds.shape[1];
        long past = cache?.Length ?? 0, total = past + s;
        var device = inputIds.device;
        Tensor positions;
        if (attentionMask is null) positions = torch.arange(past, total, dtype: ScalarType.Int64, device: device).unsqueeze(0).expand(b, s);
        else positions = (attentionMask.to_type(ScalarType.Int64).cumsum(1) - 1).clamp_min(0)[TensorIndex.Colon, TensorIndex.Slice(past, total)];
        // Without a cache or padding, causal attention needs no mask (the fused kernel applies it).
        var mask = cache is null && attentionMask is null ? null : CausalMask(b, s, past, attentionMask, DType, device);
        return Forward(inputIds, positions, mask, cache, lastOnly).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Logits for token ids [batch, seq] at the given rotary positions [batch, seq], attending as the additive mask
    /// [batch, 1, seq, attended] says (0 or -inf; attended = what the cache returns, or seq without one), or, with
    /// mask null, causally within the row or within each sequence packed into it (packed: their starts and lengths,
    /// batch 1): the forms continuous batching (<see cref="SlotKvCache"/>) and packed training use.
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor positions, Tensor? mask, IKvCache? cache, bool lastOnly = false, IReadOnlyList<(long Start, long Length)>? packed = null)
    {
        using var scope = torch.NewDisposeScope();
        long s = inputIds.shape[1];
        if (packed is not null && (inputIds.shape[0] != 1 || mask is not null || cache is not null || packed.Sum(p => p.Length) != s))
            throw new ArgumentException("packed sequences fill one row, without a mask or cache");
        if (mask is null && cache is not null) throw new ArgumentException("a cache needs a mask (the fused causal kernel sees only the new positions)");
        var (cos, sin) = Rotary(positions, inputIds.device);
        var x = model.embed_tokens.forward(inputIds);
        int groups = Config.Heads / Config.KvHeads;
        if (groups > 1 && mask is not null) mask = mask.repeat(1, 1, groups, 1);
        for (int i = 0; i < model.layers.Count; i++)
            x = model.layers[i].Forward(x, cos, sin, mask, cache, i, packed);
        if (lastOnly && s > 1) x = x.narrow(1, s - 1, 1);
        x = model.norm.forward(x);
        var logits = lm_head is null ? torch.matmul(x, model.embed_tokens.weight!.t()) : lm_head.forward(x);
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A training step's forward and backward: lossOf turns the logits [rows, width, vocab] into the scalar to
    /// differentiate, and gradients accumulate into the parameters as loss.backward() would. With checkpoint
    /// (activation checkpointing), the layers first run without autograd keeping only each layer's input; the head
    /// and loss run with it; then each layer, from the last, is recomputed from its input and back-propagated: memory
    /// of one layer's activations instead of all of them, for a second forward pass of the layers. Causal attention
    /// within each row, or within each packed sequence (positions and packed as for <see cref="Forward(Tensor, Tensor, Tensor?, IKvCache?, bool, IReadOnlyList{ValueTuple{long, long}}?)"/>).
    /// </summary>
    /// <returns>The loss (detached).</returns>
    public Tensor Backward(Tensor inputIds, Func<Tensor, Tensor> lossOf, bool checkpoint = false, Tensor? positions = null, IReadOnlyList<(long Start, long Length)>? packed = null)
    {
        using var scope = torch.NewDisposeScope();
        long b = inputIds.shape[0], s = inputIds.shape[1];
        var device = inputIds.device;
        positions ??= torch.arange(0, s, dtype: ScalarType.Int64, device: device).unsqueeze(0).expand(b, s);
        if (!checkpoint)
        {
            var full = lossOf(Forward(inputIds, positions, null, null, packed: packed));
            full.backward();
            return full.detach().MoveToOuterDisposeScope();
        }
        var (cos, sin) = Rotary(positions, device);
        var inputs = new Tensor[model.layers.Count];
        Tensor x;
        using (torch.no_grad())
        {
            x = model.embed_tokens.forward(inputIds);
            for (int i = 0; i < model.layers.Count; i++)
            {
                inputs[i] = x;
                // Each layer's intermediates go as soon as it is done (a scope would keep them all to the end).
                using var layerScope = torch.NewDisposeScope();
                x = model.layers[i].Forward(x, cos, sin, null, null, i, packed).MoveToOuterDisposeScope();
            }
        }
        Tensor grad, result;
        using (var headScope = torch.NewDisposeScope())
        {
            // The head and the loss (vocabulary-sized tensors) go before the layers are recomputed.
            var top = x.detach().requires_grad_(true);
            var normed = model.norm.forward(top);
            var logits = lm_head is null ? torch.matmul(normed, model.embed_tokens.weight!.t()) : lm_head.forward(normed);
            var loss = lossOf(logits);
            loss.backward();
            grad = top.grad!.MoveToOuterDisposeScope();
            result = loss.detach().MoveToOuterDisposeScope();
        }
        for (int i = model.layers.Count - 1; i >= 0; i--)
        {
            Tensor next;
            using (var layerScope = torch.NewDisposeScope())
            {
                var input = inputs[i].detach().requires_grad_(true);
                var output = model.layers[i].Forward(input, cos, sin, null, null, i, packed);
                output.backward([grad]);
                next = input.grad!.MoveToOuterDisposeScope();
            }
            // Only the gradient at the current layer's input and the inputs below it stay.
            grad.Dispose();
            inputs[i].Dispose();
            grad = next;
        }
        model.embed_tokens.forward(inputIds).backward([grad]);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>The dtype of the model's activations (its embedding's).</summary>
    public ScalarType DType => model.embed_tokens.weight!.dtype;

    Tensor? _invFreq;

    (Tensor Cos, Tensor Sin) Rotary(Tensor positions, Device device)
    {
        int d = Config.HeadDim;
        if (_invFreq is null || _invFreq.device != device)
        {
            _invFreq?.Dispose();
            using var noGrad = torch.no_grad();
            var invFreq64 = torch.pow(Config.RopeTheta, -torch.arange(0, d, 2, dtype: ScalarType.Float64, device: device) / d);
            // Llama 3's rope_scaling rescales the long wavelengths (RopeScaling.Scale); without it the frequencies stay as computed.
            if (Config.RopeScaling is { Kind: "llama3" } scaling)
                invFreq64 = torch.tensor(scaling.Scale(invFreq64.cpu().data<double>().ToArray()), dtype: ScalarType.Float64, device: device);
            _invFreq = invFreq64.to_type(ScalarType.Float32).DetachFromDisposeScope();
        }
        var invFreq = _invFreq;
        var freqs = positions.to_type(ScalarType.Float32).unsqueeze(-1) * invFreq;   // [b, s, d/2]
        var emb = torch.cat([freqs, freqs], -1);                                      // [b, s, d]
        var sin = emb.sin();
        // The sign of rotate_half's first half goes in sin (LlamaAttention rotates by roll).
        var signedSin = torch.cat([-sin.narrow(-1, 0, d / 2), sin.narrow(-1, d / 2, d / 2)], -1);
        return (emb.cos().unsqueeze(2), signedSin.unsqueeze(2));                      // [b, s, 1, d]
    }

    static Tensor CausalMask(long b, long s, long past, Tensor? attentionMask, ScalarType dtype, Device device)
    {
        long total = past + s;
        var q = torch.arange(past, total, device: device).unsqueeze(1);
        var k = torch.arange(0, total, device: device).unsqueeze(0);
        var allowed = (k <= q).unsqueeze(0).unsqueeze(0).expand(b, 1, s, total);
        if (attentionMask is not null)
        {
            allowed = allowed & attentionMask.to_type(ScalarType.Bool).unsqueeze(1).unsqueeze(1);
            // A padding query still sees itself, so its row is never all -inf (NaN would reach real rows through V).
            allowed = allowed | (k == q).unsqueeze(0).unsqueeze(0).expand(b, 1, s, total);
        }
        var zeros = torch.zeros(b, 1, s, total, dtype: dtype, device: device);
        return zeros.masked_fill(allowed.logical_not(), float.NegativeInfinity);
    }
}
