using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;

namespace MathV2.Host.Tests;

/// <summary>Terminate stops the work: a flywheel's lap, the lap's phases, its GPU job on the worker, and no later claim.</summary>
[Collection("stack")]
[Trait("Category", "EndToEnd")]
public sealed class TerminateTests(StackFixture stack)
{
    async Task<string> StatusOf(string id) =>
        (await stack.Http.GetFromJsonAsync<JsonElement>($"/api/instances/{id}?showInput=false")).GetProperty("runtimeStatus").GetString()!;

    async Task<List<TableEntity>> WorkersAsync()
    {
        var list = new List<TableEntity>();
        await foreach (var e in stack.Storage.Table(StorageNames.WorkersTable).QueryAsync<TableEntity>(e => e.PartitionKey == "workers"))
            if (stack.Stack.Pids.Workers.Contains(e.GetInt32("Pid") ?? -1)) list.Add(e);
        return list;
    }

    [Fact]
    public async Task Terminating_a_flywheel_mid_lap_terminates_the_lap_cancels_its_running_job_and_no_worker_runs_it_again()
    {
        await stack.Stack.UpAsync();
        // A lap whose bootstrap trains long enough to be terminated while it runs.
        var lap = JsonSerializer.SerializeToNode(LapTestSpecs.Small("oracle"), Json.Options)!.AsObject();
        lap["bootstrap"]!["options"]!["steps"] = 20000;
        lap["bootstrap"]!["options"]!["checkpointEvery"] = 50;
        var resp = await stack.Http.PostAsJsonAsync("/api/flywheels", new { laps = 2, lap }, Json.Options);
        Assert.Equal(HttpStatusCode.Accepted, resp.StatusCode);
        string fly = (await resp.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        string lapId = $"lap-{fly[(fly.IndexOf('-') + 1)..]}_1", phase = $"{lapId}-1a", job = $"{lapId}-1a-bootstrap";
        await stack.WaitForJobAsync(job, r => r.Status == GpuJobStatus.Running && r.Progress?.Step >= 2, 180);

        var terminated = await stack.Http.PostAsync($"/api/instances/{fly}/terminate?reason=test", null);
        Assert.Equal(HttpStatusCode.Accepted, terminated.StatusCode);
        Assert.Equal([job], (await terminated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("cancelledJobs").EnumerateArray().Select(j => j.GetString()));

        foreach (string id in new[] { fly, lapId, phase, job })
            await StackFixture.Until(async () => await StatusOf(id) == "Terminated", 60, () => $"{id} was not terminated");
        var record = (await stack.Jobs.GetAsync(job))!;
        Assert.Equal(GpuJobStatus.Cancelled, record.Status);
        Assert.Equal("cancelled", record.Attempts[^1].State);
        int attempts = record.Attempts.Count;

        // The worker stops the job within seconds (between steps) and is idle again.
        await StackFixture.Until(async () => (await WorkersAsync()) is { Count: > 0 } w && w.All(e => e.GetString("State") == "idle"), 30,
            () => "the worker did not stop the cancelled job within 30 s");
        long stepAtCancel = record.Progress?.Step ?? 0;
        Assert.True(stepAtCancel < 20000, "the job was stopped, not run to the end");

        // A worker restarted with the job's message still on the queue (as after a crash mid-cancel) does not run it.
        await stack.KillWorkersAsync();
        await stack.Jobs.EnqueueAsync(job, TimeSpan.Zero, default);
        await stack.Stack.UpAsync();
        var queue = stack.Storage.Queue(StorageNames.GpuJobsQueue);
        await StackFixture.Until(async () => (await queue.PeekMessagesAsync(32)).Value.Length == 0, 60, () => "the re-sent message was never taken");
        var after = (await stack.Jobs.GetAsync(job))!;
        Assert.Equal(GpuJobStatus.Cancelled, after.Status);
        Assert.Equal(attempts, after.Attempts.Count);
        Assert.All(await WorkersAsync(), w => Assert.Equal("idle", w.GetString("State")));

        // Purging the flywheel (here through the CLI) deletes its lap, phase and job orchestrations too.
        var output = new StringWriter();
        Assert.Equal(0, await new MathV2.Cli.Commands(stack.Stack.Layout, output, new StringWriter()).RunAsync(["instances", "purge", fly]));
        var deleted = System.Text.RegularExpressions.Regex.Match(output.ToString(), @"purge: deleted (\d+) instance histories");
        Assert.True(deleted.Success && int.Parse(deleted.Groups[1].Value) >= 4, output.ToString());
        foreach (string id in new[] { fly, lapId, phase, job })
            Assert.Equal(HttpStatusCode.NotFound, (await stack.Http.GetAsync($"/api/instances/{id}")).StatusCode);
    }
}
