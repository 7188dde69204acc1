using System.Text;
using MathV2.Activities;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using MathV2.Core.Storage;
using MathV2.Tests;

namespace MathV2.Orchestrations.Tests;

/// <summary>WriteLapReport on Azurite: the plots it draws from the jobs' metrics, and what it leaves out.</summary>
public sealed class LapReportActivityTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    async Task<string> ResultAsync(ArtifactStore store, string jobId, string metrics)
    {
        string id = $"{jobId}.attempt-1";
        var w = store.Create(id, "job-result", StorageNames.JobsContainer, $"{jobId}/attempt-1", new ArtifactProducer { Job = jobId, Attempt = 1 });
        await w.AddTextAsync(LapFiles.Metrics, metrics);
        await w.CommitAsync();
        return id;
    }

    static GpuJobOutcome Job(string id, string result) => new() { JobId = id, Status = GpuJobStatus.Succeeded, ResultArtifactId = result };

    [Fact]
    public async Task The_report_plots_each_phases_runs_and_leaves_out_a_run_whose_metrics_cannot_be_read()
    {
        var store = new ArtifactStore(azurite.Storage);
        string lap = $"lap-{Guid.NewGuid():N}"[..16];
        string good = await ResultAsync(store, $"{lap}-1b-verifier-v1",
            "{\"step\":1,\"loss\":0.5,\"meanReward\":0.25}\n{\"step\":2,\"loss\":0.4,\"meanReward\":0.5}\n");
        string bad = await ResultAsync(store, $"{lap}-2-generator", "{\"step\":1,\"loss\":0.5}\nnot json\n");
        var t = new DateTime(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc);
        var phases = new List<PhaseResult>
        {
            new() { Phase = "1b", Started = t, Finished = t.AddMinutes(1), Jobs = [Job($"{lap}-1b-verifier-v1", good)] },
            new() { Phase = "2", Started = t.AddMinutes(1), Finished = t.AddMinutes(2), Jobs = [Job($"{lap}-2-generator", bad)] },
        };
        string id = await new WriteLapReport(store).ExecuteAsync(new LapReportInput { LapId = lap, Phases = phases, Started = t, Finished = t.AddMinutes(2) });

        var m = (await store.GetAsync(id))!;
        var report = Json.Deserialize<LapReport>(Encoding.UTF8.GetString(await store.ReadFileAsync(m, LapFiles.ReportJson)));
        Assert.Equal(["plots/1b-loss.png", "plots/1b-reward.png"], report.Plots.Select(p => p.File));
        Assert.Contains(m.Files, f => f.Path == "plots/1b-reward.png" && f.Size > 1000);
        Assert.DoesNotContain(m.Files, f => f.Path.StartsWith("plots/2-"));
        string why = Assert.Single(report.PlotErrors!);
        Assert.Contains($"{lap}-2-generator", why);
        Assert.Contains("metrics.jsonl line 2 is not JSON", why);
        string md = Encoding.UTF8.GetString(await store.ReadFileAsync(m, LapFiles.ReportMarkdown));
        Assert.Contains("![Phase 1b: GRPO reward](plots/1b-reward.png)", md);
        Assert.Contains("Plots left out:", md);
    }
}
