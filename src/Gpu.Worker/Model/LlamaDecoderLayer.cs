using MathV2.Core.Models;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Model;

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
