using MathV2.Core.Laps;

namespace MathV2.Core.Tests;

public sealed class LapPlotsTests
{
    const string Sft = """
        {"step":1,"steps":3,"loss":2.5,"learningRate":0.001,"evalLoss":2.6}
        {"step":2,"steps":3,"loss":2.0,"learningRate":0.001}

        {"step":3,"steps":3,"loss":1.5,"learningRate":0.001,"evalLoss":1.9}
        """;
    const string Grpo = """
        {"step":1,"steps":2,"loss":0.1,"learningRate":0.001,"meanReward":0.25,"kl":0.01}
        {"step":2,"steps":2,"loss":0.05,"learningRate":0.001,"meanReward":0.5,"kl":0.02}
        """;

    [Fact]
    public void A_run_reads_loss_eval_loss_reward_and_kl_by_step()
    {
        var run = LapPlots.TrainingRun.Read("sft", Sft);
        Assert.Equal([1, 2, 3], run.Steps);
        Assert.Equal([2.5, 2.0, 1.5], run.Loss);
        Assert.Equal([(1.0, 2.6), (3.0, 1.9)], run.EvalLoss);
        Assert.Empty(run.Reward);
        var grpo = LapPlots.TrainingRun.Read("grpo", Grpo);
        Assert.Equal([(1.0, 0.25), (2.0, 0.5)], grpo.Reward);
        Assert.Equal([(1.0, 0.01), (2.0, 0.02)], grpo.Kl);
    }

    [Theory]
    [InlineData("{\"step\":1,\"loss\":1}\nnot json", "line 2 is not JSON")]
    [InlineData("{\"step\":1}", "line 1 has no numeric step and loss")]
    [InlineData("[1,2]", "line 1 has no numeric step and loss")]
    public void A_bad_metrics_line_is_an_error_naming_the_run_and_line(string jsonl, string message)
    {
        var e = Assert.Throws<InvalidDataException>(() => LapPlots.TrainingRun.Read("1b-verifier", jsonl));
        Assert.Contains("1b-verifier: metrics.jsonl " + message, e.Message);
    }

    [Fact]
    public void A_phase_plots_every_runs_loss_with_eval_dashed_and_reward_only_for_grpo_runs()
    {
        var sftOnly = LapPlots.Training("1a", [LapPlots.TrainingRun.Read("bootstrap", Sft)]);
        var loss = Assert.Single(sftOnly);
        Assert.Equal("plots/1a-loss.png", loss.File);
        Assert.Equal(["bootstrap", "bootstrap (eval)"], loss.Series.Select(s => s.Name));
        Assert.Equal([false, true], loss.Series.Select(s => s.Dashed));
        Assert.Equal([1.0, 3.0], loss.Series[1].X);

        var both = LapPlots.Training("2", [LapPlots.TrainingRun.Read("a", Sft), LapPlots.TrainingRun.Read("b", Grpo)]);
        Assert.Equal(["plots/2-loss.png", "plots/2-reward.png"], both.Select(p => p.File));
        Assert.Equal(["b reward mean", "b KL"], both[1].Series.Select(s => s.Name));
        Assert.Equal([0.25, 0.5], both[1].Series[0].Y);
        Assert.Empty(LapPlots.Training("3", [LapPlots.TrainingRun.Read("empty", "")]));
    }

    [Fact]
    public void The_flywheel_plot_follows_the_held_out_measures_the_laps_have_in_lap_order()
    {
        Assert.Null(LapPlots.HeldOut([(1, new Dictionary<string, double> { ["verifierV3.accuracy"] = 0.8 })]));
        var plot = LapPlots.HeldOut(
        [
            (3, new Dictionary<string, double> { ["verifierV3.accuracy"] = 0.9, ["generator.oraclePassRate"] = 0.4 }),
            (1, new Dictionary<string, double> { ["verifierV3.accuracy"] = 0.7, ["other"] = 5 }),
            (2, new Dictionary<string, double> { ["verifierV3.accuracy"] = 0.8 }),
        ])!;
        Assert.Equal("Held-out measures, laps 1–3", plot.Title);
        Assert.Equal(["verifierV3.accuracy", "generator.oraclePassRate"], plot.Series.Select(s => s.Name));
        Assert.Equal([1.0, 2.0, 3.0], plot.Series[0].X);
        Assert.Equal([0.7, 0.8, 0.9], plot.Series[0].Y);
        Assert.Equal([3.0], plot.Series[1].X);
        Assert.Null(LapPlots.HeldOut([(1, new Dictionary<string, double>()), (2, new Dictionary<string, double> { ["other"] = 1 })]));
    }

    [Fact]
    public void The_report_links_its_plots_from_markdown()
    {
        var report = new LapReport { LapId = "lap-000000000001", Plots = [new("plots/1a-loss.png", "Phase 1a: training loss")] };
        Assert.Contains("## Plots\n\n![Phase 1a: training loss](plots/1a-loss.png)\n", report.ToMarkdown());
        Assert.DoesNotContain("## Plots", (report with { Plots = [] }).ToMarkdown());
    }
}
