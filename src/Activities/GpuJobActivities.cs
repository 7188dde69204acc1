using MathV2.Core;
using MathV2.Core.Jobs;
using Microsoft.DurableTask;
using Polly;

namespace MathV2.Activities;

/// <summary>Thrown when the orchestrator gives up on a job; carries the worker's error.</summary>
public sealed class GpuJobFailedException(string jobId, string error) : Exception($"GPU job {jobId} failed: {error}")
{
    public string JobId { get; } = jobId;
}

/// <summary>Protocol step 2: spec blob, Queued record, one queue message. Idempotent.</summary>
[DurableTask(TaskNames.SubmitGpuJob)]
public sealed class SubmitGpuJob(GpuJobClient jobs, ResiliencePipeline retry) : TaskActivity<GpuJobSpec, GpuJobRecord>
{
    public override Task<GpuJobRecord> RunAsync(TaskActivityContext context, GpuJobSpec spec) => ExecuteAsync(spec);

    public async Task<GpuJobRecord> ExecuteAsync(GpuJobSpec spec) =>
        await retry.ExecuteAsync(async ct => await jobs.SubmitAsync(spec, ct));
}

/// <summary>The job record as it stands.</summary>
[DurableTask(TaskNames.GetJobStatus)]
public sealed class GetJobStatus(GpuJobClient jobs, ResiliencePipeline retry) : TaskActivity<string, GpuJobRecord>
{
    public override Task<GpuJobRecord> RunAsync(TaskActivityContext context, string jobId) => ExecuteAsync(jobId);

    public async Task<GpuJobRecord> ExecuteAsync(string jobId) =>
        await retry.ExecuteAsync(async ct => await jobs.GetAsync(jobId, ct)) ?? throw new InvalidOperationException($"job {jobId} does not exist");
}

/// <summary>Protocol step 6: the record, after requeueing the job if its heartbeat went stale.</summary>
[DurableTask(TaskNames.RequeueStaleGpuJob)]
public sealed class RequeueStaleGpuJob(GpuJobClient jobs, ResiliencePipeline retry) : TaskActivity<string, GpuJobRecord>
{
    public override Task<GpuJobRecord> RunAsync(TaskActivityContext context, string jobId) => ExecuteAsync(jobId);

    public async Task<GpuJobRecord> ExecuteAsync(string jobId) =>
        await retry.ExecuteAsync(async ct => await jobs.RequeueIfStaleAsync(jobId, ct)) ?? throw new InvalidOperationException($"job {jobId} does not exist");
}

/// <summary>
/// Gives up on a job: marks it Failed and throws with the worker's error, failing the orchestration.
/// Run again by a rewind, it requeues the job with a fresh budget of attempts and returns the Queued record.
/// </summary>
[DurableTask(TaskNames.FailGpuJob)]
/// Not retried in-process: a retry after a lost reply would read as a rewind.
public sealed class FailGpuJob(GpuJobClient jobs) : TaskActivity<FailGpuJobInput, GpuJobRecord>
{
    public override Task<GpuJobRecord> RunAsync(TaskActivityContext context, FailGpuJobInput input) => ExecuteAsync(input);

    public async Task<GpuJobRecord> ExecuteAsync(FailGpuJobInput input)
    {
        var (result, record) = await jobs.ConfirmFailureAsync(input.JobId, input.Reason, input.ExtraAttempts);
        if (result == FailureConfirmation.Failed)
            throw new GpuJobFailedException(input.JobId, record.Error ?? input.Reason);
        return record;
    }
}
