using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;

namespace MathV2.Host.Tests;

/// <summary>The GPU job protocol end to end: real host, worker and Azurite processes, killed where the issue says.</summary>
[Collection("stack")]
[Trait("Category", "EndToEnd")]
public sealed class ProtocolTests(StackFixture stack)
{
    [Fact]
    public async Task A_probe_of_several_jobs_completes_and_its_artifacts_carry_correct_sha256()
    {
        await stack.Stack.UpAsync();
        string id = await stack.StartProbeAsync(new { size = 64, repeats = 2, jobs = 3 });
        var st = await stack.WaitForStatusAsync(id, "Completed");
        var jobs = st.GetProperty("output").GetProperty("jobs").EnumerateArray().ToList();
        Assert.Equal(3, jobs.Count);
        foreach (var job in jobs)
        {
            Assert.Equal("succeeded", job.GetProperty("status").GetString());
            string artifactId = job.GetProperty("resultArtifactId").GetString()!;
            var manifest = await stack.Http.GetFromJsonAsync<JsonElement>($"/api/artifacts/{artifactId}");
            Assert.Equal(job.GetProperty("jobId").GetString(), manifest.GetProperty("producer").GetProperty("job").GetString());
            var file = manifest.GetProperty("files").EnumerateArray().Single(f => f.GetProperty("path").GetString() == "probe.json");
            var blob = await stack.Storage.Container(StorageNames.JobsContainer)
                .GetBlobClient($"{manifest.GetProperty("prefix").GetString()}/probe.json").DownloadContentAsync();
            byte[] bytes = blob.Value.Content.ToArray();
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), file.GetProperty("sha256").GetString());
            Assert.Equal(bytes.Length, file.GetProperty("size").GetInt64());
            var probe = JsonDocument.Parse(bytes).RootElement;
            Assert.Equal("cpu", probe.GetProperty("device").GetString());
            Assert.True(probe.GetProperty("gflops").GetDouble() > 0);
            var lineage = await stack.Http.GetAsync($"/api/artifacts/{artifactId}/lineage");
            Assert.Equal(HttpStatusCode.OK, lineage.StatusCode);
        }
    }

    [Fact]
    public async Task Killing_the_host_mid_job_loses_nothing_and_the_job_runs_once()
    {
        await stack.Stack.UpAsync();
        string id = await stack.StartProbeAsync(new { size = 64, repeats = 1, jobs = 1, minSeconds = 5, limits = new { pollSeconds = 2 } });
        string jobId = $"{id}-probe-0";
        await stack.WaitForJobAsync(jobId, r => r.Status == GpuJobStatus.Running);
        await stack.KillAsync(stack.Stack.Pids.Host!.Value, "MathV2.Host.dll");
        await stack.Stack.UpAsync();

        await stack.WaitForStatusAsync(id, "Completed");
        var job = (await stack.Jobs.GetAsync(jobId))!;
        Assert.Equal(1, job.Attempt);
        Assert.Equal("succeeded", Assert.Single(job.Attempts).State);
    }

    [Fact]
    public async Task Killing_the_worker_mid_job_runs_a_second_attempt_and_leaves_no_partial_result()
    {
        await stack.Stack.UpAsync();
        string id = await stack.StartProbeAsync(new { size = 64, repeats = 1, jobs = 1, minSeconds = 4, limits = new { pollSeconds = 1, heartbeatStaleSeconds = 3 } });
        string jobId = $"{id}-probe-0";
        await stack.WaitForJobAsync(jobId, r => r.Status == GpuJobStatus.Running && r.Progress != null);
        await stack.KillWorkersAsync();
        await stack.Stack.UpAsync();

        var st = await stack.WaitForStatusAsync(id, "Completed");
        var job = (await stack.Jobs.GetAsync(jobId))!;
        Assert.Equal(2, job.Attempt);
        Assert.Equal(["lost", "succeeded"], job.Attempts.Select(a => a.State));
        Assert.Equal($"{jobId}.attempt-2", job.ResultArtifactId);
        Assert.Equal(job.ResultArtifactId, st.GetProperty("output").GetProperty("jobs")[0].GetProperty("resultArtifactId").GetString());
        Assert.False(await stack.Artifacts.HasManifestAsync(StorageNames.JobsContainer, $"{jobId}/attempt-1"));
        Assert.Equal(HttpStatusCode.NotFound, (await stack.Http.GetAsync($"/api/artifacts/{jobId}.attempt-1")).StatusCode);
    }

    [Fact]
    public async Task With_workers_down_past_the_limits_the_probe_fails_clearly_and_a_rewind_finishes_it_without_rerunning_finished_jobs()
    {
        await stack.Stack.UpAsync();
        string id = await stack.StartProbeAsync(new
        {
            size = 64, repeats = 1, jobs = 2, minSeconds = 2,
            limits = new { pollSeconds = 1, heartbeatStaleSeconds = 3, claimTimeoutSeconds = 4 },
        });
        string[] jobIds = [$"{id}-probe-0", $"{id}-probe-1"];
        GpuJobRecord[] records = [];
        await StackFixture.Until(async () =>
        {
            records = await Task.WhenAll(jobIds.Select(async j => (await stack.Jobs.GetAsync(j))!));
            return records.Any(r => r?.Status == GpuJobStatus.Succeeded) && records.Any(r => r?.Status == GpuJobStatus.Running);
        }, 60, () => "never saw one job done and the other running");
        var finished = records.Single(r => r.Status == GpuJobStatus.Succeeded);
        string unfinished = records.Single(r => r.Status == GpuJobStatus.Running).JobId;
        await stack.KillWorkersAsync();

        var failed = await stack.WaitForStatusAsync(id, "Failed");
        string message = failed.GetProperty("failureDetails").GetProperty("errorMessage").GetString()!;
        Assert.Contains("no worker claimed", message);
        Assert.Contains(unfinished, message);

        await stack.Stack.UpAsync();
        var rewind = await stack.Http.PostAsync($"/api/instances/{id}/rewind?reason=workers+back", null);
        Assert.Equal(HttpStatusCode.Accepted, rewind.StatusCode);
        var done = await stack.WaitForStatusAsync(id, "Completed");

        Assert.Equal(2, done.GetProperty("output").GetProperty("jobs").GetArrayLength());
        var again = (await stack.Jobs.GetAsync(finished.JobId))!;
        Assert.Equal(1, again.Attempt);
        Assert.Equal(finished.FinishedAt, again.FinishedAt);
        var redone = (await stack.Jobs.GetAsync(unfinished))!;
        Assert.Equal(GpuJobStatus.Succeeded, redone.Status);
        Assert.Equal(2, redone.Attempt);
    }

    [Fact]
    public async Task A_job_event_delivered_twice_completes_the_wait_once()
    {
        await stack.Stack.UpAsync();
        string id = await stack.StartProbeAsync(new { size = 32, repeats = 1, jobs = 1 });
        var st = await stack.WaitForStatusAsync(id, "Completed");
        string jobId = $"{id}-probe-0";
        var sub = await stack.InstanceAsync(jobId);
        var record = (await stack.Jobs.GetAsync(jobId))!;
        var duplicate = Json.Serialize(new GpuJobEvent { InstanceId = jobId, Outcome = GpuJobClient.OutcomeOf(record) with { Attempt = 99 } });
        var queue = stack.Storage.Queue(StorageNames.JobEventsQueue);
        await queue.SendMessageAsync(duplicate);
        await queue.SendMessageAsync(duplicate);
        await StackFixture.Until(async () => (await queue.GetPropertiesAsync()).Value.ApproximateMessagesCount == 0, 30, () => "pump never drained job-events");

        var after = await stack.InstanceAsync(jobId);
        Assert.Equal("Completed", after.GetProperty("runtimeStatus").GetString());
        var history = await stack.Http.GetFromJsonAsync<JsonElement>($"/api/instances/{jobId}?showHistory=true");
        var raised = history.GetProperty("historyEvents").EnumerateArray().Where(e => e.GetProperty("eventType").GetString() == "EventRaised").ToList();
        Assert.Equal(GpuJobEvent.EventName, Assert.Single(raised).GetProperty("name").GetString());
        Assert.Equal(1, after.GetProperty("output").GetProperty("attempt").GetInt32());
        Assert.Equal(sub.GetProperty("lastUpdatedTime").GetString(), after.GetProperty("lastUpdatedTime").GetString());
        Assert.Equal(st.GetProperty("output").GetRawText(), (await stack.InstanceAsync(id)).GetProperty("output").GetRawText());
    }

    [Fact]
    public async Task Malformed_queue_messages_are_set_aside_in_poison_queues_and_the_work_goes_on()
    {
        await stack.Stack.UpAsync();
        string tag = Guid.NewGuid().ToString("N")[..8];
        string[] badJobs = [$"not json {tag}", $"{{\"jobId\": \"../{tag}\"}}"], badEvents = [$"{{\"instanceId\": 42, \"tag\": \"{tag}\"}}", $"<xml>{tag}</xml>"];
        foreach (string b in badJobs) await stack.Storage.Queue(StorageNames.GpuJobsQueue).SendMessageAsync(b);
        foreach (string b in badEvents) await stack.Storage.Queue(StorageNames.JobEventsQueue).SendMessageAsync(b);
        // Written raw (not base64, as a tool might): every receive of such a queue would throw without the set-aside.
        string raw = $"raw {tag} !! not base64";
        foreach (string q in new[] { StorageNames.GpuJobsQueue, StorageNames.JobEventsQueue })
            await new Azure.Storage.Queues.QueueClient(stack.Stack.Layout.StorageConnectionString, q).SendMessageAsync(raw);
        badJobs = [.. badJobs, raw];
        badEvents = [.. badEvents, raw, $"{{\"instanceId\": null, \"outcome\": null, \"tag\": \"{tag}\"}}"];
        await stack.Storage.Queue(StorageNames.JobEventsQueue).SendMessageAsync(badEvents[^1]);
        // The worker and the pump read past them: a probe's job runs and its event arrives.
        string id = await stack.StartProbeAsync(new { size = 32, repeats = 1, jobs = 1 });
        await stack.WaitForStatusAsync(id, "Completed");
        async Task<List<string>> Poisoned(string queue)
        {
            var peeked = (await stack.Storage.Queue(StorageNames.Poison(queue)).PeekMessagesAsync(32)).Value;
            return peeked.Select(m => m.Body.ToString()).Where(b => b.Contains(tag)).ToList();
        }
        await StackFixture.Until(async () => (await Poisoned(StorageNames.GpuJobsQueue)).Count == badJobs.Length && (await Poisoned(StorageNames.JobEventsQueue)).Count == badEvents.Length, 30,
            () => "the malformed messages were not set aside");
        Assert.Equal(badJobs.Order(), (await Poisoned(StorageNames.GpuJobsQueue)).Order());
        Assert.Equal(badEvents.Order(), (await Poisoned(StorageNames.JobEventsQueue)).Order());
        string workerLog = string.Concat(Directory.GetFiles(stack.Stack.Layout.LogDir, "worker*").Select(File.ReadAllText));
        Assert.Contains($"set aside in {StorageNames.Poison(StorageNames.GpuJobsQueue)}", workerLog);
    }
}
