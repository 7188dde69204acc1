using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Datasets;
using MathV2.Core.Http;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;

namespace MathV2.Host.Tests;

/// <summary>The HTTP API of the running local host: keys, problem+json for every client error, instance views.</summary>
[Collection("stack")]
[Trait("Category", "EndToEnd")]
public sealed class ApiTests(StackFixture stack)
{
    async Task<(HttpStatusCode Status, string? Type, JsonElement Body)> Send(HttpMethod method, string path, string? body = null, string? key = "")
    {
        using var req = new HttpRequestMessage(method, path);
        if (key != "") req.Headers.TryAddWithoutValidation("x-functions-key", key ?? stack.Stack.Key);
        if (body != null) req.Content = new StringContent(body, Encoding.UTF8, "application/json");
        using var plain = new HttpClient { BaseAddress = stack.Http.BaseAddress };
        var resp = await plain.SendAsync(req);
        string text = await resp.Content.ReadAsStringAsync();
        return (resp.StatusCode, resp.Content.Headers.ContentType?.MediaType, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    [Fact]
    public async Task A_training_jobs_metrics_can_be_read_while_it_runs_and_in_full_once_it_succeeded()
    {
        await stack.Stack.UpAsync();
        const int steps = 1500;
        string data = $"demos-{Guid.NewGuid():N}"[..18];
        var w = stack.Artifacts.Create(data, "dataset", StorageNames.DatasetsContainer, data, new ArtifactProducer { Worker = "test" });
        await w.AddTextAsync("demos.jsonl", Jsonl.Write(Enumerable.Range(0, 8).Select(i => new DemonstrationRow { Kind = "generation", Prompt = $"{i} + {i} =", Completion = $" {2 * i}" })));
        await w.CommitAsync();
        string id = $"sft-{Guid.NewGuid():N}"[..16];
        Assert.Equal(HttpStatusCode.NotFound, (await stack.Http.GetAsync($"/api/jobs/{id}/metrics")).StatusCode);
        await stack.Jobs.SubmitAsync(new GpuJobSpec
        {
            JobId = id, Kind = GpuJobKinds.Sft, InstanceId = id, Inputs = [data],
            Parameters = JsonSerializer.SerializeToElement(new
            {
                init = new { config = new { hidden_size = 16, num_hidden_layers = 1, num_attention_heads = 2, num_key_value_heads = 1, intermediate_size = 32, max_position_embeddings = 64 }, tokenizer = "words", seed = 1 },
                dataset = new { artifact = data, file = "demos.jsonl" }, evalShare = 0, options = new { steps, batchSize = 2, maxSeqLen = 32 },
            }),
        });
        // Before the job ends, its metrics so far: one line per step from step 1, in order.
        string[] partial = [];
        int held = 0;
        string attempt = "";
        await StackFixture.Until(async () =>
        {
            var resp = await stack.Http.GetAsync($"/api/jobs/{id}/metrics");
            if (resp.StatusCode == HttpStatusCode.OK)
            {
                byte[] body = await resp.Content.ReadAsByteArrayAsync();
                (partial, held, attempt) = (Encoding.UTF8.GetString(body).Split('\n', StringSplitOptions.RemoveEmptyEntries), body.Length, Header(resp, JobMetricsHeaders.Attempt));
                Assert.Equal("0", Header(resp, JobMetricsHeaders.Offset));
            }
            return partial.Length > 0 || (await stack.Jobs.GetAsync(id))?.Status is GpuJobStatus.Succeeded or GpuJobStatus.Failed;
        }, 120, () => $"no metrics of {id} while it ran");
        Assert.InRange(partial.Length, 1, steps - 1);
        Assert.Equal("1", attempt);
        var first = partial.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(Enumerable.Range(1, partial.Length), first.Select(e => e.GetProperty("step").GetInt32()));
        Assert.All(first, e => Assert.True(e.GetProperty("loss").GetDouble() > 0));
        // A reader holding those bytes gets only the lines after them (the dashboard's ticks), from the next step on.
        var more = await stack.Http.GetAsync($"/api/jobs/{id}/metrics?offset={held}&attempt=1");
        Assert.Equal((HttpStatusCode.OK, held.ToString(), "1"), (more.StatusCode, Header(more, JobMetricsHeaders.Offset), Header(more, JobMetricsHeaders.Attempt)));
        var added = (await more.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (added.Length > 0) Assert.Equal(partial.Length + 1, JsonDocument.Parse(added[0]).RootElement.GetProperty("step").GetInt32());
        // Once it succeeded: every step, the result's metrics.jsonl, the lines read earlier at its start.
        var job = await stack.WaitForJobAsync(id, j => j.Status is GpuJobStatus.Succeeded or GpuJobStatus.Failed, 300);
        Assert.True(job.Status == GpuJobStatus.Succeeded, job.Error);
        var full = await stack.Http.GetAsync($"/api/jobs/{id}/metrics");
        Assert.Equal("application/x-ndjson", full.Content.Headers.ContentType?.MediaType);
        string text = await full.Content.ReadAsStringAsync();
        Assert.Equal(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync((await stack.Artifacts.GetAsync(job.ResultArtifactId!))!, "metrics.jsonl")), text);
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(steps, lines.Length);
        Assert.Equal(partial, lines.Take(partial.Length));
        Assert.Equal(HttpStatusCode.BadRequest, (await stack.Http.GetAsync("/api/jobs/..%2Fx/metrics")).StatusCode);
        // Once it succeeded, the same tail comes from the result: the held bytes and the rest are the whole file.
        byte[] whole = Encoding.UTF8.GetBytes(text);
        var rest = await stack.Http.GetAsync($"/api/jobs/{id}/metrics?offset={held}&attempt=1");
        Assert.Equal((held.ToString(), "1"), (Header(rest, JobMetricsHeaders.Offset), Header(rest, JobMetricsHeaders.Attempt)));
        Assert.Equal(whole[held..], await rest.Content.ReadAsByteArrayAsync());
        // Bytes of another attempt, or past the end: all of it, from 0.
        foreach (string q in new[] { $"offset={held}&attempt=2", $"offset={whole.Length + 1}&attempt=1" })
        {
            var again = await stack.Http.GetAsync($"/api/jobs/{id}/metrics?{q}");
            Assert.Equal(("0", text), (Header(again, JobMetricsHeaders.Offset), await again.Content.ReadAsStringAsync()));
        }
        // A malformed tail request is a 400 naming the parameter.
        foreach (var (q, field) in new[] { ("offset=5", "attempt"), ("attempt=1", "offset"), ("offset=x&attempt=1", "offset"), ("offset=-1&attempt=1", "offset"), ("offset=5&attempt=0", "attempt") })
        {
            var bad = await stack.Http.GetAsync($"/api/jobs/{id}/metrics?{q}");
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains($"\"{field}\"", await bad.Content.ReadAsStringAsync());
        }

        // A running GRPO job of that checkpoint: its reward curve so far, readable long before its last step.
        string rl = $"rl-{Guid.NewGuid():N}"[..15];
        var rw = stack.Artifacts.Create(rl, "dataset", StorageNames.DatasetsContainer, rl, new ArtifactProducer { Worker = "test" });
        await rw.AddTextAsync("rl.jsonl", string.Concat(Enumerable.Range(0, 8).Select(i => JsonSerializer.Serialize(new { prompt = $"{i} + {i} =" }) + "\n")));
        await rw.CommitAsync();
        string grpo = $"grpo-{Guid.NewGuid():N}"[..17];
        const int grpoSteps = 5000;
        await stack.Jobs.SubmitAsync(new GpuJobSpec
        {
            JobId = grpo, Kind = GpuJobKinds.Grpo, InstanceId = grpo, Inputs = [job.ResultArtifactId!, rl],
            Parameters = JsonSerializer.SerializeToElement(new
            {
                policy = job.ResultArtifactId, reward = new { kind = "suffix", text = "1" }, dataset = new { artifact = rl, file = "rl.jsonl" },
                options = new { steps = grpoSteps, groupSize = 4, promptsPerStep = 2, maxNewTokens = 3, batchSize = 8, maxSeqLen = 32, checkpointEvery = grpoSteps },
            }),
        });
        string[] running = [];
        await StackFixture.Until(async () =>
        {
            var resp = await stack.Http.GetAsync($"/api/jobs/{grpo}/metrics");
            if (resp.StatusCode == HttpStatusCode.OK) running = (await resp.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return running.Length >= 2 || (await stack.Jobs.GetAsync(grpo))?.Status is GpuJobStatus.Succeeded or GpuJobStatus.Failed;
        }, 180, () => $"no metrics of {grpo} while it ran");
        Assert.Equal(GpuJobStatus.Running, (await stack.Jobs.GetAsync(grpo))!.Status);
        var steps2 = running.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(Enumerable.Range(1, steps2.Count), steps2.Select(e => e.GetProperty("step").GetInt32()));
        Assert.All(steps2, e => Assert.True(e.TryGetProperty("meanReward", out _) && e.TryGetProperty("advantageStd", out _) && e.TryGetProperty("kl", out _), e.ToString()));
        Assert.True(await stack.Jobs.CancelAsync(grpo, "test: curves read"));
        await stack.WaitForJobAsync(grpo, j => j.Status == GpuJobStatus.Cancelled, 120);
    }

    [Fact]
    public async Task The_api_is_described_by_an_openapi_document_with_exactly_the_documented_routes()
    {
        await stack.Stack.UpAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Get, "/api/openapi/v1.json")).Status);
        var doc = await stack.Http.GetFromJsonAsync<JsonElement>("/api/openapi/v1.json");
        Assert.StartsWith("3.", doc.GetProperty("openapi").GetString());
        var described = doc.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Select(op => $"{op.Name.ToUpperInvariant()} {p.Name}")).Order().ToList();
        Assert.Equal(MathV2.Tests.ApiRoutes.AsOpenApiPaths().Order(), described);
        // And README's route table names the same routes.
        string readme = File.ReadAllText(Path.Combine(MathV2.Tests.Repo.Root, "README.md"));
        foreach (string route in MathV2.Tests.ApiRoutes.AsOpenApiPaths().Where(r => !r.Contains("{action}")))
            Assert.Contains($"`{route}", readme);
    }

    [Theory]
    [InlineData("GET", "/api/jobs/x", "")]             // no key
    [InlineData("GET", "/api/jobs/x", "wrong-key")]
    [InlineData("POST", "/api/probes", "wrong-key")]
    [InlineData("GET", "/healthz", "")]
    public async Task Every_route_needs_the_key(string method, string path, string key)
    {
        var (status, type, body) = await Send(new HttpMethod(method), path, key: key);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("application/problem+json", type);
        Assert.Contains("x-functions-key", body.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("/api/dashboard/", "text/html")]
    [InlineData("/api/dashboard", "text/html")]
    [InlineData("/api/dashboard/dashboard.js", "text/javascript")]
    public async Task The_dashboard_page_loads_without_the_key_while_the_api_it_calls_needs_it(string path, string type)
    {
        await stack.Stack.UpAsync();
        using var plain = new HttpClient { BaseAddress = stack.Http.BaseAddress };
        var page = await plain.GetAsync(path);
        Assert.Equal((HttpStatusCode.OK, type), (page.StatusCode, page.Content.Headers.ContentType?.MediaType));
        Assert.Contains("script-src 'self'", string.Join("", page.Headers.GetValues("Content-Security-Policy")));
        Assert.Equal(HttpStatusCode.NotFound, (await plain.GetAsync("/api/dashboard/no-such.js")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Get, "/api/laps")).Status);
    }

    [Fact]
    public async Task Two_keys_are_valid_at_once_while_one_is_rotated()
    {
        await stack.Stack.UpAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Get, "/api/jobs/none", key: StackFixture.NextKey)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Get, "/api/jobs/none", key: null)).Status);   // the stack's own key
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Get, "/api/jobs/none", key: StackFixture.NextKey + "x")).Status);
    }

    [Fact]
    public async Task The_key_is_also_accepted_as_the_code_query_parameter()
    {
        await stack.Stack.UpAsync();
        var (status, _, _) = await Send(HttpMethod.Get, $"/api/jobs/none?code={stack.Stack.Key}");
        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Theory]
    [InlineData("POST", "/api/probes", "{\"size\": 64,", HttpStatusCode.BadRequest, "body")]
    [InlineData("POST", "/api/probes", "{\"size\": 64, \"colour\": 1}", HttpStatusCode.BadRequest, "colour")]
    [InlineData("POST", "/api/probes", "{\"size\": 1000000}", HttpStatusCode.BadRequest, "size")]
    [InlineData("POST", "/api/probes", "{\"jobs\": \"many\"}", HttpStatusCode.BadRequest, "jobs")]
    [InlineData("GET", "/api/instances/no-such-instance", null, HttpStatusCode.NotFound, null)]
    [InlineData("POST", "/api/instances/no-such-instance/rewind", null, HttpStatusCode.NotFound, null)]
    [InlineData("POST", "/api/instances/no-such-instance/explode", null, HttpStatusCode.NotFound, null)]
    [InlineData("DELETE", "/api/instances/no-such-instance", null, HttpStatusCode.NotFound, null)]
    [InlineData("GET", "/api/jobs/no-such-job", null, HttpStatusCode.NotFound, null)]
    [InlineData("GET", "/api/jobs/bad%20id", null, HttpStatusCode.BadRequest, "id")]
    [InlineData("GET", "/api/artifacts/no-such-artifact", null, HttpStatusCode.NotFound, null)]
    [InlineData("GET", "/api/artifacts/no-such-artifact/lineage", null, HttpStatusCode.NotFound, null)]
    [InlineData("GET", "/api/no/such/route", null, HttpStatusCode.NotFound, null)]
    public async Task Client_errors_are_4xx_problem_json(string method, string path, string? body, HttpStatusCode expected, string? field)
    {
        await stack.Stack.UpAsync();
        var (status, type, json) = await Send(new HttpMethod(method), path, body, key: null);
        Assert.Equal(expected, status);
        Assert.Equal("application/problem+json", type);
        if (field != null) Assert.True(json.GetProperty("errors").TryGetProperty(field, out _), $"expected an error for {field}: {json}");
    }

    [Fact]
    public async Task Instance_routes_show_status_history_and_refuse_what_the_state_forbids()
    {
        await stack.Stack.UpAsync();
        string id = await stack.StartProbeAsync(new { size = 32, repeats = 1, jobs = 1 });
        await stack.WaitForStatusAsync(id, "Completed");
        var (status, _, view) = await Send(HttpMethod.Get, $"/api/instances/{id}?showHistory=true", key: null);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Probe", view.GetProperty("name").GetString());
        Assert.Equal(32, view.GetProperty("input").GetProperty("size").GetInt32());
        var events = view.GetProperty("historyEvents").EnumerateArray().Select(e => e.GetProperty("eventType").GetString()).ToList();
        Assert.Contains("ExecutionStarted", events);
        Assert.Contains("SubOrchestrationInstanceCreated", events);
        Assert.Contains("ExecutionCompleted", events);

        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, $"/api/instances/{id}/rewind", key: null)).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, $"/api/instances/{id}/terminate", key: null)).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, $"/api/instances/{id}/raiseEvent/x", "{}", key: null)).Status);

        var (restarted, _, payload) = await Send(HttpMethod.Post, $"/api/instances/{id}/restart", key: null);
        Assert.Equal(HttpStatusCode.Accepted, restarted);
        string newId = payload.GetProperty("id").GetString()!;
        Assert.NotEqual(id, newId);
        await stack.WaitForStatusAsync(newId, "Completed");

        var (purged, _, result) = await Send(HttpMethod.Delete, $"/api/instances/{id}", key: null);
        Assert.Equal(HttpStatusCode.OK, purged);
        Assert.Equal(2, result.GetProperty("instancesDeleted").GetInt32()); // the probe and its job orchestration
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Get, $"/api/instances/{id}-probe-0", key: null)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Get, $"/api/instances/{id}", key: null)).Status);
    }

    [Fact]
    public async Task A_running_probe_can_be_suspended_resumed_and_terminated()
    {
        await stack.Stack.UpAsync();
        string id = await stack.StartProbeAsync(new { size = 32, repeats = 1, jobs = 1, minSeconds = 30 });
        await stack.WaitForStatusAsync(id, "Running");
        Assert.Equal(HttpStatusCode.Accepted, (await Send(HttpMethod.Post, $"/api/instances/{id}/suspend?reason=ops", key: null)).Status);
        await stack.WaitForStatusAsync(id, "Suspended");
        Assert.Equal(HttpStatusCode.Accepted, (await Send(HttpMethod.Post, $"/api/instances/{id}/resume", key: null)).Status);
        await stack.WaitForStatusAsync(id, "Running");
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Delete, $"/api/instances/{id}", key: null)).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await Send(HttpMethod.Post, $"/api/instances/{id}/terminate?reason=done", key: null)).Status);
        await stack.WaitForStatusAsync(id, "Terminated");
    }

    [Fact]
    public async Task Concurrent_mixed_requests_get_no_server_errors_and_the_right_answers()
    {
        await stack.Stack.UpAsync();
        var r = await MathV2.Cli.ApiLoadBench.RunAsync(stack.Stack.Layout.Url, stack.Stack.Key, new MathV2.Cli.ApiLoadOptions { Clients = 16, Requests = 1200, StartEvery = 100 });
        Assert.Equal(1200, r.Requests);
        Assert.Equal(0, r.ServerErrors);
        foreach (var route in r.Routes)
        {
            string expected = route.Route switch
            {
                "/api/laps" or "/healthz" => "200", MathV2.Cli.ApiLoadOptions.StartRoute => "202", _ when route.Route.StartsWith("POST ") => "400", _ => "404",
            };
            Assert.Equal([expected], route.StatusCodes.Keys);
            Assert.True(route.Route == MathV2.Cli.ApiLoadOptions.StartRoute ? route.Requests == 12 : route.Requests > 80, $"{route.Route}: {route.Requests} requests");
        }
        Assert.Equal(10, r.Routes.Count);
        Assert.True(r.P50Ms > 0 && r.P99Ms >= r.P50Ms);
        // Paced: never faster than the rate asked for (300 requests at 200/s take at least 1.5 s).
        var paced = await MathV2.Cli.ApiLoadBench.RunAsync(stack.Stack.Layout.Url, stack.Stack.Key, new MathV2.Cli.ApiLoadOptions { Clients = 8, Requests = 300, Rate = 200 });
        Assert.Equal((300, 0), (paced.Requests, paced.ServerErrors));
        Assert.True(paced.Seconds >= 1.49, $"{paced.Seconds} s");
    }

    static string Header(HttpResponseMessage resp, string name) => resp.Headers.TryGetValues(name, out var v) ? string.Join(",", v) : "";
}
