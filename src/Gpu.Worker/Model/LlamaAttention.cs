using MathV2.Core.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Model;

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
