using MathV2.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask.Client;

namespace MathV2.Api;

/// <summary>MATHV2_MAX_ACTIVE_RUNS: how many runs (laps, flywheels, probes, searches) may be pending or running at once; 0, the default: no limit.</summary>
public sealed record RunLimits
{
    public int MaxActiveRuns { get; init; }

    public static RunLimits FromEnvironment(Settings? settings = null) =>
        new() { MaxActiveRuns = (settings ?? Settings.Environment).Int("MATHV2_MAX_ACTIVE_RUNS", 0, 0, 1_000_000) };
}

/// <summary>
/// Admits a start while fewer than MaxActiveRuns runs are active, else answers 429 with Retry-After. Active runs are
/// counted from the engine (top-level instances Pending, Running or Suspended) at most every few seconds, and the
/// starts admitted since are added, so a burst of starts at one host is held to the limit exactly.
/// </summary>
public sealed class RunAdmission(RunLimits limits)
{
    public const int RetryAfterSeconds = 30;
    static readonly TimeSpan Recount = TimeSpan.FromSeconds(2);
    static readonly string[] Prefixes = [LapHandlers.LapPrefix, LapHandlers.FlywheelPrefix, ApiHandlers.ProbePrefix, SearchHandlers.Prefix];

    readonly SemaphoreSlim _gate = new(1, 1);
    int _active;
    DateTime _countedAt = DateTime.MinValue;

    /// <summary>Null when the start may go ahead (it then counts as active); else the 429 answer.</summary>
    public async Task<IResult?> AdmitAsync(DurableTaskClient client, CancellationToken ct)
    {
        if (limits.MaxActiveRuns <= 0) return null;
        await _gate.WaitAsync(ct);
        try
        {
            if (DateTime.UtcNow - _countedAt >= Recount)
            {
                _active = await CountActiveAsync(client, ct);
                _countedAt = DateTime.UtcNow;
            }
            if (_active >= limits.MaxActiveRuns)
                return new HeaderResult(Results.Problem(
                    $"{_active} runs are active, the most this deployment takes at once (MATHV2_MAX_ACTIVE_RUNS={limits.MaxActiveRuns}); nothing was started: try again later.",
                    statusCode: 429, title: "Too many active runs"), new Dictionary<string, string> { ["Retry-After"] = RetryAfterSeconds.ToString() });
            _active++;
            return null;
        }
        finally { _gate.Release(); }
    }

    /// <summary>Top-level runs not finished: lap-, fly-, probe-, search- ids with one dash (a flywheel's laps, phases and jobs are its parts).</summary>
    public static async Task<int> CountActiveAsync(DurableTaskClient client, CancellationToken ct)
    {
        int n = 0;
        var query = new OrchestrationQuery
        {
            Statuses = [OrchestrationRuntimeStatus.Pending, OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Suspended],
            FetchInputsAndOutputs = false,
        };
        await foreach (var m in client.GetAllInstancesAsync(query).WithCancellation(ct))
            if (m.InstanceId.Count(c => c == '-') == 1 && !m.InstanceId.Contains('_') && Prefixes.Any(p => m.InstanceId.StartsWith(p, StringComparison.Ordinal)))
                n++;
        return n;
    }
}
