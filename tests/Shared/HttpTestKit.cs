using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;

namespace MathV2.Tests;

/// <summary>Builds requests and reads the responses that handlers write, without a server.</summary>
public static class HttpTestKit
{
    public static HttpContext Context(string method, string path, string? body = null, string query = "")
    {
        var ctx = new DefaultHttpContext
        {
            RequestServices = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider(),
        };
        ctx.Request.Method = method;
        ctx.Request.Scheme = "http";
        ctx.Request.Host = new HostString("localhost", 7071);
        ctx.Request.Path = path;
        ctx.Request.QueryString = new QueryString(query);
        ctx.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes(body ?? ""));
        ctx.Response.Body = new MemoryStream();
        return ctx;
    }

    public static async Task<(int Status, string? ContentType, JsonElement Body)> Run(HttpContext ctx, IResult result)
    {
        await result.ExecuteAsync(ctx);
        return await Read(ctx);
    }

    public static async Task<(int Status, string? ContentType, JsonElement Body)> Read(HttpContext ctx)
    {
        ctx.Response.Body.Position = 0;
        string text = await new StreamReader(ctx.Response.Body).ReadToEndAsync();
        var body = string.IsNullOrEmpty(text) ? default : JsonDocument.Parse(text).RootElement.Clone();
        return (ctx.Response.StatusCode, ctx.Response.ContentType, body);
    }
}

/// <summary>A DurableTaskClient test double that records calls and serves instances from a dictionary.</summary>
public sealed class RecordingDurableTaskClient() : DurableTaskClient("test")
{
    public Dictionary<string, OrchestrationMetadata> Instances { get; } = new();
    public List<string> Calls { get; } = new();
    public List<(string Name, object? Input, string? InstanceId)> Scheduled { get; } = new();

    public void Add(string id, OrchestrationRuntimeStatus status) =>
        Instances[id] = new OrchestrationMetadata("Probe", id) { RuntimeStatus = status };

    public override Task<string> ScheduleNewOrchestrationInstanceAsync(TaskName name, object? input = null, StartOrchestrationOptions? options = null, CancellationToken cancellation = default)
    {
        string id = options?.InstanceId ?? Guid.NewGuid().ToString("N");
        Scheduled.Add((name.Name, input, id));
        Add(id, OrchestrationRuntimeStatus.Pending);
        return Task.FromResult(id);
    }

    public override Task<OrchestrationMetadata?> GetInstancesAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
        Task.FromResult(Instances.GetValueOrDefault(instanceId));

    /// <summary>What RaiseEventAsync throws for an instance (as an engine would), instead of recording the call.</summary>
    public Func<string, Exception?> RaiseFails { get; set; } = _ => null;

    public override Task RaiseEventAsync(string instanceId, string eventName, object? eventPayload = null, CancellationToken cancellation = default) =>
        RaiseFails(instanceId) is { } e ? Task.FromException(e) : Record($"raise:{instanceId}:{eventName}");
    public override Task SuspendInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default) => Record($"suspend:{instanceId}");
    public override Task ResumeInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default) => Record($"resume:{instanceId}");
    public override Task TerminateInstanceAsync(string instanceId, TerminateInstanceOptions? options = null, CancellationToken cancellation = default) => Record($"terminate:{instanceId}");
    public override Task RewindInstanceAsync(string instanceId, string reason, CancellationToken cancellation = default) => Record($"rewind:{instanceId}");

    public override Task<OrchestrationMetadata> WaitForInstanceStartAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) => throw new NotSupportedException();
    public override Task<OrchestrationMetadata> WaitForInstanceCompletionAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) => throw new NotSupportedException();
    public override AsyncPageable<OrchestrationMetadata> GetAllInstancesAsync(OrchestrationQuery? filter = null) => throw new NotSupportedException();
    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;

    Task Record(string call) { Calls.Add(call); return Task.CompletedTask; }
}
