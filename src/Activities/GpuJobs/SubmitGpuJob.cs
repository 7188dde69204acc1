using Polly;

namespace MathV2.Activities;

/// <summary>Protocol step 2: spec blob, Queued record, one queue message. Idempotent.</summary>
[DurableTask(TaskNames.SubmitGpuJob)]
public sealed class SubmitGpuJob(GpuJobClient jobs, ResiliencePipeline retry) : TaskActivity<GpuJobSpec, GpuJobRecord>
{
    public override Task<GpuJobRecord> RunAsync(TaskActivityContext context, GpuJobSpec spec) => ExecuteAsync(spec);

    public async Task<GpuJobRecord> ExecuteAsync(GpuJobSpec spec) =>
        await retry.ExecuteAsync(async ct => await jobs.SubmitAsync(spec, ct));
}
