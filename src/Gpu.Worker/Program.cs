using MathV2.Core.Storage;
using MathV2.Gpu.Worker;
using MathV2.Gpu.Worker.Jobs;
using MathV2.Core.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TorchSharp;

// The GPU worker process: one job at a time, until SIGTERM/SIGINT.
if (args is ["tokenize", ..]) return MathV2.Gpu.Worker.Text.TokenizeCommand.Run(args, Console.In, Console.Out, Console.Error);
WorkerOptions options;
MathV2Storage storage;
try
{
    options = WorkerOptions.FromEnvironment();
    storage = MathV2Storage.FromEnvironment();
}
catch (MathV2.Core.SettingsException e) { Console.Error.WriteLine($"mathv2 worker: {e.Message}"); Environment.Exit(2); return 2; }
string device;
try
{
    device = torch.cuda.is_available() ? "cuda" : "cpu";
    MathV2.Gpu.Worker.Model.TorchMath.EnsureReady();
}
catch (Exception e)
{
    Console.Error.WriteLine($"TorchSharp failed to load: {e.Message}");
    return 3;
}
if (args is ["bench", "bootstrap", ..])
{
    // `mathv2 bench bootstrap [--quick] [--steps N] [--tokenizers char,words] [--heldout N]`; for experiments also
    // --hidden N --layers N --lr X --problems N --facts N --fact-repeats N --fact-checks N --seed S --curriculum-steps N (overrides of the lap's defaults).
    var bo = new MathV2.Gpu.Worker.Bench.BootstrapBenchOptions
    {
        Quick = args.Contains("--quick"),
        Steps = OptInt("--steps"),
        Hidden = OptInt("--hidden"),
        Layers = OptInt("--layers"),
        LearningRate = Opt("--lr") is { } lr ? double.Parse(lr, System.Globalization.CultureInfo.InvariantCulture) : null,
        ProblemsPerDifficulty = OptInt("--problems"),
        FactProblemsPerDifficulty = OptInt("--facts", min: 0),
        FactRepeats = OptInt("--fact-repeats"),
        FactChecks = OptInt("--fact-checks", min: 0),
        Seed = OptInt("--seed", min: 0),
        CurriculumSteps = OptInt("--curriculum-steps", min: 0),
        HeldOutPerDifficulty = OptInt("--heldout") ?? 8,
        Tokenizers = Opt("--tokenizers")?.Split(',', StringSplitOptions.RemoveEmptyEntries) ?? ["char", "words"],
    };
    var br = MathV2.Gpu.Worker.Bench.BootstrapBench.Run(bo, m => Console.Error.WriteLine($"bench: {DateTime.Now:HH:mm:ss} {m}"));
    Console.WriteLine(MathV2.Core.Json.Serialize(br, indented: true));
    return 0;
}
if (args is ["bench", "memory", ..])
{
    // `mathv2 bench memory [--quick]`: the memory plan against the measured peak (the CLI sets MALLOC_MMAP_THRESHOLD_).
    var mr = MathV2.Gpu.Worker.Bench.MemoryBench.Run(args.Contains("--quick"), m => Console.Error.WriteLine($"bench: {m}"));
    Console.WriteLine(MathV2.Core.Json.Serialize(mr, indented: true));
    return 0;
}
if (args is ["bench", ..])
{
    // `mathv2 bench worker` runs this in its own process: ./mathv2 bench worker [--quick] [--steps N] [--new-tokens N]
    var o = new MathV2.Gpu.Worker.Bench.WorkerBenchOptions
    {
        Quick = args.Contains("--quick"),
        TrainSteps = OptInt("--steps") ?? 10,
        NewTokens = OptInt("--new-tokens") ?? 256,
    };
    var result = MathV2.Gpu.Worker.Bench.WorkerBench.Run(o, m => Console.Error.WriteLine($"bench: {m}"));
    Console.WriteLine(MathV2.Core.Json.Serialize(result, indented: true));
    return 0;
}
// The job loop on the Generic Host: SIGTERM/SIGINT stop it (a running job is interrupted between steps and its
// lease lapses), logs go to the console (JSON with MATHV2_LOG_FORMAT=json), and traces and metrics to OTLP when
// OTEL_EXPORTER_OTLP_ENDPOINT is set (docs/observe.md), flushed at exit.
var hb = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
hb.Configuration.AddEnvironmentVariables(); // the OpenTelemetry SDK reads OTEL_* from the configuration
hb.Logging.SetMinimumLevel(LogLevel.Information).AddFilter("Microsoft", LogLevel.Warning).AddFilter("System", LogLevel.Warning);
if (options.LogFormat == WorkerLogFormat.Json)
    hb.Logging.AddJsonConsole(o => { o.UseUtcTimestamp = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ"; });
else
    hb.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.UseUtcTimestamp = true; o.TimestampFormat = "HH:mm:ss.fff "; o.IncludeScopes = false; });
hb.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(25));
hb.Services.AddMathV2Telemetry("mathv2-worker", instance: options.WorkerId);
hb.Services.AddSingleton(new JobLoop(storage, [new ProbeJob(), new SftJob(), new SampleJob(), new GrpoJob(), new RefineJob()], options, device));
hb.Services.AddHostedService<WorkerService>();
using var host = hb.Build();
WorkerLog.Use(host.Services.GetRequiredService<ILoggerFactory>());
await host.RunAsync();
return Environment.ExitCode;

string? Opt(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

int? OptInt(string name, int min = 1) => Opt(name) is { } v && int.TryParse(v, out int n) && n >= min ? n : null;
