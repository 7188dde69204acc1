using MathV2.Core;
using MathV2.Core.Jobs;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;

namespace MathV2.Api;

/// <summary>Protocol step 5: a job-events message becomes RaiseEvent(instance, "job-finished", outcome).</summary>
public static class JobEvents
{
    /// <summary>What became of a job event.</summary>
    public enum Delivery { Raised, Malformed, UnknownInstance, InstanceFinished }

    /// <summary>
    /// Shared by the local host's pump and the Functions queue trigger: parse the event and raise it. A malformed event,
    /// one for an unknown instance and one for an instance that has finished (RunGpuJob saw the record first; the lap
    /// was terminated) are logged and acknowledged, never retried; the caller sets a malformed one aside in job-events-poison.
    /// </summary>
    static bool IsComplete(GpuJobEvent e) => Ids.IsValid(e.InstanceId) && (e.Outcome as object) is not null && !string.IsNullOrEmpty(e.Outcome.JobId);

    public static async Task<Delivery> DeliverAsync(DurableTaskClient client, string body, ILogger log, CancellationToken ct)
    {
        GpuJobEvent ev;
        string? problem = null;
        try
        {
            ev = Json.Deserialize<GpuJobEvent>(body);
            // Present but empty (JSON null, ""): as malformed as missing.
            if (!IsComplete(ev)) problem = "no valid instanceId and outcome";
        }
        catch (System.Text.Json.JsonException e) { ev = null!; problem = e.Message; }
        if (problem != null)
        {
            log.LogError("malformed job event set aside in job-events-poison: {Body}: {Error}", body.Length > 500 ? body[..500] + "…" : body, problem);
            return Delivery.Malformed;
        }
        var meta = await client.GetInstanceAsync(ev.InstanceId, getInputsAndOutputs: false, ct);
        if (meta == null)
        {
            log.LogWarning("job event for unknown instance {Instance} (job {Job}) dropped", ev.InstanceId, ev.Outcome.JobId);
            return Delivery.UnknownInstance;
        }
        if (DurableErrors.IsFinished(meta.RuntimeStatus))
        {
            log.LogInformation("job event for {Instance} (job {Job}) acknowledged: the instance is already {Status}", ev.InstanceId, ev.Outcome.JobId, meta.RuntimeStatus);
            return Delivery.InstanceFinished;
        }
        try { await client.RaiseEventAsync(ev.InstanceId, GpuJobEvent.EventName, ev.Outcome, ct); }
        catch (Exception e) when (DurableErrors.IsNotRunning(e))
        {
            // It finished between the check and the raise (the Functions host refuses; the local sidecar drops it).
            log.LogInformation("job event for {Instance} (job {Job}) acknowledged: the instance stopped running", ev.InstanceId, ev.Outcome.JobId);
            return Delivery.InstanceFinished;
        }
        return Delivery.Raised;
    }
}

/// <summary>How the engines answer a call to an instance that is not running.</summary>
public static class DurableErrors
{
    public static bool IsFinished(OrchestrationRuntimeStatus status) =>
        status is OrchestrationRuntimeStatus.Completed or OrchestrationRuntimeStatus.Failed or OrchestrationRuntimeStatus.Terminated;

    /// <summary>
    /// The Functions host with Azure Storage refuses an event to a finished instance (gRPC FailedPrecondition) or to
    /// one that does not exist (NotFound); the local sidecar drops such events without an error.
    /// </summary>
    public static bool IsNotRunning(Exception e) =>
        e is Grpc.Core.RpcException { StatusCode: Grpc.Core.StatusCode.FailedPrecondition or Grpc.Core.StatusCode.NotFound };
}
