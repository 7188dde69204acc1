using Azure.Core.Serialization;
using MathV2.Activities;
using MathV2.Api;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;
using MathV2.Core.Telemetry;
using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Azure.Functions.Worker.Middleware;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MathV2.Functions;

/// <summary>The Functions app's services and settings, in one place (Program.cs and the tests use it).</summary>
public static class FunctionsSetup
{
    /// <summary>
    /// Durable data (orchestration inputs, outputs, custom status, activity inputs) in the local host's JSON shape;
    /// MATHV2_* settings read and checked now (a missing or bad one stops the app with its name); storage made ready
    /// at start.
    /// </summary>
    public static FunctionsApplicationBuilder Configure(FunctionsApplicationBuilder builder)
    {
        // The extension's own startup (generated into the app) does this too; tests have no generated startup.
        builder.ConfigureDurableExtension();
        // The Durable extension builds its data converter from the worker's serializer (camelCase like the local host).
        builder.Services.Configure<WorkerOptions>(o => o.Serializer = new JsonObjectSerializer(Json.Options));
        var settings = new Settings(builder.Configuration);
        var storage = MathV2Storage.FromSettings(settings);
        settings.TaskHub(fallback: null);                 // host.json names the hub %MATHV2_TASKHUB%
        GpuJobLimits.FromEnvironment(settings);           // checked now: a bad value stops the app here (exit 2)
        MathV2.Api.RunLimits.FromEnvironment(settings);   // likewise MATHV2_MAX_ACTIVE_RUNS
        builder.Services.AddMathV2Services(_ => storage).AddMathV2Activities();
        builder.Services.AddHostedService<StorageSetup>();
        // Traces and metrics (docs/observe.md): to OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, to Application
        // Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is (the Bicep sets it).
        bool otlp = TelemetrySetup.OtlpEnabled(k => builder.Configuration[k]);
        string? azureMonitor = TelemetrySetup.AzureMonitorConnectionString(k => builder.Configuration[k]);
        if (otlp || azureMonitor != null)
        {
            var telemetry = builder.Services.AddOpenTelemetry().UseFunctionsWorkerDefaults()
                .WithTracing(t => t.AddSource(MathV2Telemetry.Name)).WithMetrics(m => m.AddMeter(MathV2Telemetry.Name));
            if (otlp) telemetry.UseOtlpExporter();
            // Per signal, as the host and the worker do (FunctionsConfigurationTests: the builder-wide
            // UseAzureMonitorExporter exported the meters but none of MathV2's spans).
            if (azureMonitor != null)
                telemetry.WithTracing(t => TelemetrySetup.AddAzureMonitor(t, azureMonitor)).WithMetrics(m => TelemetrySetup.AddAzureMonitor(m, azureMonitor));
            builder.Services.AddHostedService<QueueDepthSampler>();
        }
        builder.UseMiddleware<StorageFaultMiddleware>();
        return builder;
    }
}

/// <summary>
/// The Functions app's counterpart of the local host's StorageFaultGuard: while an activity's storage is
/// unavailable the activity is run again in place (<see cref="ActivityOutage"/>); FailGpuJob and other functions
/// pass unchanged.
/// </summary>
public sealed class StorageFaultMiddleware(ILogger<StorageFaultMiddleware> log) : IFunctionsWorkerMiddleware
{
    public ActivityOutage Outage { get; init; } = ActivityOutage.Default;

    public Task Invoke(FunctionContext context, FunctionExecutionDelegate next) => IsActivity(context) && ActivityOutage.RidesOut(context.FunctionDefinition.Name)
        ? Outage.RunAsync(async () => { await next(context); return true; }, m => log.LogWarning("{Message}", m),
            $"activity {context.FunctionDefinition.Name}", context.CancellationToken)
        : next(context);

    public static bool IsActivity(FunctionContext context) =>
        context.FunctionDefinition.InputBindings.Values.Any(b => string.Equals(b.Type, "activityTrigger", StringComparison.OrdinalIgnoreCase));
}

/// <summary>Creates the app's queues, tables and containers at start (idempotent), so a fresh account works from the first lap.</summary>
public sealed class StorageSetup(MathV2Storage storage) : IHostedService
{
    public Task StartAsync(CancellationToken ct) => storage.EnsureCreatedAsync(ct);
    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
}
