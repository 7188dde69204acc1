using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using MathV2.Cli;

namespace MathV2.Host.Tests;

/// <summary>`up`, `down` and `status` of a separate stack, and the CLI's --json commands against the shared one.</summary>
[Collection("stack")]
[Trait("Category", "EndToEnd")]
public sealed class StackLifecycleTests(StackFixture shared)
{
    /// <summary>A stack of its own in a temporary state directory, stopped and removed afterwards.</summary>
    static async Task WithSeparateStackAsync(string prefix, Func<LocalStack, Task> test)
    {
        string dir = Directory.CreateTempSubdirectory(prefix).FullName;
        var stack = new LocalStack(StackFixture.NewLayout(dir), TextWriter.Null);
        try { await test(stack); }
        finally
        {
            await stack.DownAsync();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Up_is_idempotent_down_stops_exactly_what_up_started_and_keeps_the_data() => await WithSeparateStackAsync("mathv2-lifecycle-", async stack =>
    {
        await stack.UpAsync();
        var first = stack.Pids;
        Assert.True(File.Exists(stack.Layout.EnvFile));
        Assert.Contains($"MATHV2_KEY={stack.Key}", File.ReadAllText(stack.Layout.EnvFile));

        await stack.UpAsync();
        Assert.Equal(Json(first), Json(stack.Pids));

        var stopped = await stack.DownAsync();
        Assert.Equal(3, stopped.Count);
        Assert.False(LocalStack.IsAlive(first.Host, "MathV2.Host.dll"));
        Assert.False(LocalStack.IsAlive(first.Azurite, "azurite"));
        Assert.All(first.Workers, w => Assert.False(LocalStack.IsAlive(w, "MathV2.Gpu.Worker.dll")));
        Assert.NotEmpty(Directory.EnumerateFiles(stack.Layout.AzuriteDir, "*", SearchOption.AllDirectories));
        Assert.Empty(await stack.DownAsync());
    });

    [Fact]
    public async Task Heal_restarts_a_process_of_the_stack_that_died_and_names_it_and_leaves_a_stopped_stack_alone() => await WithSeparateStackAsync("mathv2-heal-", async stack =>
    {
        await stack.UpAsync();
        Assert.Empty(await stack.HealAsync());
        var before = stack.Pids;
        int worker = Assert.Single(before.Workers);
        LocalStack.Kill(worker, force: true);
        await StackFixture.Until(() => Task.FromResult(!LocalStack.IsAlive(worker, "MathV2.Gpu.Worker.dll")), 30, () => $"worker {worker} did not die");

        var lines = await stack.HealAsync();
        Assert.Contains($"the worker (pid {worker}) exited unexpectedly", Assert.Single(lines));
        int again = Assert.Single(stack.Pids.Workers);
        Assert.NotEqual(worker, again);
        Assert.True(LocalStack.IsAlive(again, "MathV2.Gpu.Worker.dll"));
        Assert.Equal(before.Host, stack.Pids.Host);
        Assert.Equal(before.Azurite, stack.Pids.Azurite);

        // The host too: a new one answers on the same port.
        LocalStack.Kill(before.Host!.Value, force: true);
        await StackFixture.Until(() => Task.FromResult(!LocalStack.IsAlive(before.Host, "MathV2.Host.dll")), 30, () => "the host did not die");
        Assert.Contains($"the host (pid {before.Host}) exited unexpectedly", Assert.Single(await stack.HealAsync()));
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Add("x-functions-key", stack.Key);
        Assert.True((await http.GetAsync($"{stack.Layout.Url}/healthz")).IsSuccessStatusCode);
        Assert.Empty(await stack.HealAsync());

        // After down nothing is restarted.
        await stack.DownAsync();
        Assert.Empty(await stack.HealAsync());
        Assert.False(File.Exists(stack.Layout.PidFile));
    });

    [Fact]
    public async Task A_taken_port_gives_one_clear_message_and_starts_nothing()
    {
        string dir = Directory.CreateTempSubdirectory("mathv2-ports-").FullName;
        var layout = StackFixture.NewLayout(dir);
        var blocker = new TcpListener(IPAddress.Loopback, layout.ApiPort);
        blocker.Start();
        try
        {
            var stack = new LocalStack(layout, TextWriter.Null);
            var e = await Assert.ThrowsAsync<CliException>(() => stack.UpAsync());
            Assert.Contains($"port {layout.ApiPort} (API) is already in use", e.Message);
            Assert.False(File.Exists(layout.PidFile));
        }
        finally
        {
            blocker.Stop();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Cli_commands_print_one_json_document_and_fail_with_a_nonzero_exit_code()
    {
        await shared.Stack.UpAsync();
        var (rc, stdout, _) = await Cli("probe", "--size", "32", "--jobs", "2", "--json");
        Assert.Equal(0, rc);
        var probe = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal("Completed", probe.GetProperty("runtimeStatus").GetString());
        string jobId = probe.GetProperty("output").GetProperty("jobs")[0].GetProperty("jobId").GetString()!;
        string artifactId = probe.GetProperty("output").GetProperty("jobs")[0].GetProperty("resultArtifactId").GetString()!;

        (rc, stdout, _) = await Cli("jobs", "show", jobId, "--json");
        Assert.Equal(0, rc);
        Assert.Equal("succeeded", JsonDocument.Parse(stdout).RootElement.GetProperty("status").GetString());
        (rc, stdout, _) = await Cli("artifacts", "lineage", artifactId, "--json");
        Assert.Equal(0, rc);
        Assert.Equal(artifactId, JsonDocument.Parse(stdout).RootElement.GetProperty("id").GetString());
        (rc, stdout, _) = await Cli("status", "--json");
        Assert.Equal(0, rc);
        var status = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(0, status.GetProperty("queues").GetProperty("gpu-jobs").GetInt32());
        Assert.Contains(status.GetProperty("workers").EnumerateArray(), w => w.GetProperty("state").GetString() == "idle");

        var (bad, _, err) = await Cli("instances", "rewind", probe.GetProperty("instanceId").GetString()!, "--json");
        Assert.Equal(1, bad);
        Assert.Contains("409", err);
        (bad, _, err) = await Cli("probe", "--size", "0");
        Assert.Equal(Commands.UsageError, bad);
        Assert.Contains("--size", err);
    }

    [Fact]
    public async Task Demo_datasets_are_stored_as_an_immutable_artifact_with_a_manifest()
    {
        await shared.Stack.UpAsync();
        string dir = Directory.CreateTempSubdirectory("mathv2-demo-ds-").FullName;
        string prefix = $"t{Guid.NewGuid():N}"[..10];
        try
        {
            var (rc, stdout, _) = await Cli("datasets", "demo", "--out", dir, "--problems-per-difficulty", "3", "--artifact-prefix", prefix, "--json");
            Assert.Equal(0, rc);
            string id = JsonDocument.Parse(stdout).RootElement.GetProperty("artifact").GetString()!;
            var manifest = (await shared.Artifacts.GetAsync(id))!;
            Assert.Equal(["demonstrations.jsonl", "graded-analyses.jsonl", "graded-proofs.jsonl", "problems.jsonl"], manifest.Files.Select(f => f.Path).Order());
            byte[] problems = await shared.Artifacts.ReadFileAsync(manifest, "problems.jsonl");
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(dir, "problems.jsonl")), problems);
            (rc, _, var err) = await Cli("datasets", "demo", "--out", dir, "--problems-per-difficulty", "3", "--artifact-prefix", prefix);
            Assert.Equal(1, rc);
            Assert.Contains("already exists", err);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public async Task Bench_protocol_reports_dispatch_overhead_next_to_run_time()
    {
        await shared.Stack.UpAsync();
        var (rc, stdout, _) = await Cli("bench", "protocol", "--jobs", "3", "--json");
        Assert.Equal(0, rc);
        var report = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(3, report.GetProperty("perJob").GetArrayLength());
        foreach (string k in new[] { "submitToClaimMs", "finishToResumedMs", "overheadMs", "jobRunMs" })
            Assert.True(report.GetProperty(k).GetProperty("p50").GetDouble() >= 0);
    }

    async Task<(int Rc, string Stdout, string Stderr)> Cli(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int rc;
        try { rc = await new Commands(shared.Stack.Layout, o, e).RunAsync(args); }
        catch (CliException ex) { e.WriteLine(ex.Message); rc = 1; }
        return (rc, o.ToString(), e.ToString());
    }

    static string Json(StackPids p) => System.Text.Json.JsonSerializer.Serialize(p);
}
