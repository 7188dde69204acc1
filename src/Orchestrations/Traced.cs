using MathV2.Core;
using MathV2.Core.Telemetry;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>
/// The spans of durable instances: a traced orchestration (a lap, its phases, a GPU job's run, a probe) emits its
/// span once, when it completes or fails (never on replay), with the id <see cref="MathV2Telemetry.SpanIdOf"/> of
/// its instance id, under the traceparent its input carries. Its children carry <see cref="ChildTraceParent"/>.
/// Flywheels and searches (ContinueAsNew, one instance id for many generations) are not traced: their laps and
/// jobs are traces of their own. Emitting writes nothing to the history.
/// </summary>
public static class Traced
{
    public static readonly HashSet<string> Orchestrators =
    [
        TaskNames.Lap, TaskNames.Phase1A, TaskNames.Phase1B, TaskNames.Phase1C, TaskNames.Phase1D, TaskNames.Phase2, TaskNames.Phase3,
        TaskNames.Phase4, TaskNames.RunGpuJob, TaskNames.Probe,
    ];

    public static async Task<T> RunAsync<T>(TaskOrchestrationContext context, string? traceParent, Func<Task<T>> body)
    {
        if (!Orchestrators.Contains(context.Name.Name)) return await body();
        var start = context.CurrentUtcDateTime;
        try
        {
            T result = await body();
            Emit(context, traceParent, start, null);
            return result;
        }
        catch (Exception e) when (Emit(context, traceParent, start, e)) { throw; }
    }

    /// <summary>Runs <paramref name="orchestrator"/> inside <see cref="RunAsync"/> (the Functions app's orchestrator triggers).</summary>
    public static Task<TOut> Run<TIn, TOut>(TaskOrchestrationContext context, TaskOrchestrator<TIn, TOut> orchestrator, TIn input) =>
        RunAsync(context, (input as ITraced)?.TraceParent, () => orchestrator.RunAsync(context, input));

    /// <summary>Emits the span unless replaying; false, so that as an exception filter it catches nothing.</summary>
    static bool Emit(TaskOrchestrationContext context, string? traceParent, DateTime start, Exception? error)
    {
        if (!context.IsReplaying)
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
