using System.Reflection;
using MathV2.Api;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;
using MathV2.Tests;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging.Abstractions;
using static MathV2.Tests.HttpTestKit;

namespace MathV2.Functions.Tests;

/// <summary>The Functions app's shells: they must reach the shared code under the same names and routes as the local host.</summary>
public sealed class ShellTests
{
    static readonly MathV2Storage Unused = new("UseDevelopmentStorage=true");
    readonly HttpFunctions _http = new(new ApiHandlers(new GpuJobClient(Unused), new ArtifactStore(Unused), new GpuJobLimits()), new LapHandlers(Unused, new ArtifactStore(Unused), new GpuJobClient(Unused), new GpuJobLimits()),
        new SearchHandlers(new ArtifactStore(Unused), new GpuJobClient(Unused), new GpuJobLimits()), new UploadHandlers(new ArtifactUploads(Unused, new ArtifactStore(Unused))));
    readonly RecordingDurableTaskClient _client = new();

    [Fact]
    public async Task StartProbe_writes_the_shared_handlers_answers()
    {
        var bad = Context("POST", "/api/probes", "{\"size\": -1}");
        await _http.StartProbe(bad.Request, _client);
        var (status, type, body) = await Read(bad);
        Assert.Equal(400, status);
        Assert.Equal("application/problem+json", type);
        Assert.True(body.GetProperty("errors").TryGetProperty("size", out _));

        var good = Context("POST", "/api/probes", "{\"size\": 64}");
        await _http.StartProbe(good.Request, _client);
        (status, _, body) = await Read(good);
        Assert.Equal(202, status);
        Assert.Equal(TaskNames.Probe, Assert.Single(_client.Scheduled).Name);
        Assert.EndsWith($"/api/instances/{body.GetProperty("id").GetString()}", body.GetProperty("statusQueryGetUri").GetString());
    }

    [Fact]
    public async Task InstanceAction_reaches_rewind()
    {
        _client.Add("p1", OrchestrationRuntimeStatus.Failed);
        var ctx = Context("POST", "/api/instances/p1/rewind");
        await _http.InstanceAction(ctx.Request, _client, "p1", "rewind");
        Assert.Equal(202, (await Read(ctx)).Status);
        Assert.Equal(["rewind:p1"], _client.Calls);
    }

    [Fact]
    public void Every_orchestrator_and_activity_has_a_trigger_under_its_task_name()
    {
        var functions = typeof(HttpFunctions).Assembly.GetTypes().SelectMany(t => t.GetMethods())
            .Select(m => (m, name: m.GetCustomAttribute<FunctionAttribute>()?.Name)).Where(x => x.name != null).ToList();
        var orchestrators = functions.Where(f => f.m.GetParameters().Any(p => p.GetCustomAttribute<OrchestrationTriggerAttribute>() != null)).Select(f => f.name).ToHashSet();
        var activities = functions.Where(f => f.m.GetParameters().Any(p => p.GetCustomAttribute<ActivityTriggerAttribute>() != null)).Select(f => f.name).ToHashSet();
        // The Functions app has a shell for exactly the tasks of the one list the local host registers.
        static string? NameOf(Type t) => t.GetCustomAttribute<Microsoft.DurableTask.DurableTaskAttribute>()?.Name.Name ?? t.Name;
        Assert.Equal(Orchestrations.Orchestrators.All.Select(NameOf).ToHashSet(), orchestrators);
        Assert.Equal(Activities.ActivityServices.All.Select(NameOf).ToHashSet(), activities);
        Assert.Contains(TaskNames.Phase4, orchestrators);
        Assert.Contains(TaskNames.AutoLabel, activities);
        Assert.Equal(functions.Count, functions.Select(f => f.name).Distinct().Count());
    }

    [Fact]
    public async Task The_dashboard_function_serves_the_page_anonymously_at_api_dashboard()
    {
        var trigger = typeof(DashboardFunctions).GetMethod(nameof(DashboardFunctions.Dashboard))!.GetParameters()[0].GetCustomAttribute<HttpTriggerAttribute>()!;
        Assert.Equal((AuthorizationLevel.Anonymous, "dashboard/{*file}"), (trigger.AuthLevel, trigger.Route));
        var ctx = Context("GET", "/api/dashboard/");
        await new DashboardFunctions().Dashboard(ctx.Request, null);
        ctx.Response.Body.Position = 0;
        Assert.Equal((200, "text/html; charset=utf-8"), (ctx.Response.StatusCode, ctx.Response.ContentType));
        Assert.Contains("/api/dashboard/dashboard.js", await new StreamReader(ctx.Response.Body).ReadToEndAsync());
        Assert.Equal(DashboardPage.ContentSecurityPolicy, ctx.Response.Headers["Content-Security-Policy"].ToString());
    }

    [Fact]
    public void Http_routes_match_the_documented_api_and_all_need_a_function_key()
    {
        var routes = typeof(HttpFunctions).GetMethods()
            .SelectMany(m => m.GetParameters()).Select(p => p.GetCustomAttribute<HttpTriggerAttribute>()).OfType<HttpTriggerAttribute>().ToList();
        Assert.All(routes, r => Assert.Equal(AuthorizationLevel.Function, r.AuthLevel));
        var expected = MathV2.Tests.ApiRoutes.Documented;
        Assert.Equal(expected.OrderBy(x => x), routes.Select(r => $"{r.Methods![0].ToUpperInvariant()} {r.Route}").OrderBy(x => x));
        // The annotators' routes: no function key, the batch's token checked by the shared handler.
        var byToken = typeof(AnnotatorFunctions).GetMethods()
            .SelectMany(m => m.GetParameters()).Select(p => p.GetCustomAttribute<HttpTriggerAttribute>()).OfType<HttpTriggerAttribute>().ToList();
        Assert.All(byToken, r => Assert.Equal(AuthorizationLevel.Anonymous, r.AuthLevel));
        Assert.Equal(MathV2.Tests.ApiRoutes.ByToken.OrderBy(x => x), byToken.Select(r => $"{r.Methods![0].ToUpperInvariant()} {r.Route}").OrderBy(x => x));
    }

    [Fact]
    public async Task The_job_event_trigger_raises_job_finished_on_live_instances_and_drops_the_rest()
    {
        var pump = new JobEventFunctions(NullLogger<JobEventFunctions>.Instance);
        _client.Add("job-1", OrchestrationRuntimeStatus.Running);
        string ev(string instance) => Json.Serialize(new GpuJobEvent { InstanceId = instance, Outcome = new GpuJobOutcome { JobId = instance, Status = GpuJobStatus.Succeeded } });
        // A malformed event fails the invocation: the host retries it, then sets it aside in job-events-poison.
        await Assert.ThrowsAsync<InvalidDataException>(() => pump.Pump("not json", _client, default));
        await pump.Pump(ev("unknown"), _client, default);
        await pump.Pump(ev("job-1"), _client, default);
        Assert.Equal([$"raise:job-1:{GpuJobEvent.EventName}"], _client.Calls);
    }
}
