using MathV2.Core.Jobs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Training;

/// <summary>
/// AdamW (decoupled weight decay on matrices, none on norms) with its moments held as named tensors, so that a
/// training checkpoint stores and restores them exactly.
/// </summary>
public sealed class AdamW : IDisposable
{
    readonly List<(string Name, Parameter P, Tensor M, Tensor V)> _params = [];
    readonly TrainOptions _o;

    public AdamW(IEnumerable<(string Name, Parameter P)> parameters, TrainOptions options)
    {
        _o = options;
        foreach (var (name, p) in parameters)
            if (p.requires_grad) _params.Add((name, p, torch.zeros_like(p).DetachFromDisposeScope(), torch.zeros_like(p).DetachFromDisposeScope()));
    }

    /// <summary>Optimizer steps taken.</summary>
    public long StepCount { get; private set; }

    public IEnumerable<Parameter> Parameters => _params.Select(x => x.P);

    public void ZeroGrad()
    {
        foreach (var (_, p, _, _) in _params) p.grad?.zero_();
    }

    public void Step(double lr)
    {
        using var noGrad = torch.no_grad();
        StepCount++;
        double bc1 = 1 - Math.Pow(_o.Beta1, StepCount), bc2 = 1 - Math.Pow(_o.Beta2, StepCount);
        foreach (var (_, p, m, v) in _params)
        {
            using var scope = torch.NewDisposeScope();
            var g = p.grad;
            if (g is null) continue;
            if (_o.WeightDecay > 0 && p.dim() >= 2) p.mul_(1 - lr * _o.WeightDecay);
            m.mul_(_o.Beta1).add_(g, alpha: 1 - _o.Beta1);
            v.mul_(_o.Beta2).addcmul_(g, g, value: 1 - _o.Beta2);
            var denom = (v / bc2).sqrt_().add_(_o.Epsilon);
            p.addcdiv_(m, denom, value: -lr / bc1);
        }
    }

    /// <summary>Moments by parameter name ("m.{name}", "v.{name}").</summary>
    public IEnumerable<(string Name, Tensor Tensor)> State() =>
        _params.SelectMany(x => new[] { ($"m.{x.Name}", x.M), ($"v.{x.Name}", x.V) });

    public void Load(IReadOnlyDictionary<string, Tensor> state, long stepCount)
    {
        using var noGrad = torch.no_grad();
        foreach (var (name, _, m, v) in _params)
        {
            if (!state.TryGetValue($"m.{name}", out var sm) || !state.TryGetValue($"v.{name}", out var sv))
                throw new InvalidDataException($"training checkpoint lacks the optimizer state of {name}");
            m.copy_(sm);
            v.copy_(sv);
        }
        StepCount = stepCount;
    }

    public void Dispose()
    {
        foreach (var (_, _, m, v) in _params) { m.Dispose(); v.Dispose(); }
    }
}
