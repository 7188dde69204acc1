using Azure;
using MathV2.Core.Storage;

namespace MathV2.Core.Tests;

public sealed class StorageFaultsTests
{
    [Fact]
    public void Unreachable_or_overloaded_storage_is_transient_and_a_wrong_request_is_not()
    {
        var refused = new RequestFailedException(0, "Connection refused", new HttpRequestException("Connection refused (127.0.0.1:10000)"));
        Assert.True(StorageFaults.IsTransient(refused));
        Assert.True(StorageFaults.IsTransient(new RequestFailedException(503, "busy")));
        Assert.True(StorageFaults.IsTransient(new RequestFailedException(429, "throttled")));
        Assert.True(StorageFaults.IsTransient(new TimeoutException()));
        Assert.True(StorageFaults.IsTransient(new TaskCanceledException("The operation was cancelled because it exceeded the configured timeout of 0:01:40. Network timeout can be adjusted in ClientOptions.Retry.NetworkTimeout.")));
        Assert.False(StorageFaults.IsTransient(new TaskCanceledException()));   // a cancellation asked for
        // The SDK's "Retry failed after 4 tries": transient when every try was.
        Assert.True(StorageFaults.IsTransient(new AggregateException("Retry failed after 4 tries.", refused, refused)));
        Assert.False(StorageFaults.IsTransient(new AggregateException(refused, new RequestFailedException(404, "gone"))));
        Assert.False(StorageFaults.IsTransient(new AggregateException()));
        Assert.False(StorageFaults.IsTransient(new RequestFailedException(404, "no such blob")));
        Assert.False(StorageFaults.IsTransient(new RequestFailedException(412, "etag")));
        Assert.False(StorageFaults.IsTransient(new FileNotFoundException("model.safetensors")));
        Assert.Equal("Connection refused (127.0.0.1:10000)", StorageFaults.First(new AggregateException(refused)));
    }

    [Fact]
    public async Task Retry_rides_out_an_outage_and_gives_up_on_a_wrong_request_at_once()
    {
        int calls = 0;
        var log = new List<string>();
        int v = await StorageFaults.RetryAsync(() => ++calls < 3 ? throw new RequestFailedException(503, "busy") : Task.FromResult(42),
            TimeSpan.FromSeconds(30), log.Add, "commit");
        Assert.Equal((42, 3), (v, calls));
        Assert.Equal(["commit: storage unavailable (busy); retrying for up to 30 s", "commit: storage is back after 2 retries"], log);

        calls = 0;
        await Assert.ThrowsAsync<RequestFailedException>(() => StorageFaults.RetryAsync(() => { calls++; throw new RequestFailedException(409, "conflict"); },
            TimeSpan.FromSeconds(30), log.Add, "commit"));
        Assert.Equal(1, calls);

        // Past its patience the last failure is thrown.
        calls = 0;
        await Assert.ThrowsAsync<RequestFailedException>(() => StorageFaults.RetryAsync(() => { calls++; throw new RequestFailedException(503, "busy"); },
            TimeSpan.FromMilliseconds(600), log.Add, "commit"));
        Assert.InRange(calls, 2, 4);
    }
}
