using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MathV2.Cli;
using MathV2.Core;

namespace MathV2.Host.Tests;

/// <summary>Many starts at once: all accepted and finished, or refused with 429 and Retry-After at a configured limit.</summary>
[Collection("stack")]
[Trait("Category", "EndToEnd")]
public sealed class LoadTests(StackFixture stack)
{
    static async Task<List<HttpResponseMessage>> StartAllAsync(HttpClient http, int n, object body) =>
        [.. await Task.WhenAll(Enumerable.Range(0, n).Select(_ => http.PostAsJsonAsync("/api/probes", body, Json.Options)))];

    [Fact]
    public async Task Fifty_probes_started_at_once_are_all_accepted_and_all_finish()
    {
        await stack.Stack.UpAsync();
        var answers = await StartAllAsync(stack.Http, 50, new { size = 16, repeats = 1, jobs = 1 });
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Accepted, a.StatusCode));
        var ids = new List<string>();
        foreach (var a in answers) ids.Add((await a.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
        Assert.Equal(50, ids.Distinct().Count());
        foreach (string id in ids) await stack.WaitForStatusAsync(id, "Completed", 600);
    }

    [Fact]
    public async Task Beyond_the_active_run_limit_starts_get_429_with_retry_after_and_nothing_starts()
    {
        var layout = StackFixture.NewLayout(Directory.CreateTempSubdirectory("mathv2-limit-").FullName);
        layout = layout with { Environment = new Dictionary<string, string>(layout.Environment) { ["MATHV2_MAX_ACTIVE_RUNS"] = "5" } };
        var limited = new LocalStack(layout, TextWriter.Null);
        await limited.UpAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(layout.Url) };
            http.DefaultRequestHeaders.Add("x-functions-key", limited.Key);
            // Probes that hold their worker a few seconds, so all twelve starts meet five active runs.
            var answers = await StartAllAsync(http, 12, new { size = 16, repeats = 1, jobs = 1, minSeconds = 2 });
            var accepted = answers.Where(a => a.StatusCode == HttpStatusCode.Accepted).ToList();
            var refused = answers.Where(a => a.StatusCode == HttpStatusCode.TooManyRequests).ToList();
            Assert.Equal((5, 7), (accepted.Count, refused.Count));
            foreach (var r in refused)
            {
                Assert.Equal(TimeSpan.FromSeconds(30), r.Headers.RetryAfter?.Delta);
                Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
                Assert.Contains("MATHV2_MAX_ACTIVE_RUNS=5", await r.Content.ReadAsStringAsync());
            }
            // A bad start is still a 400 (the door checks first), and the refused starts left no instance behind.
            Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsJsonAsync("/api/probes", new { size = -1 }, Json.Options)).StatusCode);
            var ids = new List<string>();
            foreach (var a in accepted) ids.Add((await a.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
            foreach (string id in ids)
                await StackFixture.Until(async () => (await http.GetFromJsonAsync<JsonElement>($"/api/instances/{id}")).GetProperty("runtimeStatus").GetString() == "Completed",
                    300, () => $"probe {id} did not complete");
            // Once they finished, starts are taken again.
            await StackFixture.Until(async () => (await http.PostAsJsonAsync("/api/probes", new { size = 16, repeats = 1, jobs = 1 }, Json.Options)).StatusCode == HttpStatusCode.Accepted,
                30, () => "no start was accepted after the runs finished");
        }
        finally
        {
            await limited.DownAsync();
            try { Directory.Delete(layout.StateDir, true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task Bench_scale_runs_one_sharded_probe_on_one_worker_then_on_two_and_reports_both()
    {
        var layout = StackFixture.NewLayout(Directory.CreateTempSubdirectory("mathv2-scale-").FullName);
        var own = new LocalStack(layout, TextWriter.Null);
        await own.UpAsync();
        try
        {
            using var api = new ApiClient(layout.Url, own.Key);
            var probe = new MathV2.Core.Probes.ProbeRequest { Jobs = 8, Size = 256, Repeats = 300 };
            var r = await ScaleBench.RunAsync(own, api, probe, TextWriter.Null, default);
            Assert.Equal((1, 8), (r.One.Workers, r.One.Jobs));
            Assert.Equal(8, Assert.Single(r.One.JobsPerWorker).Value);
            Assert.Equal(2, own.AliveWorkers());
            Assert.Equal(8, r.Two.JobsPerWorker.Values.Sum());
            Assert.Equal(2, r.Two.JobsPerWorker.Count);   // both workers took jobs of the second probe
            Assert.Equal(r.One.Seconds / r.Two.Seconds, r.SpeedUp, 9);
            // It starts from one worker only: the same stack now runs two.
            var e = await Assert.ThrowsAsync<CliException>(() => ScaleBench.RunAsync(own, api, probe, TextWriter.Null, default));
            Assert.Contains("the stack runs 2", e.Message);
        }
        finally
        {
            await own.DownAsync();
            try { Directory.Delete(layout.StateDir, true); } catch (IOException) { }
        }
    }
}
