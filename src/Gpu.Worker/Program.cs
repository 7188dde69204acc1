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
if (args is ["bench", "bootstrap", ..])
{
    // `mathv2 bench bootstrap`: ./mathv2 bench bootstrap [--quick] [--steps N] [--tokenizers char,words]
    int ti = Array.IndexOf(args, "--tokenizers");
    var bo = new MathV2.Gpu.Worker.Bench.BootstrapBenchOptions
    {
        Quick = args.Contains("--quick"),
        Steps = Array.IndexOf(args, "--steps") >= 0 ? ArgInt("--steps", 1) : null,
        Hidden = Array.IndexOf(args, "--hidden") >= 0 ? ArgInt("--hidden", 64) : null,
        Layers = Array.IndexOf(args, "--layers") >= 0 ? ArgInt("--layers", 2) : null,
        ProblemsPerDifficulty = Array.IndexOf(args, "--problems") >= 0 ? ArgInt("--problems", 40) : null,
        FactProblemsPerDifficulty = Array.IndexOf(args, "--facts") >= 0 ? (int.TryParse(args[Array.IndexOf(args, "--facts") + 1], out int fp) ? fp : 0) : null,
        HeldOutPerDifficulty = ArgInt("--heldout", 8),
        FactRepeats = Array.IndexOf(args, "--fact-repeats") >= 0 ? ArgInt("--fact-repeats", 1) : null,
        LearningRate = Array.IndexOf(args, "--lr") >= 0 ? double.Parse(args[Array.IndexOf(args, "--lr") + 1], System.Globalization.CultureInfo.InvariantCulture) : null,
        Tokenizers = ti >= 0 && ti + 1 < args.Length ? args[ti + 1].Split(',', StringSplitOptions.RemoveEmptyEntries) : ["char", "words"],
    };
    var br = MathV2.Gpu.Worker.Bench.BootstrapBench.Run(bo, m => Console.Error.WriteLine($"bench: {DateTime.Now:HH:mm:ss} {m}"));
    Console.WriteLine(MathV2.Core.Json.Serialize(br, indented: true));
    return 0;
}
if (args is ["bench", ..])
{
    // `mathv2 bench worker` runs this in its own process: ./mathv2 bench worker [--quick] [--steps N] [--new-tokens N]
    var o = new MathV2.Gpu.Worker.Bench.WorkerBenchOptions
    {
        Quick = args.Contains("--quick"),
        TrainSteps = ArgInt("--steps", 4),
        NewTokens = ArgInt("--new-tokens", 256),
    };
    var result = MathV2.Gpu.Worker.Bench.WorkerBench.Run(o, m => Console.Error.WriteLine($"bench: {m}"));
    Console.WriteLine(MathV2.Core.Json.Serialize(result, indented: true));
    return 0;
}
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
var loop = new JobLoop(MathV2Storage.FromEnvironment(), [new ProbeJob(), new SftJob(), new SampleJob(), new GrpoJob(), new RefineJob()], options, device);
await loop.RunAsync(stop.Token);
return 0;

int ArgInt(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out int v) && v > 0 ? v : fallback;
}
