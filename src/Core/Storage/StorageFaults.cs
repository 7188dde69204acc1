using Azure;

namespace MathV2.Core.Storage;

/// <summary>Storage that is down, unreachable or overloaded for a while, as opposed to a request that is wrong.</summary>
public static class StorageFaults
{
    /// <summary>
    /// Whether the failure is storage being unavailable: no connection (status 0), 408, 429, 5xx, a timeout, or the
    /// SDK's "Retry failed after N tries" (an AggregateException of those).
    /// </summary>
    public static bool IsTransient(Exception e) => e switch
    {
        RequestFailedException r => r.Status is 0 or 408 or 429 or >= 500,
        HttpRequestException or TimeoutException => true,
        // Azure.Core's network timeout (ClientOptions.Retry.NetworkTimeout): a request that storage never answered.
        TaskCanceledException t => t.InnerException is TimeoutException || t.Message.Contains("exceeded the configured timeout", StringComparison.Ordinal),
        AggregateException a => a.InnerExceptions.Count > 0 && a.InnerExceptions.All(IsTransient),
        _ => false,
    };

    /// <summary>Any storage error: unavailable (<see cref="IsTransient"/>) or refused (a RequestFailedException of any status).</summary>
    public static bool IsStorageError(Exception e) => e is RequestFailedException || IsTransient(e);

    /// <summary>
    /// Runs <paramref name="call"/> until it succeeds, retrying transient failures with a growing pause (from
    /// <paramref name="firstPause"/>, 250 ms, doubling up to <paramref name="maxPause"/>, 5 s) for at most
    /// <paramref name="patience"/>; then, or on any other failure, the exception is thrown.
    /// </summary>
    public static async Task<T> RetryAsync<T>(Func<Task<T>> call, TimeSpan patience, Action<string> log, string what, CancellationToken ct = default,
        TimeSpan? firstPause = null, TimeSpan? maxPause = null)
    {
        var deadline = DateTime.UtcNow + patience;
        var pause = firstPause ?? TimeSpan.FromMilliseconds(250);
        var most = maxPause ?? TimeSpan.FromSeconds(5);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                T result = await call();
                if (attempt > 1) log($"{what}: storage is back after {attempt - 1} retr{(attempt == 2 ? "y" : "ies")}");
                return result;
            }
            catch (Exception e) when (IsTransient(e) && DateTime.UtcNow + pause < deadline && !ct.IsCancellationRequested)
            {
                if (attempt == 1) log($"{what}: storage unavailable ({First(e)}); retrying for up to {patience.TotalSeconds:0} s");
                await Task.Delay(pause, ct);
                pause = pause * 2 < most ? pause * 2 : most;
            }
        }
    }

    public static Task RetryAsync(Func<Task> call, TimeSpan patience, Action<string> log, string what, CancellationToken ct = default) =>
        RetryAsync(async () => { await call(); return true; }, patience, log, what, ct);

    /// <summary>The first line of the innermost message: enough for a log line.</summary>
    public static string First(Exception e)
    {
        while (e is AggregateException { InnerExceptions.Count: > 0 } a) e = a.InnerExceptions[0];
        while (e.InnerException != null && e is RequestFailedException { Status: 0 }) e = e.InnerException;
        return e.Message.Split('\n')[0];
    }
}

/// <summary>
/// An activity's storage stayed unavailable (what <see cref="StorageFaults.IsTransient"/> says) for all of
/// <see cref="ActivityOutage"/>'s patience: thrown in its place, naming the cause.
/// </summary>
public sealed class StorageUnavailableException(string message, Exception inner) : Exception(message, inner)
{
    public static StorageUnavailableException Of(Exception e) => new($"storage unavailable: {StorageFaults.First(e)}", e);
}

/// <summary>
/// How an activity rides out a storage outage: in place, running its body again after a pause (2 s doubling to
/// 30 s) for up to 15 minutes, then failing with <see cref="StorageUnavailableException"/>. In place, not by an
/// orchestration retry policy: a failed attempt the orchestration handled stays in its history, and a later rewind
/// (which clears every failed task and leaves the retry timers) would then replay as non-deterministic. Every
/// activity may run again (deterministic ids, an artifact's manifest written last) except FailGpuJob, whose second
/// run reads as a rewind: it fails with the storage error (<see cref="RidesOut"/>).
/// </summary>
public sealed record ActivityOutage(TimeSpan Patience, TimeSpan FirstPause, TimeSpan MaxPause)
{
    public static readonly ActivityOutage Default = new(TimeSpan.FromMinutes(15), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30));

    /// <summary>Whether the activity named may be run again in place (all but FailGpuJob).</summary>
    public static bool RidesOut(string activity) => activity != TaskNames.FailGpuJob;

    public async Task<T> RunAsync<T>(Func<Task<T>> call, Action<string> log, string what, CancellationToken ct = default)
    {
        try { return await StorageFaults.RetryAsync(call, Patience, log, what, ct, FirstPause, MaxPause); }
        catch (Exception e) when (StorageFaults.IsTransient(e)) { throw StorageUnavailableException.Of(e); }
    }
}
