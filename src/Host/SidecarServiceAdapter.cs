using System.Reflection;
using System.Runtime.ExceptionServices;
using DurableTask.Core;
using DurableTask.Core.History;

namespace MathV2.Host;

/// <summary>
/// Sits between the packaged sidecar's dispatcher and the Azure Storage backend. The dispatcher records
/// sub-orchestration starts as its own subclass of <see cref="SubOrchestrationInstanceCreatedEvent"/>,
/// which the backend's history-table converter writes as an empty row (no EventType), so the parent can
/// never be loaded again. Before a work item is committed, those events become the plain core type.
/// Every other call passes through unchanged.
/// </summary>
public class SidecarServiceAdapter : DispatchProxy
{
    IOrchestrationService _target = null!;

    public static IOrchestrationService Wrap(IOrchestrationService target)
    {
        var proxy = Create<IOrchestrationService, SidecarServiceAdapter>();
        ((SidecarServiceAdapter)(object)proxy)._target = target;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? method, object?[]? args)
    {
        if (method!.Name == nameof(IOrchestrationService.CompleteTaskOrchestrationWorkItemAsync) && args != null)
            foreach (object? a in args)
            {
                if (a is OrchestrationRuntimeState state) Normalize(state);
                else if (a is TaskOrchestrationWorkItem item && item.OrchestrationRuntimeState != null) Normalize(item.OrchestrationRuntimeState);
            }
        try { return method.Invoke(_target, args); }
        catch (TargetInvocationException e) when (e.InnerException != null)
        {
            ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }

    internal static void Normalize(OrchestrationRuntimeState state)
    {
        Normalize(state.Events);
        Normalize(state.NewEvents);
    }

    internal static void Normalize(IList<HistoryEvent> events)
    {
        for (int i = 0; i < events.Count; i++)
            if (events[i] is SubOrchestrationInstanceCreatedEvent e && e.GetType() != typeof(SubOrchestrationInstanceCreatedEvent))
                events[i] = new SubOrchestrationInstanceCreatedEvent(e.EventId)
                {
                    Name = e.Name,
                    Version = e.Version,
                    InstanceId = e.InstanceId,
                    Input = e.Input,
                    Timestamp = e.Timestamp,
                    IsPlayed = e.IsPlayed,
                };
    }
}
