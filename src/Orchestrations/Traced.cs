using MathV2.Core;
using MathV2.Core.Telemetry;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;

namespace MathV2.Orchestrations;

/// <summary>
/// The spans of durable instances: a traced orchestration (a lap, its phases, a GPU job's run, a probe) emits its
/// span once, when it completes or fails (never on replay), with the id <see cref="MathV2Telemetry.SpanIdOf"/> of
/// its instance id, under the traceparent its input carries. Its children carry <see cref="ChildTraceParent"/>.
/// Flywheels and searches (ContinueAsNew, one instance id for many generations) are not traced: their laps and
/// jobs are traces of their own. Emitting writes nothing to the history. Every orchestrator, traced or not, logs
/// its start and its end once (replay-safe).
/// </summary>
public static class Traced
{
    public static readonly HashSet<string> Orchestrators =
    [
        TaskNames.Lap, TaskNames.Phase1A, TaskNames.Phase1B, TaskNames.Phase1C, TaskNames.Phase1D, TaskNames.Phase2, TaskNames.Phase3,
        TaskNames.Phase4, TaskNames.RunGpuJob, TaskNames.Probe,
    ];

    /// <summary>Orchestrators that run as generations of one instance (ContinueAsNew: a flywheel's lap, a search's round).</summary>
    static readonly HashSet<string> Generations = [TaskNames.Flywheel, TaskNames.Search];

    /// <summary>The log category of the orchestrations' start, end and failure lines.</summary>
    public const string LogCategory = "MathV2.Orchestrations";

    /// <summary>
    /// Runs an orchestrator's body: logs its start and its end or failure once (a replay-safe logger: never while
    /// replaying), and for a traced one emits its span at the end.
    /// </summary>
    public static async Task<T> RunAsync<T>(TaskOrchestrationContext context, string? traceParent, Func<Task<T>> body)
    {
        var start = context.CurrentUtcDateTime;
        var log = Logger(context);
        Try(() => log?.LogInformation("{Orchestration} {InstanceId} started", context.Name.Name, context.InstanceId));
        try
        {
            T result = await body();
            End(context, log, traceParent, start, null);
            return result;
        }
        catch (Exception e) when (End(context, log, traceParent, start, e)) { throw; }
    }

    /// <summary>Runs <paramref name="orchestrator"/> inside <see cref="RunAsync"/> (the Functions app's orchestrator triggers).</summary>
    public static Task<TOut> Run<TIn, TOut>(TaskOrchestrationContext context, TaskOrchestrator<TIn, TOut> orchestrator, TIn input) =>
        RunAsync(context, (input as ITraced)?.TraceParent, () => orchestrator.RunAsync(context, input));

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
    static bool End(TaskOrchestrationContext context, ILogger? log, string? traceParent, DateTime start, Exception? error)
    {
        if (context.IsReplaying) return false;
        var elapsed = context.CurrentUtcDateTime - start;
        if (error == null && Generations.Contains(context.Name.Name))
            Try(() => log?.LogInformation("{Orchestration} {InstanceId} ended a generation after {Elapsed} (it continues as new, or completed)", context.Name.Name, context.InstanceId, elapsed));
        else if (error == null) Try(() => log?.LogInformation("{Orchestration} {InstanceId} completed in {Elapsed}", context.Name.Name, context.InstanceId, elapsed));
        else Try(() => log?.LogWarning("{Orchestration} {InstanceId} failed after {Elapsed}: {Error}", context.Name.Name, context.InstanceId, elapsed,
            error.Message.Split('\n')[0]));
        if (Orchestrators.Contains(context.Name.Name))
            MathV2Telemetry.EmitInstanceSpan(context.Name.Name, context.InstanceId, traceParent, start, context.CurrentUtcDateTime, error);
        return false;
    }

    /// <summary>The traceparent of this orchestration's children (its input carried <paramref name="traceParent"/>), or null when it is not traced.</summary>
    public static string? ChildTraceParent(TaskOrchestrationContext context, string? traceParent) =>
        Orchestrators.Contains(context.Name.Name) ? MathV2Telemetry.ChildTraceParent(context.InstanceId, traceParent) : null;
}

/// <summary>An orchestrator run inside <see cref="Traced.RunAsync"/> (the local host registers every orchestrator so).</summary>
public sealed class TracedOrchestrator(ITaskOrchestrator inner) : ITaskOrchestrator
{
    public Type InputType => inner.InputType;
    public Type OutputType => inner.OutputType;

    public Task<object?> RunAsync(TaskOrchestrationContext context, object? input) =>
        Traced.RunAsync(context, (input as ITraced)?.TraceParent, () => inner.RunAsync(context, input));
}
