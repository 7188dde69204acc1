using MathV2.Core;
using MathV2.Core.Telemetry;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;

namespace MathV2.Orchestrations;

/// <summary>
/// The spans of durable instances: a traced orchestration (a lap, its phases, a GPU job's run, a probe) emits its
/// span once, when it completes or fails (never on replay), with the id <see cref="MathV2Telemetry.SpanIdOf"/> of
/// its instance id, under the traceparent its input carries, and a span per activity it calls
/// (<see cref="ActivitySpanContext"/>). Its children carry <see cref="ChildTraceParent"/>.
/// A flywheel or search (ContinueAsNew, one instance id for many generations) emits a span per generation (a lap,
/// a round), keyed "{instanceId}#{generation}". Emitting writes nothing to the history. Every orchestrator, traced or not, logs
/// its start and its end once (replay-safe).
/// </summary>
public static class Traced
{
    public static readonly HashSet<string> Orchestrators =
    [
        TaskNames.Lap, TaskNames.Phase1A, TaskNames.Phase1B, TaskNames.Phase1C, TaskNames.Phase1D, TaskNames.Phase2, TaskNames.Phase3,
        TaskNames.Phase4, TaskNames.RunGpuJob, TaskNames.Probe, TaskNames.Flywheel, TaskNames.Search,
    ];

    /// <summary>
    /// The key of the span an execution emits: the instance id, or for a generation of a flywheel or search
    /// (<see cref="ITracedGenerations"/>) "{instanceId}#{generation}".
    /// </summary>
    public static string SpanKey(TaskOrchestrationContext context, object? input) =>
        input is ITracedGenerations g ? $"{context.InstanceId}#{g.Generation}" : context.InstanceId;

    /// <summary>
    /// The traceparent an execution runs under: its input's; for a generation started with none, one of the
    /// instance's own (trace id TraceIdOf(instance id)), so all its generations share one trace.
    /// </summary>
    public static string? ParentOf(TaskOrchestrationContext context, object? input) =>
        (input as ITraced)?.TraceParent ?? (input is ITracedGenerations ? MathV2Telemetry.ChildTraceParent(context.InstanceId, null) : null);

    /// <summary>The log category of the orchestrations' start, end and failure lines.</summary>
    public const string LogCategory = "MathV2.Orchestrations";

    /// <summary>
    /// Runs an orchestrator's body: logs its start and its end or failure once (a replay-safe logger: never while
    /// replaying), and for a traced one emits its span at the end.
    /// </summary>
    public static async Task<T> RunAsync<T>(TaskOrchestrationContext context, object? input, Func<TaskOrchestrationContext, Task<T>> body)
    {
        var start = context.CurrentUtcDateTime;
        var log = Logger(context);
        string? traceParent = ParentOf(context, input);
        string key = SpanKey(context, input);
        Try(() => log?.LogInformation("{Orchestration} {InstanceId} started", context.Name.Name, key));
        try
        {
            // A traced orchestrator's activities are spans too (ActivitySpanContext).
            T result = await body(Orchestrators.Contains(context.Name.Name) ? new ActivitySpanContext(context, key, traceParent) : context);
            End(context, log, key, traceParent, start, null);
            return result;
        }
        catch (Exception e) when (End(context, log, key, traceParent, start, e)) { throw; }
    }

    /// <summary>Runs <paramref name="orchestrator"/> inside <see cref="RunAsync"/> (the Functions app's orchestrator triggers).</summary>
    public static Task<TOut> Run<TIn, TOut>(TaskOrchestrationContext context, TaskOrchestrator<TIn, TOut> orchestrator, TIn input) =>
        RunAsync(context, input, c => orchestrator.RunAsync(c, input));

    static ILogger? Logger(TaskOrchestrationContext context)
    {
        try { return context.CreateReplaySafeLogger(LogCategory); }
        catch (Exception) { return null; }   // a context without a logger factory: no lines, never a failed orchestration
    }

    static void Try(Action log)
    {
        try { log(); } catch (Exception) { }
    }

    /// <summary>Logs the end and emits the span unless replaying; false, so that as an exception filter it catches nothing.</summary>
    static bool End(TaskOrchestrationContext context, ILogger? log, string key, string? traceParent, DateTime start, Exception? error)
    {
        if (context.IsReplaying) return false;
        var elapsed = context.CurrentUtcDateTime - start;
        // A generation of a flywheel or search (its key is not the instance id) may continue as new.
        if (error == null && key != context.InstanceId)
            Try(() => log?.LogInformation("{Orchestration} {InstanceId} ended a generation after {Elapsed} (it continues as new, or completed)", context.Name.Name, key, elapsed));
        else if (error == null) Try(() => log?.LogInformation("{Orchestration} {InstanceId} completed in {Elapsed}", context.Name.Name, key, elapsed));
        else Try(() => log?.LogWarning("{Orchestration} {InstanceId} failed after {Elapsed}: {Error}", context.Name.Name, key, elapsed,
            error.Message.Split('\n')[0]));
        if (Orchestrators.Contains(context.Name.Name))
            MathV2Telemetry.EmitInstanceSpan(context.Name.Name, key, traceParent, start, context.CurrentUtcDateTime, error,
                key == context.InstanceId ? null : [new("mathv2.orchestration_id", context.InstanceId)]);
        return false;
    }

    /// <summary>The traceparent of this orchestration's children (its input carried <paramref name="traceParent"/>), or null when it is not traced.</summary>
    public static string? ChildTraceParent(TaskOrchestrationContext context, string? traceParent) =>
        Orchestrators.Contains(context.Name.Name) ? MathV2Telemetry.ChildTraceParent(context.InstanceId, traceParent) : null;

    /// <summary>The traceparent of the children of this generation of a flywheel or search.</summary>
    public static string? ChildTraceParent(TaskOrchestrationContext context, ITracedGenerations input) =>
        Orchestrators.Contains(context.Name.Name) ? MathV2Telemetry.ChildTraceParent(SpanKey(context, input), ParentOf(context, input)) : null;
}

/// <summary>An orchestrator run inside <see cref="Traced.RunAsync"/> (the local host registers every orchestrator so).</summary>
public sealed class TracedOrchestrator(ITaskOrchestrator inner) : ITaskOrchestrator
{
    public Type InputType => inner.InputType;
    public Type OutputType => inner.OutputType;

    public Task<object?> RunAsync(TaskOrchestrationContext context, object? input) =>
        Traced.RunAsync(context, input, c => inner.RunAsync(c, input));
}

/// <summary>
/// The context a traced orchestrator runs with: each activity it calls emits a span `activity {name}`, a child of
/// the orchestration's span, from the call to its result as the orchestration saw them, once (never on replay),
/// with an id that follows from the instance id and the call's place in the orchestration (deterministic). Every
/// other member is the engine's own context.
/// </summary>
public sealed class ActivitySpanContext(TaskOrchestrationContext inner, string spanKey, string? traceParent) : TaskOrchestrationContext
{
    static readonly System.Reflection.PropertyInfo? InnerLoggerFactory = typeof(TaskOrchestrationContext)
        .GetProperty("LoggerFactory", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public);
    int calls;

    public override TaskName Name => inner.Name;
    public override string InstanceId => inner.InstanceId;
    public override ParentOrchestrationInstance? Parent => inner.Parent;
    public override DateTime CurrentUtcDateTime => inner.CurrentUtcDateTime;
    public override bool IsReplaying => inner.IsReplaying;
    public override string Version => inner.Version;
    public override IReadOnlyDictionary<string, object?> Properties => inner.Properties;
    public override Microsoft.DurableTask.Entities.TaskOrchestrationEntityFeature Entities => inner.Entities;
    protected override ILoggerFactory LoggerFactory =>
        InnerLoggerFactory?.GetValue(inner) as ILoggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;

    public override T? GetInput<T>() where T : default => inner.GetInput<T>();

    public override async Task<TResult> CallActivityAsync<TResult>(TaskName name, object? input = null, TaskOptions? options = null)
    {
        int call = ++calls;
        var start = inner.CurrentUtcDateTime;
        try
        {
            var result = await inner.CallActivityAsync<TResult>(name, input, options);
            Emit(name, call, start, null);
            return result;
        }
        catch (Exception e) when (Emit(name, call, start, e)) { throw; }
    }

    /// <summary>False, so that as an exception filter it catches nothing.</summary>
    bool Emit(TaskName name, int call, DateTime start, Exception? error)
    {
        if (!inner.IsReplaying)
            MathV2Telemetry.EmitInstanceSpan($"activity {name.Name}", $"{spanKey}#activity{call}", MathV2Telemetry.ChildTraceParent(spanKey, traceParent),
                start, inner.CurrentUtcDateTime, error, [new("mathv2.activity", name.Name), new("mathv2.orchestration_id", inner.InstanceId)]);
        return false;
    }

    public override Task CreateTimer(DateTime fireAt, CancellationToken cancellationToken) => inner.CreateTimer(fireAt, cancellationToken);
    public override Task<T> WaitForExternalEvent<T>(string eventName, CancellationToken cancellationToken = default) => inner.WaitForExternalEvent<T>(eventName, cancellationToken);
    public override void SendEvent(string instanceId, string eventName, object payload) => inner.SendEvent(instanceId, eventName, payload);
    public override void SetCustomStatus(object? customStatus) => inner.SetCustomStatus(customStatus);
    public override Task<TResult> CallSubOrchestratorAsync<TResult>(TaskName orchestratorName, object? input = null, TaskOptions? options = null) =>
        inner.CallSubOrchestratorAsync<TResult>(orchestratorName, input, options);
    public override void ContinueAsNew(object? newInput = null, bool preserveUnprocessedEvents = true) => inner.ContinueAsNew(newInput, preserveUnprocessedEvents);
    public override void ContinueAsNew(ContinueAsNewOptions options) => inner.ContinueAsNew(options);
    public override ILoggerFactory ReplaySafeLoggerFactory => inner.ReplaySafeLoggerFactory;
    public override Guid NewGuid() => inner.NewGuid();
}
