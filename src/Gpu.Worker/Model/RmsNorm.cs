using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Model;

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
