using MathV2.Core.Jobs;

namespace MathV2.Cli.Tests;

/// <summary>The checks `mathv2 chaos` makes of each lap, on records and file lists made to break them.</summary>
public sealed class ChaosCheckTests
{
    static readonly DateTimeOffset T = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);

    static GpuJobAttempt Attempt(int n, string state) => new() { Number = n, WorkerId = $"w{n}", StartedAt = T.AddSeconds(n), State = state };

    static GpuJobRecord Job(int attempt, params GpuJobAttempt[] attempts) => new()
    {
        JobId = "lap-1-2-generator", Kind = GpuJobKinds.Grpo, Status = GpuJobStatus.Succeeded, InstanceId = "lap-1-2-generator",
        Attempt = attempt, Attempts = attempts, ResultArtifactId = $"lap-1-2-generator.attempt-{attempt}",
    };

    [Fact]
    public void A_job_that_succeeded_once_after_lost_attempts_is_sound()
    {
        Assert.Empty(ChaosRun.JobProblems("lap-1-2-generator", Job(1, Attempt(1, "succeeded"))));
        Assert.Empty(ChaosRun.JobProblems("lap-1-2-generator", Job(3, Attempt(1, "lost"), Attempt(2, "abandoned"), Attempt(3, "succeeded"))));
    }

    [Fact]
    public void A_job_finished_twice_lost_or_left_running_is_a_problem()
    {
        Assert.Contains("lap-1-2-generator: no record", Assert.Single(ChaosRun.JobProblems("lap-1-2-generator", null)));
        var twice = ChaosRun.JobProblems("lap-1-2-generator", Job(2, Attempt(1, "succeeded"), Attempt(2, "succeeded"))).ToList();
        Assert.Contains("job lap-1-2-generator: 2 succeeded attempts", twice);
        var running = ChaosRun.JobProblems("lap-1-2-generator", Job(2, Attempt(1, "running"), Attempt(2, "succeeded"))).ToList();
        Assert.Contains("job lap-1-2-generator: an attempt is still recorded running", running);
        var queued = ChaosRun.JobProblems("lap-1-2-generator", Job(1, Attempt(1, "lost")) with { Status = GpuJobStatus.Queued, ResultArtifactId = null }).ToList();
        Assert.Contains("job lap-1-2-generator: queued", queued);
        Assert.Contains("job lap-1-2-generator: 0 succeeded attempts", queued);
        // The result must be the succeeding attempt's, and that attempt the last one recorded.
        var other = ChaosRun.JobProblems("lap-1-2-generator", Job(2, Attempt(1, "lost"), Attempt(2, "succeeded")) with { ResultArtifactId = "lap-1-2-generator.attempt-1" }).ToList();
        Assert.Equal(["job lap-1-2-generator: result lap-1-2-generator.attempt-1 is not attempt 2's"], other);
        var after = ChaosRun.JobProblems("lap-1-2-generator", Job(1, Attempt(1, "succeeded"), Attempt(2, "requeued"))).ToList();
        Assert.Equal(["job lap-1-2-generator: its last recorded attempt is not attempt 1 succeeding"], after);
    }

    [Fact]
    public void Files_missing_changed_or_extra_against_the_undisturbed_lap_are_named()
    {
        var reference = new Dictionary<string, string> { ["job -1a-bootstrap model.safetensors"] = "aa", ["phase 2 generator config.json"] = "bb" };
        Assert.Empty(ChaosRun.FileProblems(reference, new Dictionary<string, string>(reference)));
        var files = new Dictionary<string, string> { ["job -1a-bootstrap model.safetensors"] = "ab", ["job -4-consensus-0 x.jsonl"] = "cc" };
        Assert.Equal([
            "job -1a-bootstrap model.safetensors: sha256 differs from the undisturbed lap's",
            "phase 2 generator config.json: missing",
            "job -4-consensus-0 x.jsonl: not in the undisturbed lap",
        ], ChaosRun.FileProblems(reference, files));
    }

    [Fact]
    public void Wall_clock_files_are_left_out_of_the_comparison_and_nothing_else()
    {
        Assert.True(ChaosRun.IsTimed("metrics.jsonl"));
        Assert.True(ChaosRun.IsTimed("tensorboard/events.out.tfevents.1.mathv2"));
        Assert.False(ChaosRun.IsTimed("summary.json"));
        Assert.False(ChaosRun.IsTimed("model.safetensors"));
        Assert.False(ChaosRun.IsTimed("completions.jsonl"));
    }

    [Fact]
    public void Faults_come_in_rounds_of_every_kind_asked_for_and_one_seed_draws_one_sequence()
    {
        var all = ChaosFaults.Draw(new Random(7)).Take(4 * ChaosFaults.All.Length).ToList();
        foreach (var round in all.Chunk(ChaosFaults.All.Length)) Assert.Equal(ChaosFaults.All.Order(), round.Order());
        Assert.NotEqual(all.Take(6), all.Skip(6).Take(6));   // each round in its own order
        Assert.Equal(all, ChaosFaults.Draw(new Random(7)).Take(all.Count));
        Assert.NotEqual(all, ChaosFaults.Draw(new Random(8)).Take(all.Count));
        string[] only = [ChaosFaults.Host, ChaosFaults.WorkersOut];
        var some = ChaosFaults.Draw(new Random(7), only).Take(10).ToList();
        foreach (var round in some.Chunk(2)) Assert.Equal(only.Order(), round.Order());
    }
}

public sealed class ChaosCommandLineTests
{
    static async Task<(int Rc, string Err)> Run(params string[] args)
    {
        var layout = StackLayout.ForRepository(Path.Combine(Path.GetTempPath(), "mathv2-no-stack-" + Guid.NewGuid().ToString("N")[..8]));
        var e = new StringWriter();
        try { return (await new Commands(layout, new StringWriter(), e, new StringReader("")).RunAsync(args), e.ToString()); }
        catch (CliException x) { return (1, e + x.Message); }
    }

    [Fact]
    public async Task Bad_chaos_options_are_refused_before_any_stack_starts_naming_the_option()
    {
        var (rc, err) = await Run("chaos", "--faults", "kill-host,kill-wroker");
        Assert.Equal(1, rc);
        Assert.Contains("--faults: no fault 'kill-wroker'", err);
        (rc, err) = await Run("chaos", "--min-gap", "20", "--max-gap", "10");
        Assert.Contains("--min-gap must not be greater than --max-gap", err);
        (rc, err) = await Run("chaos", "--laps", "0");
        Assert.Equal(Commands.UsageError, rc);
        Assert.Contains("--laps must be a whole number between 1 and 1000", err);
        string bad = Path.GetTempFileName();
        File.WriteAllText(bad, "{ not json");
        (rc, err) = await Run("chaos", "--spec", bad);
        Assert.Contains($"{bad}: not JSON", err);
        File.Delete(bad);
    }
}
