using Microsoft.Extensions.Logging;

namespace MathV2.Gpu.Worker;

/// <summary>
/// The worker's log: the Generic Host's console logger once the host is built (one line per message, or JSON with
/// MATHV2_LOG_FORMAT=json); plain lines on stderr before that (benches, tests that run a JobLoop in process).
/// </summary>
public static class WorkerLog
{
    static ILogger? _loop, _jobs;

    public static void Use(ILoggerFactory factory)
    {
        _loop = factory.CreateLogger("MathV2.Worker");
        _jobs = factory.CreateLogger("MathV2.Worker.Job");
    }

    /// <summary>A line about the worker and its protocol steps.</summary>
    public static void Worker(string message, LogLevel level = LogLevel.Information)
    {
        if (_loop != null) _loop.Log(level, "{Message}", message);
        else Console.Error.WriteLine($"{DateTimeOffset.UtcNow:HH:mm:ss.fff} {message}");
    }

    /// <summary>A line of a job's handler, with the job's id as a field of its own.</summary>
    public static void Job(string jobId, string message)
    {
        if (_jobs != null) _jobs.LogInformation("job {JobId}: {Message}", jobId, message);
        else Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} job {jobId}: {message}");
    }
}
