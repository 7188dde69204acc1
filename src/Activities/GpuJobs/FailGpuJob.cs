namespace MathV2.Activities;

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
