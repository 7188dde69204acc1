using TorchSharp;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Model;

/// <summary>
/// Readies libtorch's CPU math library (MKL's vector math, behind sin, cos, exp, log, …) on one thread before any
/// kernel runs it on several. Its first call, made by two OpenMP threads at once, computed the second thread's half
/// of a rotary table's sin() with about 1e-4 relative error in roughly 1 fresh process of 40, so the same job gave
/// other numbers from process to process (docs/journal/2026-11-laps.md, 2026-12-01 late).
/// </summary>
public static class TorchMath
{
    static readonly Lazy<bool> Ready = new(() =>
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        // Few elements: each op runs on the calling thread only.
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
        {
            var x = torch.full(4, 0.5, dtype: dtype);
            _ = (x.sin(), x.cos(), x.tan(), x.exp(), x.expm1(), x.log(), x.log1p(), x.log2(), x.log10(), x.sqrt(), x.tanh(),
                x.sinh(), x.cosh(), x.asin(), x.acos(), x.atan(), x.erf(), x.erfc(), x.erfinv(), x.lgamma(), x.rsqrt(), x.sigmoid());
        }
        return true;
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Runs the one-thread warm-up once per process; cheap after the first call.</summary>
    public static void EnsureReady() => _ = Ready.Value;

    /// <summary>Whether the warm-up has run in this process.</summary>
    public static bool IsReady => Ready.IsValueCreated;
}
