using MathV2.Core.Storage;
using Microsoft.Extensions.Hosting;

namespace MathV2.Core.Telemetry;

/// <summary>Reads the gpu-jobs queue's approximate depth every 10 s for the mathv2.gpu_jobs.queue_depth gauge.</summary>
public sealed class QueueDepthSampler(MathV2Storage storage) : BackgroundService
{
    long _depth = -1; // -1: not known

    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        MathV2Telemetry.ObserveQueueDepth(() => Interlocked.Read(ref _depth) is var n and >= 0 ? n : null);
        using var tick = new PeriodicTimer(TimeSpan.FromSeconds(10));
        do
        {
            try { Interlocked.Exchange(ref _depth, (await storage.Queue(StorageNames.GpuJobsQueue).GetPropertiesAsync(stop)).Value.ApproximateMessagesCount); }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { return; }
            // A gauge never stops the host: any failure (an outage, a credential problem) is "not known" until the next read.
            catch (Exception) { Interlocked.Exchange(ref _depth, -1); }
        }
        while (await tick.WaitForNextTickAsync(stop));
    }
}
