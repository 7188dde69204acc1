namespace MathV2.Core.Jobs;

/// <summary>
/// A running GPU job's latest progress, sent with its heartbeat and kept on its record: training steps (with loss,
/// learning rate, rewards), samples done, refinement iterations, or a probe's matmul repeats. Only what the job's
/// kind reports is set.
/// </summary>
public sealed record GpuJobProgress
{
    // Training (sft, grpo) and probes.
    public int? Step { get; init; }
    public int? Steps { get; init; }
    public double? Loss { get; init; }
    public double? LearningRate { get; init; }
    public double? GradNorm { get; init; }
    public double? EvalLoss { get; init; }
    public double? MeanReward { get; init; }
    public double? RewardStd { get; init; }
    public double? Kl { get; init; }
    public double? ClipFraction { get; init; }
    public double? Seconds { get; init; }
    public double? Gflops { get; init; }
    // Sampling.
    public int? Done { get; init; }
    public int? Total { get; init; }
    // Refinement.
    public int? Iteration { get; init; }
    public int? StillRefining { get; init; }
    public int? Trajectories { get; init; }
    public double? TokensPerSecond { get; init; }

    /// <summary>In a few words: "step 40/100", "96/128 samples", "iteration 3, 12 still refining"; null when nothing is known yet.</summary>
    public string? Describe() =>
        Step is { } step && Steps is { } steps ? $"step {step}/{steps}"
        : Done is { } done && Total is { } total ? $"{done}/{total} samples"
        : Iteration is { } it ? $"iteration {it}, {StillRefining} still refining"
        : Step is { } s ? $"step {s}"
        : null;
}
