using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace MathV2.Core.Telemetry;

/// <summary>
/// Turns on the OpenTelemetry SDK with the OTLP exporter when the standard variables ask for it
/// (OTEL_EXPORTER_OTLP_ENDPOINT, or its _TRACES_ / _METRICS_ forms; OTEL_EXPORTER_OTLP_PROTOCOL,
/// OTEL_METRIC_EXPORT_INTERVAL, OTEL_BSP_SCHEDULE_DELAY, OTEL_SERVICE_NAME... as the SDK reads them).
/// APPLICATIONINSIGHTS_CONNECTION_STRING sends the same traces and metrics to Application Insights (Azure Monitor
/// exporter), as the Functions app does; both may be set. OTEL_SDK_DISABLED=true turns all off. With none set nothing
/// is collected.
/// </summary>
public static class TelemetrySetup
{
    public static bool OtlpEnabled(Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        if (string.Equals(env("OTEL_SDK_DISABLED"), "true", StringComparison.OrdinalIgnoreCase)) return false;
        return new[] { "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" }
            .Any(v => !string.IsNullOrWhiteSpace(env(v)));
    }

    /// <summary>The Application Insights connection string to export to, or null (also when OTEL_SDK_DISABLED=true).</summary>
    public static string? AzureMonitorConnectionString(Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        if (string.Equals(env("OTEL_SDK_DISABLED"), "true", StringComparison.OrdinalIgnoreCase)) return null;
        var value = env("APPLICATIONINSIGHTS_CONNECTION_STRING");
        return string.IsNullOrWhiteSpace(value) ? null : value;
    }

    /// <summary>Spans to Application Insights, every one (the exporter's default rate-limited sampling would drop a lap's spans at random).</summary>
    public static TracerProviderBuilder AddAzureMonitor(TracerProviderBuilder t, string connectionString) =>
        t.AddAzureMonitorTraceExporter(o => { o.ConnectionString = connectionString; o.TracesPerSecond = null; o.SamplingRatio = 1.0F; });

    /// <summary>Meters to Application Insights.</summary>
    public static MeterProviderBuilder AddAzureMonitor(MeterProviderBuilder m, string connectionString) =>
        m.AddAzureMonitorMetricExporter(o => o.ConnectionString = connectionString);

    static void Resource(ResourceBuilder r, string service, string? instance)
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OTEL_SERVICE_NAME"))) r.AddService(service, serviceInstanceId: instance);
    }

    /// <summary>
    /// A host's traces (MathV2 and <paramref name="tracing"/>'s sources) and metrics to OTLP and/or Application
    /// Insights; false when neither is asked for. <paramref name="env"/> reads the variables (the process's by default).
    /// </summary>
    public static bool AddMathV2Telemetry(this IServiceCollection services, string service, Action<TracerProviderBuilder>? tracing = null,
        string? instance = null, Func<string, string?>? env = null)
    {
        bool otlp = OtlpEnabled(env);
        var azureMonitor = AzureMonitorConnectionString(env);
        if (!otlp && azureMonitor == null) return false;
        services.AddOpenTelemetry()
            .ConfigureResource(r => Resource(r, service, instance))
            .WithTracing(t =>
            {
                t.AddSource(MathV2Telemetry.Name);
                tracing?.Invoke(t);
                if (otlp) t.AddOtlpExporter();
                if (azureMonitor != null) AddAzureMonitor(t, azureMonitor);
            })
            .WithMetrics(m =>
            {
                m.AddMeter(MathV2Telemetry.Name);
                if (otlp) m.AddOtlpExporter();
                if (azureMonitor != null) AddAzureMonitor(m, azureMonitor);
            });
        return true;
    }
}
