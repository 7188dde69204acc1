using MathV2.Core.Artifacts;
using MathV2.Core.Jobs;
using MathV2.Core.Probes;
using MathV2.Core.Storage;
using MathV2.Tests;
using Microsoft.DurableTask.Client;
using static MathV2.Tests.HttpTestKit;

namespace MathV2.Api.Tests;

/// <summary>Validation and status logic of the shared handlers (the storage-backed routes are covered end to end in Host.Tests).</summary>
public sealed class ApiHandlersTests
{
    // Storage clients connect lazily; these tests never reach them.
    static readonly MathV2Storage Unused = new("UseDevelopmentStorage=true");
    readonly ApiHandlers _api = new(new GpuJobClient(Unused), new ArtifactStore(Unused), new GpuJobLimits { PollSeconds = 7 });
    readonly RecordingDurableTaskClient _client = new();

    [Theory]
    [InlineData("{not json", "body")]
    [InlineData("{\"size\": \"big\"}", "size")]
    [InlineData("{\"sizee\": 12}", "sizee")]
    [InlineData("{\"size\": 0}", "size")]
    [InlineData("{\"jobs\": 1000}", "jobs")]
    [InlineData("{\"limits\": {\"maxAttempts\": 0}}", "limits.maxAttempts")]
    public async Task Bad_probe_requests_get_400_problem_json_naming_the_field(string body, string field)
    {
        var ctx = Context("POST", "/api/probes", body);
        var (status, type, json) = await Run(ctx, await _api.StartProbeAsync(ctx.Request, _client));
        Assert.Equal(400, status);
        Assert.Equal("application/problem+json", type);
        Assert.True(json.GetProperty("errors").TryGetProperty(field, out _), $"errors should name {field}: {json}");
        Assert.Empty(_client.Scheduled);
    }

    [Fact]
    public async Task A_probe_starts_with_host_default_limits_and_returns_the_check_status_payload()
    {
        var ctx = Context("POST", "/api/probes", "{\"size\": 256, \"jobs\": 3}", "?code=secret");
        var (status, _, json) = await Run(ctx, await _api.StartProbeAsync(ctx.Request, _client));
        Assert.Equal(202, status);
        var (name, input, id) = Assert.Single(_client.Scheduled);
        Assert.Equal("Probe", name);
        var request = Assert.IsType<ProbeRequest>(input);
        Assert.Equal((256, 3, 7), (request.Size, request.Jobs, request.Limits!.PollSeconds));
        Assert.Equal(id, json.GetProperty("id").GetString());
        foreach (string uri in new[] { "statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "rewindPostUri", "restartPostUri", "suspendPostUri", "resumePostUri", "purgeHistoryDeleteUri" })
        {
            string value = json.GetProperty(uri).GetString()!;
            Assert.StartsWith($"http://localhost:7071/api/instances/{id}", value);
            Assert.Contains("code=secret", value);
        }
        Assert.Contains("/rewind?reason={text}&code=secret", json.GetProperty("rewindPostUri").GetString());
    }

    [Theory]
    [InlineData("rewind", OrchestrationRuntimeStatus.Running, 409)]
    [InlineData("rewind", OrchestrationRuntimeStatus.Failed, 202)]
    [InlineData("terminate", OrchestrationRuntimeStatus.Completed, 409)]
    [InlineData("terminate", OrchestrationRuntimeStatus.Running, 202)]
    [InlineData("suspend", OrchestrationRuntimeStatus.Running, 202)]
    [InlineData("resume", OrchestrationRuntimeStatus.Running, 409)]
    [InlineData("resume", OrchestrationRuntimeStatus.Suspended, 202)]
    [InlineData("restart", OrchestrationRuntimeStatus.Running, 409)]
    [InlineData("explode", OrchestrationRuntimeStatus.Running, 404)]
    public async Task Instance_actions_check_the_runtime_status(string action, OrchestrationRuntimeStatus current, int expected)
    {
        _client.Add("inst-1", current);
        var ctx = Context("POST", $"/api/instances/inst-1/{action}");
        var (status, type, _) = await Run(ctx, await _api.InstanceActionAsync(ctx.Request, _client, "inst-1", action));
        Assert.Equal(expected, status);
        if (expected == 202) Assert.Equal($"{action}:inst-1", Assert.Single(_client.Calls));
        else { Assert.Empty(_client.Calls); Assert.Equal("application/problem+json", type); }
    }

    [Fact]
    public async Task Unknown_instances_are_404_and_bad_ids_400()
    {
        var ctx = Context("GET", "/api/instances/nope");
        Assert.Equal(404, (await Run(ctx, await _api.GetInstanceAsync(ctx.Request, _client, "nope"))).Status);
        ctx = Context("POST", "/api/instances/nope/rewind");
        Assert.Equal(404, (await Run(ctx, await _api.InstanceActionAsync(ctx.Request, _client, "nope", "rewind"))).Status);
        ctx = Context("GET", "/api/jobs/a%20b");
        Assert.Equal(400, (await Run(ctx, await _api.GetJobAsync("a b"))).Status);
        ctx = Context("GET", "/api/artifacts/..");
        Assert.Equal(400, (await Run(ctx, await _api.GetArtifactAsync(".."))).Status);
    }

    [Fact]
    public async Task Events_go_only_to_live_instances()
    {
        _client.Add("done", OrchestrationRuntimeStatus.Completed);
        _client.Add("live", OrchestrationRuntimeStatus.Running);
        var ctx = Context("POST", "/api/instances/done/raiseEvent/x", "{\"a\":1}");
        Assert.Equal(409, (await Run(ctx, await _api.RaiseEventAsync(ctx.Request, _client, "done", "x"))).Status);
        ctx = Context("POST", "/api/instances/live/raiseEvent/x", "{\"a\":");
        Assert.Equal(400, (await Run(ctx, await _api.RaiseEventAsync(ctx.Request, _client, "live", "x"))).Status);
        ctx = Context("POST", "/api/instances/live/raiseEvent/x", "{\"a\":1}");
        Assert.Equal(202, (await Run(ctx, await _api.RaiseEventAsync(ctx.Request, _client, "live", "x"))).Status);
        Assert.Equal(["raise:live:x"], _client.Calls);
    }

    [Theory]
    [InlineData(OrchestrationRuntimeStatus.Pending, 202)]
    [InlineData(OrchestrationRuntimeStatus.Running, 202)]
    [InlineData(OrchestrationRuntimeStatus.Suspended, 202)]
    [InlineData(OrchestrationRuntimeStatus.Completed, 200)]
    [InlineData(OrchestrationRuntimeStatus.Failed, 200)]
    [InlineData(OrchestrationRuntimeStatus.Terminated, 200)]
    public async Task Instance_status_answers_as_the_durable_http_api_does(OrchestrationRuntimeStatus runtime, int expected)
    {
        _client.Add("inst-2", runtime);
        var ctx = Context("GET", "/api/instances/inst-2", query: "?code=k");
        var (status, _, json) = await Run(ctx, await _api.GetInstanceAsync(ctx.Request, _client, "inst-2"));
        Assert.Equal(expected, status);
        Assert.Equal(runtime.ToString(), json.GetProperty("runtimeStatus").GetString());
        if (expected == 202)
        {
            Assert.Equal("http://localhost:7071/api/instances/inst-2?code=k", ctx.Response.Headers.Location.ToString());
            Assert.Equal("10", ctx.Response.Headers.RetryAfter.ToString());
        }
        else Assert.Empty(ctx.Response.Headers.Location.ToString());
    }

    [Fact]
    public async Task A_start_carries_location_and_retry_after()
    {
        var ctx = Context("POST", "/api/probes", "{}", "?code=secret");
        var (status, _, json) = await Run(ctx, await _api.StartProbeAsync(ctx.Request, _client));
        Assert.Equal(202, status);
        Assert.Equal(json.GetProperty("statusQueryGetUri").GetString(), ctx.Response.Headers.Location.ToString());
        Assert.Equal("10", ctx.Response.Headers.RetryAfter.ToString());
    }

    [Fact]
    public async Task An_upload_start_with_a_typo_or_an_unknown_kind_is_a_400_naming_the_field_before_storage_is_touched()
    {
        var h = new UploadHandlers(new ArtifactUploads(new MathV2Storage("UseDevelopmentStorage=true"), new ArtifactStore(new MathV2Storage("UseDevelopmentStorage=true"))));
        var typo = Context("POST", "/api/artifacts/uploads", "{\"kind\": \"dataset\", \"nmae\": \"x\"}");
        var (status, type, body) = await Run(typo, await h.StartAsync(typo.Request));
        Assert.Equal((400, "application/problem+json"), (status, type));
        Assert.Contains("did you mean 'name'?", body.GetProperty("errors").GetProperty("nmae")[0].GetString());
        var kind = Context("POST", "/api/artifacts/uploads", "{\"kind\": \"model\"}");
        (status, _, body) = await Run(kind, await h.StartAsync(kind.Request));
        Assert.Equal(400, status);
        Assert.Equal("kind must be one of checkpoint, dataset", body.GetProperty("errors").GetProperty("kind")[0].GetString());
    }
}
