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

/// <summary>The backend's client API as the sidecar uses it: the base client plus queries and purges.</summary>
public interface ISidecarClient : IOrchestrationServiceClient, global::DurableTask.Core.Query.IOrchestrationServiceQueryClient, IOrchestrationServicePurgeClient;

/// <summary>
/// Sits between the packaged sidecar's API and the Azure Storage backend. The backend returns instance
/// states without tags (null), which the sidecar copies into its response unchecked and fails; states
/// come back with an empty tag set instead. Every other call passes through unchanged.
/// </summary>
public class SidecarClientAdapter : DispatchProxy
{
    object _target = null!;

    public static ISidecarClient Wrap(global::DurableTask.AzureStorage.AzureStorageOrchestrationService service)
    {
        var proxy = Create<ISidecarClient, SidecarClientAdapter>();
        ((SidecarClientAdapter)(object)proxy)._target = service;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? method, object?[]? args)
    {
        object? result;
        try { result = method!.Invoke(_target, args); }
        catch (TargetInvocationException e) when (e.InnerException != null)
        {
            ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
        return result switch
        {
            Task<OrchestrationState> one => FixAsync(one),
            Task<IList<OrchestrationState>> many => FixAllAsync(many),
            _ => result,
        };
    }

    static async Task<OrchestrationState> FixAsync(Task<OrchestrationState> task) => Fix(await task);

    static async Task<IList<OrchestrationState>> FixAllAsync(Task<IList<OrchestrationState>> task)
    {
        var states = await task;
        foreach (var s in states) Fix(s);
        return states;
    }

    static OrchestrationState Fix(OrchestrationState state)
    {
        if (state != null) state.Tags ??= new Dictionary<string, string>();
        return state!;
    }
}
