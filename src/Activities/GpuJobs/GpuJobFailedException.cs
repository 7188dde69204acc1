namespace MathV2.Activities;

/// <summary>Thrown when the orchestrator gives up on a job; carries the worker's error.</summary>
public sealed class GpuJobFailedException(string jobId, string error) : Exception($"GPU job {jobId} failed: {error}")
{
    public string JobId { get; } = jobId;
}
