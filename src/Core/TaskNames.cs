namespace MathV2.Core;

/// <summary>Names of the orchestrators and activities, shared by the local host and the Functions app.</summary>
public static class TaskNames
{
    public const string RunGpuJob = nameof(RunGpuJob);
    public const string Probe = nameof(Probe);
    public const string SubmitGpuJob = nameof(SubmitGpuJob);
    public const string GetJobStatus = nameof(GetJobStatus);
    public const string RequeueStaleGpuJob = nameof(RequeueStaleGpuJob);
    public const string FailGpuJob = nameof(FailGpuJob);
}
