using System.Net.Http.Json;
using System.Text.Json;
using MathV2.Cli;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Datasets;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;
using MathV2.Tests;

namespace MathV2.Host.Tests;

/// <summary>
/// A whole local stack of real processes (Azurite, the local host, a Gpu.Worker) on free ports with its own
/// state folder, started the way `./mathv2 up` starts it, with short leases so failures show quickly.
/// </summary>
public sealed class StackFixture : IAsyncLifetime
{
    public LocalStack Stack { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public MathV2Storage Storage { get; private set; } = null!;
    public GpuJobClient Jobs => new(Storage);
    public ArtifactStore Artifacts => new(Storage);

    /// <summary>The second key the test stacks accept (rotation): valid beside the stack's own key.</summary>
    public const string NextKey = "next-key-for-rotation-0123456789abcdef";

    public static StackLayout NewLayout(string stateDir)
    {
        int b = Repo.FreePorts(5);
        string bin(string project, string dll) => Path.Combine(Repo.Root, "src", project, "bin", Repo.Configuration, "net10.0", dll);
        return new StackLayout
        {
            Root = Repo.Root,
            StateDir = stateDir,
            HostDll = bin("Host", "MathV2.Host.dll"),
            WorkerDll = bin("Gpu.Worker", "MathV2.Gpu.Worker.dll"),
            AzuritePort = b,
            ApiPort = b + 3,
            GrpcPort = b + 4,
            Environment = new Dictionary<string, string>
            {
                ["MATHV2_WORKER_LEASE_S"] = "6",
                ["MATHV2_WORKER_HEARTBEAT_S"] = "1",
                ["MATHV2_WORKER_MAX_POLL_S"] = "0.5",
                ["MATHV2_KEY_NEXT"] = NextKey,
            },
        };
    }

    public async Task InitializeAsync()
    {
        var layout = NewLayout(Directory.CreateTempSubdirectory("mathv2-stack-").FullName);
        Stack = new LocalStack(layout, TextWriter.Null);
        await Stack.UpAsync();
        Storage = new MathV2Storage(layout.StorageConnectionString);
        Http = new HttpClient { BaseAddress = new Uri(layout.Url) };
        Http.DefaultRequestHeaders.Add("x-functions-key", Stack.Key);
    }

    public async Task DisposeAsync()
    {
        await Stack.DownAsync();
        Http.Dispose();
        // MATHV2_KEEP_TEST_STATE=1 keeps the stack's logs and data for a look after a failure.
        if (Environment.GetEnvironmentVariable("MATHV2_KEEP_TEST_STATE") != "1")
            try { Directory.Delete(Stack.Layout.StateDir, recursive: true); } catch (IOException) { }
    }

    public async Task<string> StartProbeAsync(object body)
    {
        var resp = await Http.PostAsJsonAsync("/api/probes", body, Json.Options);
        Assert.Equal(202, (int)resp.StatusCode);
        return (await resp.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    public async Task<JsonElement> InstanceAsync(string id) =>
        await Http.GetFromJsonAsync<JsonElement>($"/api/instances/{id}?showInput=false");

    /// <summary>Polls until the instance reaches one of the given runtime statuses (fails the test on timeout).</summary>
    public async Task<JsonElement> WaitForStatusAsync(string id, string status, int seconds = 120)
    {
        JsonElement st = default;
        await Until(async () => (st = await InstanceAsync(id)).GetProperty("runtimeStatus").GetString() == status, seconds,
            () => $"instance {id} never became {status}; last: {st}");
        return st;
    }

    public async Task<GpuJobRecord> WaitForJobAsync(string jobId, Func<GpuJobRecord, bool> condition, int seconds = 60)
    {
        GpuJobRecord? r = null;
        await Until(async () => (r = await Jobs.GetAsync(jobId)) is { } x && condition(x), seconds, () => $"job {jobId}: condition not met; last: {Json.Serialize(r)}");
        return r!;
    }

    /// <summary>A CLI command against this stack: exit code, stdout, stderr (a CliException as Program prints it, exit 1).</summary>
    public async Task<(int Rc, string Out, string Err)> CliAsync(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        try
        {
            int rc = await new MathV2.Cli.Commands(Stack.Layout, o, e).RunAsync(args);
            return (rc, o.ToString(), e.ToString());
        }
        catch (MathV2.Cli.CliException ex) { return (1, o.ToString(), e + ex.Message); }
    }

    /// <summary>A checkpoint made by an sft job on this stack's worker (a words tokenizer, one seed) from the given demonstrations.</summary>
    public async Task<string> SftCheckpointAsync(IEnumerable<DemonstrationRow> rows, object config, object options, int seconds = 120)
    {
        string data = $"demos-{Guid.NewGuid():N}"[..18];
        var w = Artifacts.Create(data, "dataset", StorageNames.DatasetsContainer, data, new ArtifactProducer { Worker = "test" });
        await w.AddTextAsync("demos.jsonl", Jsonl.Write(rows));
        await w.CommitAsync();
        string id = $"sft-{Guid.NewGuid():N}"[..16];
        await Jobs.SubmitAsync(new GpuJobSpec
        {
            JobId = id, Kind = GpuJobKinds.Sft, InstanceId = id, Inputs = [data],
            Parameters = JsonSerializer.SerializeToElement(new
            {
                init = new { config, tokenizer = "words", seed = 1 }, dataset = new { artifact = data, file = "demos.jsonl" }, evalShare = 0, options,
            }),
        });
        var job = await WaitForJobAsync(id, j => j.Status is GpuJobStatus.Succeeded or GpuJobStatus.Failed, seconds);
        Assert.True(job.Status == GpuJobStatus.Succeeded, job.Error);
        return job.ResultArtifactId!;
    }

    public static async Task Until(Func<Task<bool>> condition, int seconds, Func<string> message)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail(message());
            await Task.Delay(200);
        }
    }

    public async Task KillAsync(int pid, string marker)
    {
        LocalStack.Kill(pid, force: true);
        await Until(() => Task.FromResult(!LocalStack.IsAlive(pid, marker)), 10, () => $"process {pid} did not die");
    }

    public async Task KillWorkersAsync()
    {
        foreach (int w in Stack.Pids.Workers) await KillAsync(w, "MathV2.Gpu.Worker.dll");
    }
}

[CollectionDefinition("stack")]
public sealed class StackCollection : ICollectionFixture<StackFixture>;
