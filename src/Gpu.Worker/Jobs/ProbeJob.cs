using System.Diagnostics;
using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Probes;
using TorchSharp;

namespace MathV2.Gpu.Worker.Jobs;

/// <summary>The probe job: device, threads, versions, and matmul GFLOP/s measured with TorchSharp.</summary>
public sealed class ProbeJob : IGpuJobHandler
{
    public string Kind => GpuJobKinds.Probe;

    public async Task<JsonElement?> RunAsync(GpuJobContext context, CancellationToken ct)
    {
        var p = context.GetParameters<ProbeParameters>();
        if (p.Size < 1 || p.Repeats < 1) throw new ArgumentException("probe: size and repeats must be positive");
        var result = Measure(p, context.WorkerId, (done, seconds, gflops) =>
            context.ReportProgress(new GpuJobProgress { Step = done, Seconds = Math.Round(seconds, 3), Gflops = Math.Round(gflops, 2) }), ct);
        await context.Output.AddTextAsync("probe.json", Json.Serialize(result, indented: true), ct);
        return JsonSerializer.SerializeToElement(result, Json.Options);
    }

    /// <summary>fp32 matmul throughput: one warm-up, then repeats (at least MinSeconds long).</summary>
    public static ProbeResult Measure(ProbeParameters p, string worker, Action<int, double, double>? progress = null, CancellationToken ct = default)
    {
        var device = torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        using var scope = torch.NewDisposeScope();
        var a = torch.randn(p.Size, p.Size, device: device);
        var b = torch.randn(p.Size, p.Size, device: device);
        torch.mm(a, b).Dispose();
        Sync(device);
        var sw = Stopwatch.StartNew();
        int done = 0;
        double flopsPer = 2.0 * p.Size * (double)p.Size * p.Size;
        while (done < p.Repeats || sw.Elapsed.TotalSeconds < p.MinSeconds)
        {
            ct.ThrowIfCancellationRequested();
            torch.mm(a, b).Dispose();
            done++;
            if (device.type == DeviceType.CUDA && done % 8 != 0) continue;
            Sync(device);
            progress?.Invoke(done, sw.Elapsed.TotalSeconds, flopsPer * done / sw.Elapsed.TotalSeconds / 1e9);
        }
        Sync(device);
        double seconds = sw.Elapsed.TotalSeconds;
        return new ProbeResult
        {
            Device = device.type == DeviceType.CUDA ? "cuda" : "cpu",
            Threads = torch.get_num_threads(),
            TorchSharpVersion = typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown",
            LibTorchVersion = torch.__version__,
            Size = p.Size,
            Repeats = done,
            Seconds = seconds,
            Gflops = flopsPer * done / seconds / 1e9,
            Worker = worker,
        };
    }

    static void Sync(torch.Device device)
    {
        if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
    }
}
