using MathV2.Core.Storage;
using MathV2.Gpu.Worker;
using MathV2.Gpu.Worker.Jobs;
using TorchSharp;

// The GPU worker process: one job at a time, until SIGTERM/SIGINT.
var options = WorkerOptions.FromEnvironment();
string device;
try { device = torch.cuda.is_available() ? "cuda" : "cpu"; }
catch (Exception e)
{
    Console.Error.WriteLine($"TorchSharp failed to load: {e.Message}");
    return 3;
}
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
var loop = new JobLoop(MathV2Storage.FromEnvironment(), [new ProbeJob(), new SftJob(), new SampleJob(), new GrpoJob()], options, device);
await loop.RunAsync(stop.Token);
return 0;
