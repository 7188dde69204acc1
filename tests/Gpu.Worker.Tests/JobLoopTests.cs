using System.Text;
using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;
using MathV2.Gpu.Worker.Jobs;
using MathV2.Tests;

namespace MathV2.Gpu.Worker.Tests;

/// <summary>The worker's job loop on a real Azurite: retries, resumable state, outputs and the commit point.</summary>
public sealed class JobLoopTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    /// <summary>Counts to a target, saving its count as resumable state after each step; the first attempt crashes at failAt.</summary>
    sealed class CountingJob(MathV2Storage? tamperWith = null, bool keepHash = true) : IGpuJobHandler
    {
        public string Kind => "count";

        public async Task<JsonElement?> RunAsync(GpuJobContext context, CancellationToken ct)
        {
            var p = context.Spec.Parameters!.Value;
            int target = p.GetProperty("target").GetInt32(), failAt = p.GetProperty("failAt").GetInt32();
            byte[]? saved = await context.LoadResumeStateAsync("counter", ct);
            int start = saved == null ? 0 : int.Parse(Encoding.UTF8.GetString(saved));
            for (int i = start; i < target; i++)
            {
                await context.SaveResumeStateAsync("counter", Encoding.UTF8.GetBytes($"{i + 1}"), ct);
                context.ReportProgress(new GpuJobProgress { Step = i + 1, Steps = target });
                if (context.Attempt == 1 && i + 1 == failAt)
                {
                    // Someone rewrites the saved state behind MathV2's back before the retry reads it.
                    // Either the bytes change and the recorded hash stays (an edit in place), or the blob is replaced whole (no hash).
                    if (tamperWith != null)
                    {
                        var blob = tamperWith.Container(StorageNames.JobsContainer).GetBlobClient($"{context.Spec.JobId}/resume/counter");
                        var metadata = keepHash ? (await blob.GetPropertiesAsync(cancellationToken: ct)).Value.Metadata : new Dictionary<string, string>();
                        await blob.UploadAsync(BinaryData.FromString("4"), new Azure.Storage.Blobs.Models.BlobUploadOptions { Metadata = metadata }, ct);
                    }
                    throw new InvalidOperationException($"simulated crash at step {i + 1}");
                }
            }
            await context.Output.AddTextAsync("result.txt", $"counted to {target}", ct);
            return JsonSerializer.SerializeToElement(new { resumedFrom = start, steps = target - start });
        }
    }

    async Task<GpuJobRecord> RunUntilFinished(GpuJobSpec spec, bool tamper = false, Func<Task>? afterSubmit = null, bool keepHash = true)
    {
        var jobs = new GpuJobClient(azurite.Storage);
        await jobs.SubmitAsync(spec);
        if (afterSubmit != null) await afterSubmit();
        var options = new WorkerOptions { WorkerId = "test-worker", LeaseSeconds = 5, HeartbeatSeconds = 0.2, MaxPollSeconds = 0.2 };
        using var stop = new CancellationTokenSource();
        var loop = new JobLoop(azurite.Storage, [new CountingJob(tamper ? azurite.Storage : null, keepHash)], options, "cpu").RunAsync(stop.Token);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        GpuJobRecord record;
        while ((record = (await jobs.GetAsync(spec.JobId))!).Status is GpuJobStatus.Queued or GpuJobStatus.Running)
        {
            Assert.True(DateTime.UtcNow < deadline, $"job did not finish: {Json.Serialize(record)}");
            await Task.Delay(100);
        }
        await stop.CancelAsync();
        await loop;
        return record;
    }

    static GpuJobSpec Spec(string kind, int maxAttempts, object parameters)
    {
        string id = $"loop-{Guid.NewGuid():N}"[..16];
        return new GpuJobSpec
        {
            JobId = id, Kind = kind, InstanceId = id, Inputs = ["some-input"],
            Parameters = JsonSerializer.SerializeToElement(parameters),
            Limits = new GpuJobLimits { MaxAttempts = maxAttempts },
        };
    }

    [Fact]
    public async Task A_retried_attempt_resumes_from_the_saved_state_and_only_the_finished_attempt_commits_a_result()
    {
        var record = await RunUntilFinished(Spec("count", 3, new { target = 5, failAt = 3 }));

        Assert.Equal(GpuJobStatus.Succeeded, record.Status);
        Assert.Equal(2, record.Attempt);
        Assert.Equal(["failed", "succeeded"], record.Attempts.Select(a => a.State));
        Assert.Contains("simulated crash at step 3", record.Attempts[0].Error);
        Assert.Equal(3, record.Summary!.Value.GetProperty("resumedFrom").GetInt32());
        Assert.Equal(2, record.Summary!.Value.GetProperty("steps").GetInt32());

        var artifacts = new ArtifactStore(azurite.Storage);
        Assert.False(await artifacts.HasManifestAsync(StorageNames.JobsContainer, $"{record.JobId}/attempt-1"));
        var manifest = (await artifacts.GetAsync(record.ResultArtifactId!))!;
        Assert.Equal($"{record.JobId}/attempt-2", manifest.Prefix);
        Assert.Equal(["some-input"], manifest.Parents);
        Assert.Equal(2, manifest.Producer.Attempt);
        Assert.Equal("counted to 5", Encoding.UTF8.GetString(await artifacts.ReadFileAsync(manifest, "result.txt")));

        var events = (await azurite.Storage.Queue(StorageNames.JobEventsQueue).PeekMessagesAsync(32)).Value
            .Select(m => Json.Deserialize<GpuJobEvent>(m.Body.ToString())).Where(e => e.Outcome.JobId == record.JobId).ToList();
        Assert.Equal(GpuJobStatus.Succeeded, Assert.Single(events).Outcome.Status);
    }

    [Fact]
    public async Task An_unknown_job_kind_fails_the_job_with_a_clear_error()
    {
        var record = await RunUntilFinished(Spec("no-such-kind", 1, new { }));
        Assert.Equal(GpuJobStatus.Failed, record.Status);
        Assert.Contains("unknown job kind 'no-such-kind'", record.Error);
    }

    [Fact]
    public async Task A_resume_state_changed_behind_the_workers_back_fails_the_job_as_bad_input_and_is_never_resumed_from()
    {
        var record = await RunUntilFinished(Spec("count", 3, new { target = 5, failAt = 3 }), tamper: true);
        Assert.Equal(GpuJobStatus.Failed, record.Status);
        Assert.Equal(["failed", "failed"], record.Attempts.Select(a => a.State));   // attempt 3 is never tried
        Assert.Contains($"job {record.JobId} resume state counter: sha256 mismatch", record.Error);
        Assert.Contains("bad input, not retried", record.Error);
        Assert.Null(record.ResultArtifactId);

        // A state replaced whole, without its hash (or saved before states carried one), is not resumed from: the job starts over.
        var replaced = await RunUntilFinished(Spec("count", 3, new { target = 5, failAt = 3 }), tamper: true, keepHash: false);
        Assert.Equal(GpuJobStatus.Succeeded, replaced.Status);
        Assert.Equal(0, replaced.Summary!.Value.GetProperty("resumedFrom").GetInt32());
        Assert.Equal(5, replaced.Summary!.Value.GetProperty("steps").GetInt32());
    }

    [Fact]
    public async Task A_job_spec_changed_after_submission_fails_the_job_as_bad_input_without_running_it()
    {
        var spec = Spec("count", 3, new { target = 5, failAt = 0 });
        var record = await RunUntilFinished(spec, afterSubmit: () =>
            azurite.Storage.Container(StorageNames.JobsContainer).GetBlobClient($"{spec.JobId}/spec.json")
                .UploadAsync(BinaryData.FromString(Json.Serialize(spec with { Parameters = JsonSerializer.SerializeToElement(new { target = 500, failAt = 0 }) })), overwrite: true));
        Assert.Equal(GpuJobStatus.Failed, record.Status);
        Assert.Contains($"job {spec.JobId} file spec.json: sha256 mismatch", record.Error);
        Assert.Contains("bad input, not retried", record.Error);
        Assert.Single(record.Attempts);
        Assert.Null(await new GpuJobClient(azurite.Storage).GetAsync(spec.JobId) is { Progress: not null } r ? r : null);   // it never ran a step
    }
}
