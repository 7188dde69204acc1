using Azure;
using Polly;
using Polly.Retry;

namespace MathV2.Activities;

/// <summary>The retry pipeline activities use around storage calls: transient failures only (no connection, 408, 429, 5xx, timeouts).</summary>
public static class StorageResilience
{
    public static ResiliencePipeline Create(int maxRetries = 4) => new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = maxRetries,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(200),
            ShouldHandle = new PredicateBuilder()
                .Handle<Exception>(MathV2.Core.Storage.StorageFaults.IsTransient),
        })
        .Build();
}
