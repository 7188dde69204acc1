using System.Diagnostics;
using MathV2.Core.Telemetry;
using MathV2.Tests;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace MathV2.Core.Tests;

/// <summary>The spans of durable instances: ids that follow from instance ids, so children know their parents before they are emitted.</summary>
public sealed class TelemetryTests
{
    static List<Activity> Listen(out ActivityListener listener)
    {
        var spans = new List<Activity>();
        listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == MathV2Telemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { lock (spans) spans.Add(a); },
        };
        ActivitySource.AddActivityListener(listener);
        return spans;
    }

    [Fact]
    public void An_instance_span_has_its_derived_id_under_the_parent_its_input_names_and_leaves_the_current_span_alone()
    {
        Assert.True(MathV2Telemetry.CanSetIds);
        var spans = Listen(out var listener);
        using var _ = listener;
        using var outer = new Activity("around").Start();
        const string post = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        var start = new DateTime(2026, 12, 1, 10, 0, 0, DateTimeKind.Utc);

        MathV2Telemetry.EmitInstanceSpan("Lap", "lap-1", post, start, start.AddMinutes(3), null);
        string child = MathV2Telemetry.ChildTraceParent("lap-1", post);
        MathV2Telemetry.EmitInstanceSpan("Phase1A", "lap-1-1a", child, start, start.AddMinutes(1), new InvalidOperationException("phase 1a: job failed\nstack"));

        Assert.Same(outer, Activity.Current);
        var lap = spans.Single(s => s.DisplayName == "Lap");
        Assert.Equal(("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"), (lap.TraceId.ToHexString(), lap.ParentSpanId.ToHexString()));
        Assert.Equal(MathV2Telemetry.SpanIdOf("lap-1"), lap.SpanId);
        Assert.Equal((start, TimeSpan.FromMinutes(3)), (lap.StartTimeUtc, lap.Duration));
        Assert.Equal("lap-1", lap.GetTagItem("mathv2.instance_id"));
        var phase = spans.Single(s => s.DisplayName == "Phase1A");
        Assert.Equal((lap.TraceId, lap.SpanId, MathV2Telemetry.SpanIdOf("lap-1-1a")), (phase.TraceId, phase.ParentSpanId, phase.SpanId));
        Assert.Equal((ActivityStatusCode.Error, "phase 1a: job failed"), (phase.Status, phase.StatusDescription));
    }

    [Fact]
    public void A_run_with_no_trace_around_it_is_a_root_whose_trace_follows_from_its_instance_id()
    {
        var spans = Listen(out var listener);
        using var _ = listener;
        var t = DateTime.UtcNow;
        MathV2Telemetry.EmitInstanceSpan("Probe", "probe-7", null, t, t.AddSeconds(1), null);
        var probe = spans.Single(s => s.DisplayName == "Probe");
        Assert.Equal((MathV2Telemetry.TraceIdOf("probe-7"), default(ActivitySpanId)), (probe.TraceId, probe.ParentSpanId));
        // Its children (and a worker's attempt of a job, ContextOf) land in that same trace under it.
        Assert.Equal(MathV2Telemetry.ContextOf("probe-7", null), MathV2Telemetry.Parse(MathV2Telemetry.ChildTraceParent("probe-7", null)));
        Assert.Equal((probe.TraceId, probe.SpanId), (MathV2Telemetry.ContextOf("probe-7", null).TraceId, MathV2Telemetry.ContextOf("probe-7", null).SpanId));
        // A malformed traceparent is no parent.
        Assert.Equal(default, MathV2Telemetry.Parse("not-a-traceparent"));
    }

    [Fact]
    public void Otlp_export_is_on_only_when_an_endpoint_is_set_and_the_sdk_is_not_disabled()
    {
        Assert.False(TelemetrySetup.OtlpEnabled(_ => null));
        Assert.True(TelemetrySetup.OtlpEnabled(v => v == "OTEL_EXPORTER_OTLP_ENDPOINT" ? "http://collector:4318" : null));
        Assert.True(TelemetrySetup.OtlpEnabled(v => v == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" ? "http://collector:4318/v1/traces" : null));
        Assert.False(TelemetrySetup.OtlpEnabled(v => v switch { "OTEL_EXPORTER_OTLP_ENDPOINT" => "http://collector:4318", "OTEL_SDK_DISABLED" => "true", _ => null }));
    }

    [Fact]
    public void Application_insights_export_is_on_only_with_a_connection_string_and_the_sdk_not_disabled()
    {
        const string cs = "InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=https://example.invalid/";
        Assert.Null(TelemetrySetup.AzureMonitorConnectionString(_ => null));
        Assert.Null(TelemetrySetup.AzureMonitorConnectionString(v => v == "APPLICATIONINSIGHTS_CONNECTION_STRING" ? " " : null));
        Assert.Equal(cs, TelemetrySetup.AzureMonitorConnectionString(v => v == "APPLICATIONINSIGHTS_CONNECTION_STRING" ? cs : null));
        Assert.Null(TelemetrySetup.AzureMonitorConnectionString(v => v switch { "APPLICATIONINSIGHTS_CONNECTION_STRING" => cs, "OTEL_SDK_DISABLED" => "TRUE", _ => null }));
        Assert.False(new ServiceCollection().AddMathV2Telemetry("mathv2-test", env: _ => null));
    }

    [Fact]
    public async Task With_a_connection_string_a_process_sends_its_spans_and_meters_to_application_insights_ingestion()
    {
        await using var ingestion = new IngestionEndpoint();
        var services = new ServiceCollection();
        Assert.True(services.AddMathV2Telemetry("mathv2-test", env: v => v == "APPLICATIONINSIGHTS_CONNECTION_STRING" ? ingestion.ConnectionString : null));
        using (var provider = services.BuildServiceProvider())
        {
            var tracer = provider.GetRequiredService<TracerProvider>();
            var meter = provider.GetRequiredService<MeterProvider>();
            var t = DateTime.UtcNow;
            // Several at once: every one is kept (the exporter's default rate-limited sampling would drop some).
            for (int i = 0; i < 20; i++) MathV2Telemetry.EmitInstanceSpan("Lap", $"lap-appinsights-{i}", null, t.AddSeconds(-2), t, null);
            MathV2Telemetry.JobDuration.Record(12.5, new KeyValuePair<string, object?>("mathv2.job_kind", "appinsights-test"));
            // Both flushes export synchronously: when they return, the endpoint has answered the posts.
            Assert.True(tracer.ForceFlush(30_000));
            Assert.True(meter.ForceFlush(30_000));
        }
        Assert.All(ingestion.Posts, p => Assert.StartsWith("/v2.1/track\n", p));
        var items = ingestion.Items();
        for (int i = 0; i < 20; i++)
            Assert.Contains(MathV2Telemetry.TraceIdOf($"lap-appinsights-{i}").ToHexString(), Assert.Single(items, l => l.Contains($"\"lap-appinsights-{i}\"")));
        Assert.Contains(items, l => l.Contains("mathv2.gpu_job.duration") && l.Contains("appinsights-test"));
    }
}
