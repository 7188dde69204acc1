using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace MathV2.Core.Telemetry;

/// <summary>
/// MathV2's traces and metrics (docs/observe.md, "Traces and metrics"): one ActivitySource and one Meter, both named
/// <see cref="Name"/>. A durable instance (lap, phase, GPU job run) has a span whose id follows from its instance id
/// and whose trace is the one its input's <c>traceParent</c> names (the HTTP request that started the run), so a
/// child started before its parent's span is emitted already knows its parent, on any host or worker.
/// </summary>
public static class MathV2Telemetry
{
    public const string Name = "MathV2";
    public static readonly ActivitySource Source = new(Name);
    public static readonly Meter Meter = new(Name);

    public static readonly Histogram<double> JobDuration = Meter.CreateHistogram<double>("mathv2.gpu_job.duration", "s",
        "Wall time of a GPU job attempt on its worker (tags: kind, outcome)");
    public static readonly Histogram<double> QueueWait = Meter.CreateHistogram<double>("mathv2.gpu_job.queue_wait", "s",
        "From a job's queueing (or requeueing) to its claim by a worker (tag: kind)");
    public static readonly Counter<long> Attempts = Meter.CreateCounter<long>("mathv2.gpu_job.attempts", "{attempt}",
        "GPU job attempts claimed (tag: kind)");
    public static readonly Histogram<double> TokensPerSecond = Meter.CreateHistogram<double>("mathv2.worker.tokens_per_second", "{token}/s",
        "Tokens per second reported by a job's progress (tag: kind)");
    public static readonly Histogram<double> TrainingLoss = Meter.CreateHistogram<double>("mathv2.training.loss", null,
        "Training loss per reported step (tag: kind)");
    public static readonly Histogram<double> TrainingReward = Meter.CreateHistogram<double>("mathv2.training.reward", null,
        "Mean reward per reported GRPO step (tag: kind)");

    /// <summary>Registers the gpu-jobs queue depth gauge; <paramref name="read"/> returns the latest known count (null: none yet).</summary>
    public static void ObserveQueueDepth(Func<long?> read) =>
        Meter.CreateObservableGauge("mathv2.gpu_jobs.queue_depth", () => read() is { } n ? [new Measurement<long>(n)] : Array.Empty<Measurement<long>>(),
            "{message}", "Approximate number of messages on the gpu-jobs queue");

    static byte[] Hash(string s) => SHA256.HashData(Encoding.UTF8.GetBytes(s));

    /// <summary>The trace of a run started with no trace around it: a function of its instance id.</summary>
    public static ActivityTraceId TraceIdOf(string instanceId) => ActivityTraceId.CreateFromBytes(Hash("trace:" + instanceId).AsSpan(0, 16));

    /// <summary>The span id of a durable instance.</summary>
    public static ActivitySpanId SpanIdOf(string instanceId) => ActivitySpanId.CreateFromBytes(Hash("span:" + instanceId).AsSpan(0, 8));

    /// <summary>A W3C traceparent, or default when <paramref name="traceParent"/> is null or malformed.</summary>
    public static ActivityContext Parse(string? traceParent) =>
        traceParent != null && ActivityContext.TryParse(traceParent, null, out var c) ? c : default;

    /// <summary>The span context of a durable instance: its trace from the traceparent its input carries, else its own.</summary>
    public static ActivityContext ContextOf(string instanceId, string? traceParent)
    {
        var parent = Parse(traceParent);
        var trace = parent.TraceId == default ? TraceIdOf(instanceId) : parent.TraceId;
        return new ActivityContext(trace, SpanIdOf(instanceId), ActivityTraceFlags.Recorded);
    }

    public static string TraceParentOf(ActivityContext c) => $"00-{c.TraceId.ToHexString()}-{c.SpanId.ToHexString()}-01";

    /// <summary>The traceparent children of this instance carry.</summary>
    public static string ChildTraceParent(string instanceId, string? traceParent) => TraceParentOf(ContextOf(instanceId, traceParent));

    /// <summary>The current span's traceparent (the HTTP request's), or null when nothing is traced.</summary>
    public static string? CurrentTraceParent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } a ? TraceParentOf(a.Context) : null;

    // No public API gives an Activity a chosen id; DurableTask.Core and the Durable Task SDK set these fields the same way.
    static readonly FieldInfo? SpanIdField = typeof(Activity).GetField("_spanId", BindingFlags.NonPublic | BindingFlags.Instance);
    static readonly FieldInfo? TraceIdField = typeof(Activity).GetField("_traceId", BindingFlags.NonPublic | BindingFlags.Instance);

    /// <summary>Whether finished instance spans get their deterministic ids on this runtime.</summary>
    public static bool CanSetIds => SpanIdField != null && TraceIdField != null;

    /// <summary>
    /// Emits the finished span of a durable instance (once, when it completes or fails; the caller skips replays):
    /// span id <see cref="SpanIdOf"/>, parent and trace from <paramref name="traceParent"/> (a root's trace from
    /// <see cref="TraceIdOf"/>).
    /// </summary>
    public static void EmitInstanceSpan(string name, string instanceId, string? traceParent, DateTime start, DateTime end, Exception? error,
        IEnumerable<KeyValuePair<string, object?>>? tags = null)
    {
        if (!Source.HasListeners() || !CanSetIds) return;
        var parent = Parse(traceParent);
        var previous = Activity.Current;
        Activity? span = null;
        try
        {
            Activity.Current = null; // the parent is the one named, never what happens to run around this call
            span = Source.StartActivity(name, ActivityKind.Internal, parent, tags, startTime: DateTime.SpecifyKind(start, DateTimeKind.Utc));
            if (span == null) return;
            var own = ContextOf(instanceId, traceParent);
            SpanIdField!.SetValue(span, own.SpanId.ToHexString());
            TraceIdField!.SetValue(span, own.TraceId.ToHexString());
            span.SetTag("mathv2.instance_id", instanceId);
            if (error != null) span.SetStatus(ActivityStatusCode.Error, error.Message.Split('\n')[0]);
            span.SetEndTime(DateTime.SpecifyKind(end, DateTimeKind.Utc));
            span.Stop();
        }
        // Telemetry never fails the orchestration that emits it.
        catch (Exception) { }
        finally
        {
            span?.Dispose();
            Activity.Current = previous;
        }
    }
}

/// <summary>A durable input that carries its trace: the W3C traceparent of the span it runs under.</summary>
public interface ITraced
{
    string? TraceParent { get; }
}

/// <summary>
/// The input of an instance that runs as generations (ContinueAsNew: a flywheel's laps, a search's rounds): each
/// generation is a span of its own, keyed by the instance id and <see cref="Generation"/>, under <see cref="ITraced.TraceParent"/>.
/// </summary>
public interface ITracedGenerations : ITraced
{
    int Generation { get; }
}
