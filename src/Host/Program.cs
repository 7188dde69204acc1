using System.Net;
using DurableTask.AzureStorage;
using DurableTask.Core;
using Grpc.Net.Client;
using MathV2.Activities;
using MathV2.Api;
using MathV2.Core.Artifacts;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;
using MathV2.Core.Telemetry;
using OpenTelemetry.Trace;
using MathV2.Host;
using MathV2.Orchestrations;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Converters;
using Microsoft.DurableTask.Worker;

var builder = WebApplication.CreateBuilder(args);
// MATHV2_* settings come from the host's configuration (environment variables); a mistyped one stops the host (exit 2).
var settings = new MathV2.Core.Settings(builder.Configuration);
LocalHostOptions options;
LogLevel frameworkLevel;
try { (options, frameworkLevel) = (LocalHostOptions.FromEnvironment(settings), settings.Enum("MATHV2_FRAMEWORK_LOG_LEVEL", LogLevel.Warning)); }
catch (MathV2.Core.SettingsException e) { Console.Error.WriteLine($"mathv2 host: {e.Message}"); Environment.Exit(2); return; }
var storage = options.Storage;

builder.WebHost.ConfigureKestrel(k =>
{
    var address = options.Bind == HostBind.Any ? IPAddress.Any : IPAddress.Loopback;
    k.Listen(address, options.ApiPort, o => o.Protocols = HttpProtocols.Http1);
    k.Listen(address, options.GrpcPort, o => o.Protocols = HttpProtocols.Http2);
});
builder.Logging.AddFilter("Microsoft.AspNetCore", frameworkLevel).AddFilter("DurableTask", frameworkLevel)
    .AddFilter("Microsoft.DurableTask", frameworkLevel).AddFilter("Grpc", frameworkLevel);
var services = builder.Services;
services.AddOpenApi();   // GET /api/openapi/v1.json: the API as an OpenAPI document
// The worker's gRPC stream to the in-process sidecar only ends when the host gives up waiting; keep that short.
services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
services.AddGrpc();
services.AddSingleton(sp => new AzureStorageOrchestrationService(new AzureStorageOrchestrationServiceSettings
{
    TaskHubName = options.TaskHub,
    StorageAccountClientProvider = storage.ConnectionString is { } cs ? new StorageAccountClientProvider(cs)
        : new StorageAccountClientProvider(storage.Endpoints!.Blob, storage.Endpoints.Queue, storage.Endpoints.Table, storage.Credential!),
    MaxQueuePollingInterval = options.MaxQueuePollingInterval,
    // One stable worker name: a restarted host takes its partitions back at once instead of waiting out the leases.
    WorkerId = "mathv2-local-host",
    PartitionCount = 4,
    ControlQueueVisibilityTimeout = TimeSpan.FromSeconds(30),
    WorkItemQueueVisibilityTimeout = TimeSpan.FromSeconds(120),
    LoggerFactory = sp.GetRequiredService<ILoggerFactory>(),
    CustomMessageTypeBinder = new ProtobufTagsTypeBinder(),
}));
services.AddSingleton(sp => SidecarServiceAdapter.Wrap(sp.GetRequiredService<AzureStorageOrchestrationService>()));
services.AddSingleton<IOrchestrationServiceClient>(sp => SidecarClientAdapter.Wrap(sp.GetRequiredService<AzureStorageOrchestrationService>()));
services.AddSingleton<MathV2Sidecar>();
services.AddMathV2Services(_ => storage).AddMathV2Activities();
services.AddHostedService<JobEventPump>();
// Traces and metrics to OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set (docs/observe.md): the API's requests (not the
// dashboard's files or the sidecar's gRPC), the durable instances' spans, the gpu-jobs queue depth.
if (services.AddMathV2Telemetry("mathv2-host", t => t.AddAspNetCoreInstrumentation(o => o.Filter = ctx =>
        ctx.Request.Path.StartsWithSegments("/api") && !ctx.Request.Path.StartsWithSegments("/api/dashboard"))))
    services.AddHostedService<QueueDepthSampler>();

var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{options.GrpcPort}");
var converter = new JsonDataConverter(MathV2.Core.Json.Options);
services.AddDurableTaskClient(b => { b.UseGrpc(channel); b.RegisterDirectly(); b.Configure(o => o.DataConverter = converter); });
services.AddDurableTaskWorker(b =>
{
    b.UseGrpc(channel);
    b.Configure(o => o.DataConverter = converter);
    b.AddTasks(r => r.AddMathV2Tasks());
    // The in-process sidecar sends no health pings: with the default 120 s silent-disconnect timeout an idle
    // worker (a lap waiting for annotators) reconnects and the sidecar keeps feeding the dead stream, so work
    // stalls. The stream is in-process; it cannot disconnect silently.
    b.Services.Configure<Microsoft.DurableTask.Worker.Grpc.GrpcDurableTaskWorkerOptions>(b.Name,
        o => Microsoft.DurableTask.Worker.Grpc.Internal.InternalOptionsExtensions.SetSilentDisconnectTimeout(o, TimeSpan.Zero));
});

var app = builder.Build();
// The Options read from configuration (job limits), checked now rather than at the first request.
try { app.Services.GetRequiredService<GpuJobLimits>(); app.Services.GetRequiredService<MathV2.Api.RunLimits>(); }
catch (MathV2.Core.SettingsException e) { Console.Error.WriteLine($"mathv2 host: {e.Message}"); Environment.Exit(2); return; }
// Storage may be coming back (an outage, Azurite restarting): wait for it rather than exit.
await StorageFaults.RetryAsync(() => storage.EnsureCreatedAsync(), TimeSpan.FromMinutes(2), Console.Error.WriteLine, "mathv2 host start");
await StorageFaults.RetryAsync(() => app.Services.GetRequiredService<AzureStorageOrchestrationService>().CreateIfNotExistsAsync(),
    TimeSpan.FromMinutes(2), Console.Error.WriteLine, "mathv2 host start");
// The engine (sidecar or storage) briefly unavailable is a 503 the caller may retry, not a 500.
app.UseExceptionHandler(new ExceptionHandlerOptions
{
    StatusCodeSelector = e => e is Grpc.Core.RpcException { StatusCode: Grpc.Core.StatusCode.Unavailable } || StorageFaults.IsTransient(e) ? 503 : 500,
});
app.UseStatusCodePages();
app.MapGrpcService<MathV2Sidecar>();
// Ready only when a client call goes all the way through the sidecar to storage (what `up` waits for).
app.MapGet("/healthz", async (HttpRequest req, DurableTaskClient client, CancellationToken ct) =>
{
    if (!Routes.KeyMatches(ApiHandlers.KeyOf(req), options.Keys)) return Problems.Unauthorized();
    try
    {
        await client.GetInstanceAsync("mathv2-healthz", getInputsAndOutputs: false, ct);
        return Results.Json(new { status = "ok", taskHub = options.TaskHub });
    }
    catch (Exception e) when (e is Grpc.Core.RpcException or Azure.RequestFailedException or HttpRequestException)
    {
        return Results.Json(new { status = "starting", error = e.Message }, statusCode: 503);
    }
}).ExcludeFromDescription();   // the local host's readiness, not the API
app.MapMathV2Api(options.Keys);
app.Run();
