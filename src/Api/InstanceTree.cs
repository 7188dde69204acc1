using DurableTask.Core.History;
using MathV2.Core;
using MathV2.Core.Jobs;
using Microsoft.DurableTask.Client;

namespace MathV2.Api;

/// <summary>
/// Terminate and purge act on a whole run: a flywheel, its running lap, the lap's phases and their GPU job
/// orchestrations, found through the sub-orchestrations each history records (the local engine terminates and purges
/// one instance at a time; the cloud's recursive options are asked for too).
/// </summary>
public static class InstanceTree
{
    /// <summary>The instance's sub-orchestrations, recursively, parents before children (Id, orchestrator name).</summary>
    public static async Task<List<(string Id, string Name)>> DescendantsAsync(DurableTaskClient client, string id, CancellationToken ct)
    {
        var found = new List<(string, string)>();
        var seen = new HashSet<string> { id };
        var queue = new Queue<string>([id]);
        while (queue.Count > 0)
        {
            string current = queue.Dequeue();
            IList<HistoryEvent> history;
            try { history = await client.GetOrchestrationHistoryAsync(current, ct); }
            catch (NotSupportedException) { continue; }
            foreach (var e in history.OfType<SubOrchestrationInstanceCreatedEvent>())
                if (e.InstanceId is { } child && seen.Add(child))
                {
                    found.Add((child, e.Name));
                    queue.Enqueue(child);
                }
        }
        return found;
    }

    /// <summary>
    /// Terminates the instance and every sub-orchestration still in progress, then cancels the GPU jobs of the
    /// RunGpuJob instances among them (a running job stops within a heartbeat). Returns the cancelled job ids.
    /// </summary>
    public static async Task<List<string>> TerminateAsync(DurableTaskClient client, GpuJobClient jobs, string id, string reason, CancellationToken ct)
    {
        var descendants = await DescendantsAsync(client, id, ct);
        await client.TerminateInstanceAsync(id, new TerminateInstanceOptions(reason, Recursive: true), ct);
        foreach (var (child, _) in descendants)
        {
            var meta = await client.GetInstanceAsync(child, getInputsAndOutputs: false, ct);
            if (meta is { RuntimeStatus: OrchestrationRuntimeStatus.Pending or OrchestrationRuntimeStatus.Running or OrchestrationRuntimeStatus.Suspended })
                await client.TerminateInstanceAsync(child, new TerminateInstanceOptions(reason), ct);
        }
        var cancelled = new List<string>();
        // A RunGpuJob instance's id is its job's id.
        foreach (var (child, name) in descendants.Where(d => d.Name == TaskNames.RunGpuJob))
            if (await jobs.CancelAsync(child, $"{id} terminated: {reason}", ct)) cancelled.Add(child);
        return cancelled;
    }

    /// <summary>Purges the instance and every sub-orchestration (all must have stopped). Returns how many were deleted.</summary>
    public static async Task<int> PurgeAsync(DurableTaskClient client, string id, CancellationToken ct)
    {
        var descendants = await DescendantsAsync(client, id, ct);
        int deleted = (await client.PurgeInstanceAsync(id, new PurgeInstanceOptions(Recursive: true), ct)).PurgedInstanceCount;
        foreach (var (child, _) in descendants)
            deleted += (await client.PurgeInstanceAsync(child, cancellation: ct)).PurgedInstanceCount;
        return deleted;
    }
}
