using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Storage;
using MathV2.Tests;

namespace MathV2.Host.Tests;

/// <summary>
/// What reaches the running host's door: malformed starts, hostile ids and paths, missing keys — only 4xx
/// problem+json, nothing started, the host healthy after; checkpoints checked in storage; the Durable HTTP conventions.
/// </summary>
[Collection("stack")]
[Trait("Category", "EndToEnd")]
public sealed class DoorTests(StackFixture stack)
{
    static readonly string[] HostilePaths =
    [
        "/api/jobs/..%2F..%2Fetc%2Fpasswd", "/api/artifacts/%2E%2E", "/api/artifacts/a%20b/lineage",
        "/api/instances/" + new string('x', 300), "/api/laps/not-a-lap", "/api/laps/lap-%3Cscript%3E", "/api/flywheels/lap-1",
        "/api/laps/lap-x/report", "/api/artifacts/no-such/files/..%2F..%2Fsecret", "/api/laps/lap-x/annotations/%2E%2E",
        "/api/instances/%20/terminate",
    ];

    [Fact]
    public async Task Malformed_requests_get_only_4xx_problem_json_and_start_nothing()
    {
        await stack.Stack.UpAsync();
        var before = (await stack.Http.GetFromJsonAsync<JsonElement>("/api/laps")).GetArrayLength();
        var statuses = new Dictionary<int, int>();
        var wrong = new List<string>();
        async Task Check(HttpRequestMessage req, string label, string? field = null)
        {
            using var resp = await stack.Http.SendAsync(req);
            int code = (int)resp.StatusCode;
            statuses[code] = statuses.GetValueOrDefault(code) + 1;
            string text = await resp.Content.ReadAsStringAsync();
            if (code is < 400 or >= 500 || resp.Content.Headers.ContentType?.MediaType != "application/problem+json")
                wrong.Add($"{label}: {code} {text}");
            else if (field != null && !JsonDocument.Parse(text).RootElement.GetProperty("errors").TryGetProperty(field, out _))
                wrong.Add($"{label}: no error for {field}: {text}");
        }
        foreach (var c in MalformedRequests.All())
            await Check(new HttpRequestMessage(HttpMethod.Post, c.Route) { Content = new StringContent(c.Body, Encoding.UTF8, "application/json") }, c.ToString(), c.Field);
        foreach (string path in HostilePaths)
            await Check(new HttpRequestMessage(HttpMethod.Get, path), path);
        // No key, and a wrong one (the client's default header carries the right one; these requests replace it).
        foreach (string? key in new[] { null, "wrong-key" })
        {
            using var plain = new HttpClient { BaseAddress = stack.Http.BaseAddress };
            var req = new HttpRequestMessage(HttpMethod.Post, "/api/laps") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
            if (key != null) req.Headers.Add("x-functions-key", key);
            using var resp = await plain.SendAsync(req);
            Assert.Equal(HttpStatusCode.Unauthorized, resp.StatusCode);
        }
        // A NUL in the path is refused by the web server itself, before any handler: a bare 400.
        using (var nul = await stack.Http.GetAsync("/api/jobs/%00")) Assert.Equal(HttpStatusCode.BadRequest, nul.StatusCode);
        Assert.True(wrong.Count == 0, string.Join("\n", wrong.Take(20)));
        Assert.True(statuses.Values.Sum() >= 150 + HostilePaths.Length);
        Assert.Equal(before, (await stack.Http.GetFromJsonAsync<JsonElement>("/api/laps")).GetArrayLength());
        var health = await stack.Http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Base_checkpoint_must_name_an_existing_checkpoint_artifact()
    {
        await stack.Stack.UpAsync();
        string dataset = $"door-ds-{Guid.NewGuid():N}"[..20];
        var w = stack.Artifacts.Create(dataset, "dataset", StorageNames.DatasetsContainer, dataset, new ArtifactProducer { Job = "test" });
        await w.AddTextAsync("problems.jsonl", "{\"id\":\"p1\",\"problem\":\"1+1\"}\n");
        await w.CommitAsync();
        foreach (var (id, says) in new[] { ("no-such-checkpoint", "no artifact"), (dataset, "is not a checkpoint") })
        {
            var resp = await stack.Http.PostAsJsonAsync("/api/laps", new { baseCheckpoint = id }, Json.Options);
            Assert.Equal(HttpStatusCode.BadRequest, resp.StatusCode);
            var errors = (await resp.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
            Assert.Contains(says, errors.GetProperty("baseCheckpoint")[0].GetString());
            var fly = await stack.Http.PostAsJsonAsync("/api/flywheels", new { lap = new { baseCheckpoint = id } }, Json.Options);
            Assert.Equal(HttpStatusCode.BadRequest, fly.StatusCode);
            Assert.Contains("lap.baseCheckpoint", await fly.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task The_chat_template_is_checked_at_the_door_against_the_base_checkpoint()
    {
        await stack.Stack.UpAsync();
        async Task<string> Checkpoint(string? tokenizerConfig)
        {
            string id = $"door-ck-{Guid.NewGuid():N}"[..20];
            var w = stack.Artifacts.Create(id, "checkpoint", StorageNames.CheckpointsContainer, id, new ArtifactProducer { Job = "test" });
            foreach (string f in new[] { "config.json", "tokenizer.json", "model.safetensors" }) await w.AddTextAsync(f, "{}");
            if (tokenizerConfig != null) await w.AddTextAsync("tokenizer_config.json", tokenizerConfig);
            await w.CommitAsync();
            return id;
        }
        async Task<JsonElement> Errors(object spec)
        {
            var resp = await stack.Http.PostAsJsonAsync("/api/laps", spec, Json.Options);
            Assert.Equal(HttpStatusCode.BadRequest, resp.StatusCode);
            return (await resp.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        }
        string tooLong = new('x', 101);   // keeps every spec below from starting a lap
        foreach (var (config, says) in new[]
        {
            (null, "has no tokenizer_config.json"),
            ("""{"eos_token": "</s>"}""", "has no chat_template"),
            ("""{"chat_template": "{% macro turn(m) %}{{ m }}{% endmacro %}"}""", "cannot be used: chat template: {% macro %} at line 1 is not supported"),
            ("""{"chat_template": "{{ raise_exception('no system turn') }}"}""", "cannot be used: chat template: no system turn"),
        })
        {
            var errors = await Errors(new { name = tooLong, baseCheckpoint = await Checkpoint(config), chatTemplate = true });
            Assert.Contains(says, errors.GetProperty("chatTemplate")[0].GetString());
        }
        string good = await Checkpoint("""{"chat_template": "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}<assistant>"}""");
        var fine = await Errors(new { name = tooLong, baseCheckpoint = good, chatTemplate = true });
        Assert.False(fine.TryGetProperty("chatTemplate", out _));
        Assert.True(fine.TryGetProperty("name", out _));
        var noBase = await Errors(new { chatTemplate = true, name = tooLong });
        Assert.Contains("needs a baseCheckpoint", noBase.GetProperty("chatTemplate")[0].GetString());
    }

    /// <summary>A client that knows only the Durable HTTP API: start, then follow Location while the answer is 202.</summary>
    [Fact]
    public async Task A_plain_durable_http_client_follows_a_start_to_completion()
    {
        await stack.Stack.UpAsync();
        using var start = await stack.Http.PostAsJsonAsync("/api/probes", new { size = 32, repeats = 1, jobs = 1, minSeconds = 2 });
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        var location = start.Headers.Location ?? throw new Xunit.Sdk.XunitException("a start must carry a Location header");
        Assert.NotNull(start.Headers.RetryAfter);
        var payload = await start.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(payload.GetProperty("statusQueryGetUri").GetString(), location.ToString());
        int accepted = 0;
        HttpResponseMessage status;
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            status = await stack.Http.GetAsync(location);
            if (status.StatusCode != HttpStatusCode.Accepted) break;
            accepted++;
            Assert.NotNull(status.Headers.Location);
            Assert.Contains(status.Headers.RetryAfter?.Delta?.TotalSeconds ?? 0, new[] { 10.0 });
            Assert.True(DateTime.UtcNow < deadline, "the probe never finished");
            await Task.Delay(100); // a client's poll interval, shorter than Retry-After to keep the test quick
        }
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        var body = await status.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Completed", body.GetProperty("runtimeStatus").GetString());
        Assert.True(accepted > 0, "the probe runs for 2 s: the first poll sees it in progress (202)");
        Assert.Null(status.Headers.Location);
    }
}
