using MathV2.Core.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Model;

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
