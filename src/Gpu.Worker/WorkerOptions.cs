namespace MathV2.Gpu.Worker;

/// <summary>Tunables of a worker process; defaults here, overridden by MATHV2_WORKER_* variables.</summary>
public sealed record WorkerOptions
{
    public string WorkerId { get; init; } = $"{Environment.MachineName}-{Environment.ProcessId}";
    /// <summary>Visibility timeout of a dequeued message; renewed every third of it while the job runs.</summary>
    public int LeaseSeconds { get; init; } = 60;
    /// <summary>How often progress goes into the job record.</summary>
    public double HeartbeatSeconds { get; init; } = 5;
    /// <summary>Longest wait between polls of an empty queue.</summary>
    public double MaxPollSeconds { get; init; } = 1;

    public static WorkerOptions FromEnvironment()
    {
        var d = new WorkerOptions();
        return new WorkerOptions
        {
            WorkerId = Environment.GetEnvironmentVariable("MATHV2_WORKER_ID") is { Length: > 0 } id ? id : d.WorkerId,
            LeaseSeconds = int.TryParse(Environment.GetEnvironmentVariable("MATHV2_WORKER_LEASE_S"), out int l) ? l : d.LeaseSeconds,
            HeartbeatSeconds = double.TryParse(Environment.GetEnvironmentVariable("MATHV2_WORKER_HEARTBEAT_S"), System.Globalization.CultureInfo.InvariantCulture, out double h) ? h : d.HeartbeatSeconds,
            MaxPollSeconds = double.TryParse(Environment.GetEnvironmentVariable("MATHV2_WORKER_MAX_POLL_S"), System.Globalization.CultureInfo.InvariantCulture, out double p) ? p : d.MaxPollSeconds,
        };
    }
}
