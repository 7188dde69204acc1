using Polly;

namespace MathV2.Activities;

/// <summary>The job record as it stands.</summary>
[DurableTask(TaskNames.GetJobStatus)]
public sealed class GetJobStatus(GpuJobClient jobs, ResiliencePipeline retry) : TaskActivity<string, GpuJobRecord>
{
    public override Task<GpuJobRecord> RunAsync(TaskActivityContext context, string jobId) => ExecuteAsync(jobId);

    public async Task<GpuJobRecord> ExecuteAsync(string jobId) =>
        await retry.ExecuteAsync(async ct => await jobs.GetAsync(jobId, ct)) ?? throw new InvalidOperationException($"job {jobId} does not exist");
}
