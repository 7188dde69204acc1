using Azure;
using MathV2.Api;
using MathV2.Core.Storage;
using Microsoft.DurableTask.Client;

namespace MathV2.Host;

/// <summary>
/// Protocol step 5 locally (a queue trigger in Functions): each job-events message becomes
/// RaiseEvent(instance, "job-finished", outcome); the message is deleted only after that succeeds.
/// </summary>
public sealed class JobEventPump(MathV2Storage storage, DurableTaskClient client, ILogger<JobEventPump> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        var queue = storage.Queue(StorageNames.JobEventsQueue);
        var idle = TimeSpan.FromMilliseconds(50);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var messages = (await queue.ReceiveMessagesAsync(16, TimeSpan.FromSeconds(30), stop)).Value;
                if (messages.Length == 0)
                {
                    await Task.Delay(idle, stop);
                    idle = TimeSpan.FromMilliseconds(Math.Min(idle.TotalMilliseconds * 2, 250));
                    continue;
                }
                idle = TimeSpan.FromMilliseconds(50);
                foreach (var m in messages)
                {
                    if (await JobEvents.DeliverAsync(client, m.Body.ToString(), log, stop) == JobEvents.Delivery.Malformed)
                        await storage.SetAsideAsync(StorageNames.JobEventsQueue, m.MessageId, m.PopReceipt, m.Body.ToString(), stop);
                    else await queue.DeleteMessageAsync(m.MessageId, m.PopReceipt, stop);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { break; }
            // Storage or the engine unavailable for a while (an outage, a restart): wait and go on, never stop the host.
            catch (Exception e) when (e is RequestFailedException or Grpc.Core.RpcException || StorageFaults.IsTransient(e))
            {
                log.LogWarning("job-event pump: {Error}; will retry", StorageFaults.First(e));
                await Task.Delay(TimeSpan.FromSeconds(1), stop);
            }
        }
    }
}
