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

    /// <summary>
    /// Runs <paramref name="call"/> until it succeeds, retrying transient failures with a growing pause (up to 5 s)
    /// for at most <paramref name="patience"/>; then, or on any other failure, the exception is thrown.
    /// </summary>
    public static async Task<T> RetryAsync<T>(Func<Task<T>> call, TimeSpan patience, Action<string> log, string what, CancellationToken ct = default)
    {
        var deadline = DateTime.UtcNow + patience;
        var pause = TimeSpan.FromMilliseconds(250);
        for (int attempt = 1; ; attempt++)
        {
            try { return await call(); }
            catch (Exception e) when (IsTransient(e) && DateTime.UtcNow + pause < deadline && !ct.IsCancellationRequested)
            {
                if (attempt == 1) log($"{what}: storage unavailable ({First(e)}); retrying for up to {patience.TotalSeconds:0} s");
                await Task.Delay(pause, ct);
                pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * 2, 5000));
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
/// An activity's storage was unavailable (what <see cref="StorageFaults.IsTransient"/> says): thrown in its place so
/// that orchestrations retry the activity after a pause (their retry policy handles this type only).
/// </summary>
public sealed class StorageUnavailableException(string message, Exception inner) : Exception(message, inner)
{
    public static StorageUnavailableException Of(Exception e) => new($"storage unavailable: {StorageFaults.First(e)}", e);
}
