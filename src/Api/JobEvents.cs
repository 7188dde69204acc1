using MathV2.Core;
using MathV2.Core.Jobs;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;

namespace MathV2.Api;

/// <summary>Protocol step 5: a job-events message becomes RaiseEvent(instance, "job-finished", outcome).</summary>
public static class JobEvents
{
    /// <summary>Shared with the Functions queue trigger: parse the event and raise it; malformed events are logged and dropped.</summary>
    public static async Task DeliverAsync(DurableTaskClient client, string body, ILogger log, CancellationToken ct)
    {
        GpuJobEvent ev;
        try { ev = Json.Deserialize<GpuJobEvent>(body); }
        catch (System.Text.Json.JsonException e)
        {
            log.LogError("dropping malformed job event {Body}: {Error}", body, e.Message);
            return;
        }
        var meta = await client.GetInstanceAsync(ev.InstanceId, getInputsAndOutputs: false, ct);
        if (meta == null)
        {
            log.LogWarning("job event for unknown instance {Instance} (job {Job}) dropped", ev.InstanceId, ev.Outcome.JobId);
            return;
        }
        await client.RaiseEventAsync(ev.InstanceId, GpuJobEvent.EventName, ev.Outcome, ct);
    }
}
