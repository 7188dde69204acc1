using System.Text.Json.Serialization;
using MathV2.Core.Jobs;

namespace MathV2.Gpu.Worker.Training;

/// <summary>Linear warm-up, then cosine decay to LearningRate · MinLrRatio.</summary>
public static class LrSchedule
{
    /// <param name="step">0-based optimizer step.</param>
    public static double At(TrainOptions o, int step)
    {
        if (step < o.WarmupSteps) return o.LearningRate * (step + 1) / o.WarmupSteps;
        int decay = o.Steps - o.WarmupSteps;
        if (decay <= 1) return o.LearningRate;
        double progress = Math.Clamp((double)(step - o.WarmupSteps) / (decay - 1), 0, 1);
        double min = o.LearningRate * o.MinLrRatio;
        return min + (o.LearningRate - min) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}

/// <summary>One step's metrics, as heartbeat progress and as a line of metrics.jsonl.</summary>
public sealed record StepMetrics
{
    public required int Step { get; init; }
    public required int Steps { get; init; }
    public required double Loss { get; init; }
    public required double LearningRate { get; init; }
    public double GradNorm { get; init; }
    public double TokensPerSecond { get; init; }
    public double Seconds { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? EvalLoss { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? MeanReward { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? RewardStd { get; init; }
    /// <summary>GRPO: the spread of the step's advantages (0 when no group had different rewards: nothing to learn from).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? AdvantageStd { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? Kl { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? ClipFraction { get; init; }
    /// <summary>GRPO: samples whose reward could not be computed (a reward model's output did not parse), left out.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? MaskedRewards { get; init; }
    /// <summary>The attempt that ran this step (metrics continue across attempts).</summary>
    public int Attempt { get; init; }
    /// <summary>When the step ended: Unix seconds (the curves' wall time).</summary>
    public double Time { get; init; }

    public GpuJobProgress ToProgress() => new()
    {
        Step = Step, Steps = Steps, Loss = Loss, LearningRate = LearningRate, GradNorm = GradNorm, TokensPerSecond = TokensPerSecond,
        Seconds = Seconds, EvalLoss = EvalLoss, MeanReward = MeanReward, RewardStd = RewardStd, Kl = Kl, ClipFraction = ClipFraction,
    };
}
