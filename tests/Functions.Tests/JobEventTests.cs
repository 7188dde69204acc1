using Grpc.Core;
using MathV2.Api;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Tests;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging.Abstractions;

namespace MathV2.Functions.Tests;

/// <summary>
/// Job events to instances that no longer run: acknowledged, never retried into job-events-poison. The Functions
/// host refuses such an event with gRPC FailedPrecondition (the local sidecar drops it; ProtocolTests covers that path).
/// </summary>
public sealed class JobEventTests
{
    readonly RecordingDurableTaskClient _client = new();

    static string Event(string instance) =>
        Json.Serialize(new GpuJobEvent { InstanceId = instance, Outcome = new GpuJobOutcome { JobId = "j", Status = GpuJobStatus.Succeeded, Attempt = 1 } });

    [Fact]
    public async Task An_event_for_a_running_instance_is_raised()
    {
        _client.Add("run-1", OrchestrationRuntimeStatus.Running);
        Assert.Equal(JobEvents.Delivery.Raised, await JobEvents.DeliverAsync(_client, Event("run-1"), NullLogger.Instance, default));
        Assert.Equal([$"raise:run-1:{GpuJobEvent.EventName}"], _client.Calls);
    }

    [Theory]
    [InlineData(OrchestrationRuntimeStatus.Completed)]
    [InlineData(OrchestrationRuntimeStatus.Failed)]
    [InlineData(OrchestrationRuntimeStatus.Terminated)]
    public async Task An_event_for_a_finished_instance_is_acknowledged_without_raising(OrchestrationRuntimeStatus status)
    {
        _client.Add("done-1", status);
        Assert.Equal(JobEvents.Delivery.InstanceFinished, await JobEvents.DeliverAsync(_client, Event("done-1"), NullLogger.Instance, default));
        Assert.Empty(_client.Calls);
    }

    [Theory]
    [InlineData(StatusCode.FailedPrecondition)]
    [InlineData(StatusCode.NotFound)]
    public async Task An_instance_that_finishes_before_the_raise_is_acknowledged_too(StatusCode code)
    {
        _client.Add("race-1", OrchestrationRuntimeStatus.Running);
        _client.RaiseFails = _ => new RpcException(new Status(code, "The orchestration instance with the provided instance id is not running."));
        Assert.Equal(JobEvents.Delivery.InstanceFinished, await JobEvents.DeliverAsync(_client, Event("race-1"), NullLogger.Instance, default));
    }

    [Fact]
    public async Task An_engine_that_is_unavailable_is_an_error_so_the_queue_retries()
    {
        _client.Add("run-2", OrchestrationRuntimeStatus.Running);
        _client.RaiseFails = _ => new RpcException(new Status(StatusCode.Unavailable, "down"));
        await Assert.ThrowsAsync<RpcException>(() => JobEvents.DeliverAsync(_client, Event("run-2"), NullLogger.Instance, default));
        Assert.Equal(JobEvents.Delivery.Malformed, await JobEvents.DeliverAsync(_client, "{not json", NullLogger.Instance, default));
        Assert.Equal(JobEvents.Delivery.UnknownInstance, await JobEvents.DeliverAsync(_client, Event("nobody"), NullLogger.Instance, default));
    }
}
