namespace MathV2.Core.Jobs;

/// <summary>Optimiser and schedule settings shared by the SFT and GRPO trainers (AdamW, warm-up + cosine).</summary>
public record TrainOptions
{
    /// <summary>Optimizer steps in all.</summary>
    public int Steps { get; init; } = 100;
    public double LearningRate { get; init; } = 1e-3;
    public int WarmupSteps { get; init; } = 10;
    /// <summary>The cosine decays from LearningRate to LearningRate · MinLrRatio at the last step.</summary>
    public double MinLrRatio { get; init; } = 0.1;
    public double WeightDecay { get; init; } = 0.01;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double Epsilon { get; init; } = 1e-8;
    /// <summary>Global gradient-norm clip; 0 turns clipping off.</summary>
    public double GradClip { get; init; } = 1.0;
    /// <summary>Micro-batches whose gradients are summed before one optimizer step.</summary>
    public int GradAccum { get; init; } = 1;
    /// <summary>Sequences per micro-batch.</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>
    /// sft: a micro-batch's sequences run end to end in one row, each attending only within itself at its own
    /// positions: the same loss without computing padding.
    /// </summary>
    public bool Pack { get; init; } = true;
    /// <summary>
    /// Activation (gradient) checkpointing: the backward pass recomputes each layer from its input instead of keeping
    /// every layer's activations: memory of one layer's activations (plus every layer's input) for a second forward
    /// pass of the layers, about a third more compute.
    /// </summary>
    public bool GradientCheckpointing { get; init; }
    /// <summary>
    /// AdamW's two moments: "auto" in the weights' dtype (fp32, or bf16 with bf16 weights), "fp32" always (bf16
    /// weights, fp32 moments), "8bit" quantized in blocks of 64 to log-spaced codes below each block's largest (m to
    /// the nearest of ±127 over 24 octaves, v rounded up to one of 255 over 48 octaves so no step is larger than
    /// fp32's would be; tensors under 4096 elements stay fp32): about a quarter of fp32's memory.
    /// </summary>
    public string Moments { get; init; } = "auto";
    public static readonly IReadOnlyList<string> MomentKinds = ["auto", "fp32", "8bit"];
    /// <summary>Longer sequences are cut (prompt kept first).</summary>
    public int MaxSeqLen { get; init; } = 512;
    /// <summary>A resumable checkpoint every K steps (and at the end).</summary>
    public int CheckpointEvery { get; init; } = 25;
    public int EvalEvery { get; init; } = 25;
    public long Seed { get; init; } = 0;
    /// <summary>bf16 weights and activations; used on CUDA only (CPU always trains in fp32).</summary>
    public bool Bf16 { get; init; }
    /// <summary>sft: the first CurriculumSteps steps draw only examples of CurriculumKinds (then all of them).</summary>
    public int CurriculumSteps { get; init; }
    /// <summary>sft: the demonstration kinds of the curriculum's first steps (e.g. "arithmetic").</summary>
    public IReadOnlyList<string> CurriculumKinds { get; init; } = [];

    public virtual IEnumerable<(string Field, string Message)> Validate()
    {
        if (Steps is < 1 or > 10_000_000) yield return ("steps", "must be between 1 and 10000000");
        if (LearningRate is <= 0 or > 1) yield return ("learningRate", "must be in (0, 1]");
        if (WarmupSteps < 0) yield return ("warmupSteps", "must be >= 0");
        if (MinLrRatio is < 0 or > 1) yield return ("minLrRatio", "must be in [0, 1]");
        if (WeightDecay < 0) yield return ("weightDecay", "must be >= 0");
        if (Beta1 is < 0 or >= 1) yield return ("beta1", "must be in [0, 1)");
        if (Beta2 is < 0 or >= 1) yield return ("beta2", "must be in [0, 1)");
        if (Epsilon is <= 0 or > 1) yield return ("epsilon", "must be in (0, 1]");
        if (GradClip < 0) yield return ("gradClip", "must be >= 0");
        if (GradAccum is < 1 or > 4096) yield return ("gradAccum", "must be between 1 and 4096");
        if (BatchSize is < 1 or > 65536) yield return ("batchSize", "must be between 1 and 65536");
        if (MaxSeqLen is < 2 or > 1 << 20) yield return ("maxSeqLen", "must be between 2 and 1048576");
        if (!MomentKinds.Contains(Moments)) yield return ("moments", $"must be one of {string.Join(", ", MomentKinds)}");
        if (CheckpointEvery < 1) yield return ("checkpointEvery", "must be at least 1");
        if (EvalEvery < 1) yield return ("evalEvery", "must be at least 1");
        if (CurriculumSteps < 0 || (Steps >= 1 && CurriculumSteps >= Steps)) yield return ("curriculumSteps", "must be in [0, steps)");
        if (CurriculumSteps > 0 && CurriculumKinds.Count == 0) yield return ("curriculumKinds", "must name at least one kind when curriculumSteps > 0");
    }

    public void ThrowIfInvalid(string what)
    {
        var errors = Validate().ToList();
        if (errors.Count > 0) throw new ArgumentException($"{what}: " + string.Join("; ", errors.Select(e => $"{e.Field} {e.Message}")));
    }
}

/// <summary>GRPO settings (docs/method.md: G = 8, clip 0.2, KL β = 0.01 with the k3 estimator by default).</summary>
public sealed record GrpoOptions : TrainOptions
{
    public GrpoOptions() { LearningRate = 1e-5; WarmupSteps = 0; MinLrRatio = 1; WeightDecay = 0; BatchSize = 16; }

    /// <summary>G: completions sampled per prompt.</summary>
    public int GroupSize { get; init; } = 8;
    /// <summary>Prompts per step (each step samples PromptsPerStep · G completions).</summary>
    public int PromptsPerStep { get; init; } = 4;
    /// <summary>ε of the clipped ratio.</summary>
    public double Clip { get; init; } = 0.2;
    /// <summary>β of the k3 KL penalty to the frozen reference.</summary>
    public double KlCoef { get; init; } = 0.01;
    /// <summary>Passes over each step's samples (μ); later passes see ratios away from 1.</summary>
    public int UpdatesPerStep { get; init; } = 1;
    public int MaxNewTokens { get; init; } = 64;
    public double Temperature { get; init; } = 1.0;
    public double TopP { get; init; } = 1.0;
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    public override IEnumerable<(string Field, string Message)> Validate()
    {
        foreach (var e in base.Validate()) yield return e;
        if (GroupSize is < 2 or > 4096) yield return ("groupSize", "must be between 2 and 4096 (advantages are relative to the group)");
        if (PromptsPerStep is < 1 or > 65536) yield return ("promptsPerStep", "must be between 1 and 65536");
        if (Clip <= 0) yield return ("clip", "must be positive");
        if (KlCoef < 0) yield return ("klCoef", "must be >= 0");
        if (UpdatesPerStep < 1) yield return ("updatesPerStep", "must be at least 1");
        if (MaxNewTokens is < 1 or > 1 << 20) yield return ("maxNewTokens", "must be between 1 and 1048576");
        if (Temperature is <= 0 or > 10) yield return ("temperature", "must be in (0, 10] (GRPO samples)");
        if (TopP is <= 0 or > 1) yield return ("topP", "must be in (0, 1]");
    }
}
