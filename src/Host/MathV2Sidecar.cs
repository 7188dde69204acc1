using DurableTask.AzureStorage;
using DurableTask.Core;
using DurableTask.Core.History;
using HistoryEvent = DurableTask.Core.History.HistoryEvent;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using P = Microsoft.DurableTask.Protobuf;
using Microsoft.DurableTask.Testing.Sidecar.Grpc;
using Microsoft.Extensions.Options;

namespace MathV2.Host;

/// <summary>
/// The gRPC sidecar of the local durable engine, with what the packaged sidecar lacks on the Azure Storage
/// backend: Rewind (unimplemented there) and instance history for clients (it streams none).
/// </summary>
public sealed class MathV2Sidecar(
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggerFactory,
    IOrchestrationService service,
    IOrchestrationServiceClient client,
    IOptions<TaskHubGrpcServerOptions> options,
    AzureStorageOrchestrationService azure)
    : TaskHubGrpcServer(lifetime, loggerFactory, service, client, options)
{

    public override async Task<P.RewindInstanceResponse> RewindInstance(P.RewindInstanceRequest request, ServerCallContext context)
    {
        await azure.RewindTaskOrchestrationAsync(request.InstanceId, request.Reason ?? "rewind");
        return new P.RewindInstanceResponse();
    }

    public override async Task StreamInstanceHistory(P.StreamInstanceHistoryRequest request, IServerStreamWriter<P.HistoryChunk> responseStream, ServerCallContext context)
    {
        if (request.ForWorkItemProcessing)
        {
            await base.StreamInstanceHistory(request, responseStream, context);
            return;
        }
        string json = await azure.GetOrchestrationHistoryAsync(request.InstanceId, string.IsNullOrEmpty(request.ExecutionId) ? null : request.ExecutionId);
        var events = ParseHistory(json);
        var chunk = new P.HistoryChunk();
        chunk.Events.AddRange(events.Select(ToProto));
        await responseStream.WriteAsync(chunk);
    }

    /// <summary>The backend's history JSON carries no type names: each event's type follows from its EventType.</summary>
    internal static List<HistoryEvent> ParseHistory(string json)
    {
        var events = new List<HistoryEvent>();
        foreach (var token in Newtonsoft.Json.Linq.JArray.Parse(json).OfType<Newtonsoft.Json.Linq.JObject>())
        {
            var raw = token["EventType"]!;
            var kind = raw.Type == Newtonsoft.Json.Linq.JTokenType.Integer
                ? (EventType)(int)raw
                : System.Enum.Parse<EventType>((string)raw!);
            var asm = typeof(HistoryEvent).Assembly;
            var type = asm.GetType($"DurableTask.Core.History.{kind}Event") ?? asm.GetType($"DurableTask.Core.History.{kind}");
            if (type != null && typeof(HistoryEvent).IsAssignableFrom(type) && token.ToObject(type) is HistoryEvent e)
                events.Add(e);
        }
        return events;
    }

    /// <summary>The history events a client shows (names, ids, results, failures); others as generic events.</summary>
    internal static P.HistoryEvent ToProto(HistoryEvent e)
    {
        var p = new P.HistoryEvent { EventId = e.EventId, Timestamp = Timestamp.FromDateTime(DateTime.SpecifyKind(e.Timestamp, DateTimeKind.Utc)) };
        switch (e)
        {
            case ExecutionStartedEvent x: p.ExecutionStarted = new() { Name = x.Name ?? "", Version = x.Version ?? "", Input = x.Input ?? "" }; break;
            case ExecutionCompletedEvent x:
                p.ExecutionCompleted = new() { OrchestrationStatus = (P.OrchestrationStatus)x.OrchestrationStatus, Result = x.Result ?? "" };
                if (x.FailureDetails != null) p.ExecutionCompleted.FailureDetails = Failure(x.FailureDetails);
                break;
            case TaskScheduledEvent x: p.TaskScheduled = new() { Name = x.Name ?? "", Version = x.Version ?? "", Input = x.Input ?? "" }; break;
            case TaskCompletedEvent x: p.TaskCompleted = new() { TaskScheduledId = x.TaskScheduledId, Result = x.Result ?? "" }; break;
            case TaskFailedEvent x: p.TaskFailed = new() { TaskScheduledId = x.TaskScheduledId, FailureDetails = Failure(x.FailureDetails, x.Reason) }; break;
            case SubOrchestrationInstanceCreatedEvent x: p.SubOrchestrationInstanceCreated = new() { Name = x.Name ?? "", InstanceId = x.InstanceId ?? "", Version = x.Version ?? "", Input = x.Input ?? "" }; break;
            case SubOrchestrationInstanceCompletedEvent x: p.SubOrchestrationInstanceCompleted = new() { TaskScheduledId = x.TaskScheduledId, Result = x.Result ?? "" }; break;
            case SubOrchestrationInstanceFailedEvent x: p.SubOrchestrationInstanceFailed = new() { TaskScheduledId = x.TaskScheduledId, FailureDetails = Failure(x.FailureDetails, x.Reason) }; break;
            case TimerCreatedEvent x: p.TimerCreated = new() { FireAt = Timestamp.FromDateTime(DateTime.SpecifyKind(x.FireAt, DateTimeKind.Utc)) }; break;
            case TimerFiredEvent x: p.TimerFired = new() { TimerId = x.TimerId, FireAt = Timestamp.FromDateTime(DateTime.SpecifyKind(x.FireAt, DateTimeKind.Utc)) }; break;
            case EventRaisedEvent x: p.EventRaised = new() { Name = x.Name ?? "", Input = x.Input ?? "" }; break;
            case OrchestratorStartedEvent: p.OrchestratorStarted = new(); break;
            case OrchestratorCompletedEvent: p.OrchestratorCompleted = new(); break;
            case ExecutionTerminatedEvent x: p.ExecutionTerminated = new() { Input = x.Input ?? "" }; break;
            case ExecutionSuspendedEvent x: p.ExecutionSuspended = new() { Input = x.Reason ?? "" }; break;
            case ExecutionResumedEvent x: p.ExecutionResumed = new() { Input = x.Reason ?? "" }; break;
            default: p.GenericEvent = new() { Data = e.EventType.ToString() }; break;
        }
        return p;
    }

    static P.TaskFailureDetails Failure(FailureDetails? f, string? reason = null) => new()
    {
        ErrorType = f?.ErrorType ?? "Failure",
        ErrorMessage = f?.ErrorMessage ?? reason ?? "",
        StackTrace = f?.StackTrace ?? "",
    };
}
