using MathV2.Core.Jobs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Training;

/// <summary>
/// AdamW (decoupled weight decay on matrices, none on norms) with its moments held as named tensors, so that a
/// training checkpoint stores and restores them exactly. Moments are kept in the weights' dtype, in fp32, or
/// quantized to 8 bits in blocks (TrainOptions.Moments); the update itself is computed in fp32 for 8-bit moments.
/// </summary>
public sealed class AdamW : IDisposable
{
    /// <summary>Elements per quantization block, and the smallest tensor that is quantized.</summary>
    public const int Block = 64, MinQuantized = 4096;

    readonly List<(string Name, Parameter P, Moment M, Moment V)> _params = [];
    readonly TrainOptions _o;

    public AdamW(IEnumerable<(string Name, Parameter P)> parameters, TrainOptions options)
    {
        _o = options;
        foreach (var (name, p) in parameters)
            if (p.requires_grad)
            {
                bool quantized = options.Moments == "8bit" && p.numel() >= MinQuantized;
                var dtype = options.Moments == "auto" ? p.dtype : ScalarType.Float32;
                _params.Add((name, p, new Moment(p, quantized, signed: true, dtype), new Moment(p, quantized, signed: false, dtype)));
            }
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
        foreach (var (_, p, mq, vq) in _params)
        {
            using var scope = torch.NewDisposeScope();
            var g = p.grad;
            if (g is null) continue;
            if (_o.WeightDecay > 0 && p.dim() >= 2) p.mul_(1 - lr * _o.WeightDecay);
            var m = mq.Read();
            var v = vq.Read();
            if (m.dtype != g.dtype) g = g.to_type(m.dtype);
            m.mul_(_o.Beta1).add_(g, alpha: 1 - _o.Beta1);
            v.mul_(_o.Beta2).addcmul_(g, g, value: 1 - _o.Beta2);
            var denom = (v / bc2).sqrt_().add_(_o.Epsilon);
            if (m.dtype == p.dtype) p.addcdiv_(m, denom, value: -lr / bc1);
            else p.add_((m / denom * (-lr / bc1)).to_type(p.dtype));
            mq.Write(m);
            vq.Write(v);
        }
    }

    /// <summary>Moments by parameter name ("m.{name}", "v.{name}"; quantized: their codes and "…​.scale").</summary>
    public IEnumerable<(string Name, Tensor Tensor)> State() =>
        _params.SelectMany(x => x.M.State($"m.{x.Name}").Concat(x.V.State($"v.{x.Name}")));

    public void Load(IReadOnlyDictionary<string, Tensor> state, long stepCount)
    {
        using var noGrad = torch.no_grad();
        foreach (var (name, _, m, v) in _params)
        {
            m.Load(state, $"m.{name}");
            v.Load(state, $"v.{name}");
        }
        StepCount = stepCount;
    }

    public void Dispose()
    {
        foreach (var (_, _, m, v) in _params) { m.Dispose(); v.Dispose(); }
    }

    /// <summary>
    /// One moment of one parameter: a tensor of its shape, or 8-bit log-spaced codes in blocks with one fp32 scale
    /// (the block's largest magnitude) per block: m to the nearest of ±127 codes over 24 octaves, v rounded up to one
    /// of 255 codes over 48 octaves, so a dequantized v is never below the true one.
    /// </summary>
    sealed class Moment : IDisposable
    {
        readonly long[] _shape;
        readonly long _numel;
        readonly bool _signed;
        readonly Tensor? _plain, _codes, _scale;

        public Moment(Parameter p, bool quantized, bool signed, ScalarType dtype)
        {
            (_shape, _numel, _signed) = (p.shape, p.numel(), signed);
            if (!quantized) { _plain = torch.zeros(p.shape, dtype: dtype, device: p.device).DetachFromDisposeScope(); return; }
            long blocks = (_numel + Block - 1) / Block;
            _codes = torch.zeros([blocks, Block], dtype: signed ? ScalarType.Int8 : ScalarType.Byte, device: p.device).DetachFromDisposeScope();
            _scale = torch.zeros([blocks], dtype: ScalarType.Float32, device: p.device).DetachFromDisposeScope();
        }

        /// <summary>Octaves below the block's largest value that the codes span: m (±127 codes) and v (255 codes).</summary>
        const double MOctaves = 24, VOctaves = 48;

        /// <summary>The moment in fp32 (quantized) or the tensor itself (updated in place).</summary>
        public Tensor Read()
        {
            if (_plain is not null) return _plain;
            // Code c ≠ 0 stands for scale · 2^(−(top − |c|) · octaves / (top − 1)), with the sign of c; 0 for zero.
            var c = _codes!.to_type(ScalarType.Float32);
            double top = _signed ? 127 : 255, octaves = _signed ? MOctaves : VOctaves;
            var magnitude = _scale!.unsqueeze(1) * torch.pow(2f, (c.abs() - top) * (float)(octaves / (top - 1)));
            var x = torch.where(c == 0, torch.zeros_like(magnitude), _signed ? c.sign() * magnitude : magnitude);
            return x.reshape(-1).narrow(0, 0, _numel).reshape(_shape);
        }

        public void Write(Tensor x)
        {
            if (_plain is not null) return;   // updated in place
            // Log-spaced codes: the same relative precision (about 14% a step) over the block's whole range, where
            // linear codes keep values down to 1/127 of the largest and round the rest to 0.
            var flat = x.reshape(-1);
            long pad = _codes!.numel() - _numel;
            if (pad > 0) flat = torch.cat([flat, torch.zeros(pad, dtype: flat.dtype, device: flat.device)]);
            var blocks = flat.view(-1, Block);
            var magnitude = blocks.abs();
            var scale = magnitude.amax([1L]);
            double top = _signed ? 127 : 255, octaves = _signed ? MOctaves : VOctaves;
            var exponent = -torch.log2(magnitude / scale.clamp_min(1e-30f).unsqueeze(1)) * (float)((top - 1) / octaves);
            // m to the nearest code (below the range: zero); v rounded up (below the range: the smallest code), so a
            // dequantized v is never below the true one and no step is larger than fp32's would be.
            var c = _signed ? top - exponent.round() : top - exponent.floor();
            c = _signed ? torch.where(c < 1, torch.zeros_like(c), c) : c.clamp(1, top);
            c = torch.where(magnitude == 0, torch.zeros_like(c), c);
            if (_signed) c = c * blocks.sign();
            _codes.copy_(c.to_type(_codes.dtype));
            _scale!.copy_(scale);
        }

        public IEnumerable<(string Name, Tensor Tensor)> State(string name) =>
            _plain is not null ? [(name, _plain)] : [($"{name}.codes", _codes!), ($"{name}.scale", _scale!)];

        public void Load(IReadOnlyDictionary<string, Tensor> state, string name)
        {
            foreach (var (key, t) in State(name))
            {
                if (!state.TryGetValue(key, out var saved)) throw new InvalidDataException($"training checkpoint lacks the optimizer state {key} (written with other moments?)");
                if (!saved.shape.SequenceEqual(t.shape)) throw new InvalidDataException($"training checkpoint's optimizer state {key} has shape [{string.Join(", ", saved.shape)}], this run's is [{string.Join(", ", t.shape)}]");
                t.copy_(saved);
            }
        }

        public void Dispose()
        {
            _plain?.Dispose();
            _codes?.Dispose();
            _scale?.Dispose();
        }
    }
}
