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
    /// <summary>Memory a job may plan for (GB); left out: the memory available when a job starts (CPU), or no check (CUDA).</summary>
    public double? MemoryGb { get; init; }
    /// <summary>Log lines as text (one per message) or as JSON objects (containers: MATHV2_LOG_FORMAT=json).</summary>
    public WorkerLogFormat LogFormat { get; init; } = WorkerLogFormat.Text;

    /// <summary>From MATHV2_WORKER_*; a mistyped value stops the worker with the variable named.</summary>
    public static WorkerOptions FromEnvironment(Core.Settings? settings = null)
    {
        var env = settings ?? Core.Settings.Environment;
        var d = new WorkerOptions();
        var o = new WorkerOptions
        {
            WorkerId = env.String("MATHV2_WORKER_ID") ?? d.WorkerId,
            LeaseSeconds = env.Int("MATHV2_WORKER_LEASE_S", d.LeaseSeconds, 3, 7 * 86400),
            HeartbeatSeconds = env.Double("MATHV2_WORKER_HEARTBEAT_S", d.HeartbeatSeconds, 0.05, 3600),
            MaxPollSeconds = env.Double("MATHV2_WORKER_MAX_POLL_S", d.MaxPollSeconds, 0.01, 600),
            MemoryGb = env.String("MATHV2_WORKER_MEMORY_GB") is null ? null : env.Double("MATHV2_WORKER_MEMORY_GB", 0, 0.001, 1_000_000),
            LogFormat = env.Enum("MATHV2_LOG_FORMAT", d.LogFormat),
        };
        if (!Core.Ids.IsValid(o.WorkerId)) throw new Core.SettingsException($"MATHV2_WORKER_ID='{o.WorkerId}' must be letters, digits, '-', '_' or '.'");
        return o;
    }
}

public enum WorkerLogFormat { Text, Json }
