using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MathV2.Activities;

/// <summary>
/// Wraps an activity of the local host: while its storage is unavailable the activity is run again in place
/// (<see cref="ActivityOutage"/>), so the orchestration's history records no failed attempt; any other failure
/// passes unchanged.
/// </summary>
public sealed class StorageFaultGuard(ITaskActivity inner, string name, ILogger? log = null, ActivityOutage? outage = null) : ITaskActivity
{
    readonly ILogger log = log ?? NullLogger.Instance;

    public Type InputType => inner.InputType;
    public Type OutputType => inner.OutputType;

    public Task<object?> RunAsync(TaskActivityContext context, object? input) =>
        (outage ?? ActivityOutage.Default).RunAsync(() => inner.RunAsync(context, input),
            m => log.LogWarning("{Message}", m), $"activity {name} of {context.InstanceId}");
}
