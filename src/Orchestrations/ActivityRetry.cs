using MathV2.Core.Storage;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>
/// Activities whose storage was unavailable (<see cref="StorageUnavailableException"/>: an outage, a restart) are run
/// again after a growing pause (2 s doubling to 30 s, for up to 15 minutes); any other failure is not retried here.
/// Every activity is safe to run again (each writes under deterministic ids, its artifact's manifest last), except
/// FailGpuJob, whose second run reads as a rewind: it is called without this.
/// </summary>
public static class ActivityRetry
{
    public static readonly TaskOptions Options = TaskOptions.FromRetryPolicy(
        new RetryPolicy(maxNumberOfAttempts: 40, firstRetryInterval: TimeSpan.FromSeconds(2), backoffCoefficient: 2,
            maxRetryInterval: TimeSpan.FromSeconds(30), retryTimeout: TimeSpan.FromMinutes(15))
        {
            HandleFailure = IsStorageUnavailable,
        });

    public static bool IsStorageUnavailable(TaskFailureDetails failure) =>
        failure.ErrorType == typeof(StorageUnavailableException).FullName;

    /// <summary>CallActivityAsync with <see cref="Options"/>.</summary>
    public static Task<T> CallActivityRetryingAsync<T>(this TaskOrchestrationContext context, TaskName name, object? input) =>
        context.CallActivityAsync<T>(name, input, Options);
}
