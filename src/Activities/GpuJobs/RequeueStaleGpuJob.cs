using Polly;

namespace MathV2.Activities;

/// <summary>Protocol step 6: the record, after requeueing the job if its heartbeat went stale.</summary>
[DurableTask(TaskNames.RequeueStaleGpuJob)]
public sealed class RequeueStaleGpuJob(GpuJobClient jobs, ResiliencePipeline retry) : TaskActivity<string, GpuJobRecord>
{
    public override Task<GpuJobRecord> RunAsync(TaskActivityContext context, string jobId) => ExecuteAsync(jobId);

    public async Task<GpuJobRecord> ExecuteAsync(string jobId) =>
        await retry.ExecuteAsync(async ct => await jobs.RequeueIfStaleAsync(jobId, ct)) ?? throw new InvalidOperationException($"job {jobId} does not exist");
}
