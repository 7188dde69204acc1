using MathV2.Core.Storage;
using Microsoft.DurableTask;

namespace MathV2.Activities;

/// <summary>
/// Wraps an activity of the local host: storage being unavailable becomes a <see cref="StorageUnavailableException"/>,
/// which the orchestrations retry after a pause (<c>ActivityRetry</c>); any other failure passes unchanged.
/// </summary>
public sealed class StorageFaultGuard(ITaskActivity inner) : ITaskActivity
{
    public Type InputType => inner.InputType;
    public Type OutputType => inner.OutputType;

    public async Task<object?> RunAsync(TaskActivityContext context, object? input)
    {
        try { return await inner.RunAsync(context, input); }
        catch (Exception e) when (StorageFaults.IsTransient(e)) { throw StorageUnavailableException.Of(e); }
    }
}
