using MathV2.Core.Models;

namespace MathV2.Core.Jobs;

/// <summary>The parameters of one kind of GPU job: what the orchestrations write and the worker reads.</summary>
public interface IGpuJobParameters
{
    /// <summary>The job kind (<see cref="GpuJobKinds"/>) these parameters are for.</summary>
    static abstract string Kind { get; }
}

/// <summary>A file inside an artifact that the job lists among its inputs.</summary>
public sealed record ArtifactFileRef
{
    public static ArtifactFileRef Of(string artifact, string file) => new() { Artifact = artifact, File = file };

    public string Artifact { get; init; } = "";
    public string File { get; init; } = "";
}

/// <summary>
/// A model built from scratch: a HF config.json object (vocab_size comes from the tokenizer) and the tokenizer:
/// "char" (printable ASCII) or "words" (words and numbers of the training set as tokens, characters as fallback).
/// </summary>
public sealed record ModelInit
{
    public LlamaConfig? Config { get; init; }
    public string Tokenizer { get; init; } = "char";
    public long Seed { get; init; }
}

public sealed record SftJobParameters : IGpuJobParameters
{
    public static string Kind => GpuJobKinds.Sft;

    /// <summary>Checkpoint artifact to start from; or Init to start from scratch (the bootstrap).</summary>
    public string? Base { get; init; }
    public ModelInit? Init { get; init; }
    /// <summary>Demonstrations JSONL ({kind, prompt, completion}).</summary>
    public ArtifactFileRef? Dataset { get; init; }
    /// <summary>Held-out demonstrations; without it, EvalShare of the prompts (by hash) are held out.</summary>
    public ArtifactFileRef? Eval { get; init; }
    public double EvalShare { get; init; } = 0.1;
    public TrainOptions Options { get; init; } = new();
}

public sealed record GrpoJobParameters : IGpuJobParameters
{
    public static string Kind => GpuJobKinds.Grpo;

    public string? Policy { get; init; }
    /// <summary>The frozen KL reference; the policy's starting checkpoint when left out.</summary>
    public string? Reference { get; init; }
    public RewardSpec Reward { get; init; } = new();
    public ArtifactFileRef? Dataset { get; init; }
    public GrpoOptions Options { get; init; } = new();
}

public sealed record SampleJobParameters : IGpuJobParameters
{
    public static string Kind => GpuJobKinds.Sample;

    public string? Model { get; init; }
    /// <summary>Prompts JSONL ({"id"?, "prompt", …}).</summary>
    public ArtifactFileRef? Prompts { get; init; }
    /// <summary>Completions per prompt.</summary>
    public int N { get; init; } = 1;
    public int BatchSize { get; init; } = 16;
    public int MaxNewTokens { get; init; } = 256;
    public double Temperature { get; init; } = 1.0;
    public double TopP { get; init; } = 1.0;
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    public long Seed { get; init; }
    /// <summary>Only the first MaxPrompts rows (all when null).</summary>
    public int? MaxPrompts { get; init; }
    /// <summary>Shard of the rows this job samples: rows whose position % Count == Index (sampling split across jobs).</summary>
    public SampleShard? Shard { get; init; }
    /// <summary>
    /// Each sample's random stream is keyed by (seed, prompt id, sample index) instead of its place in the job, so a
    /// sample is the same whichever job, shard or batch draws it; a prompt row may then list the sample indices to
    /// draw ("samples": [2, 3]) in place of 0..n-1 (drawing a budget in waves gives the samples of drawing it at once).
    /// </summary>
    public bool StreamsByPrompt { get; init; }
}

public sealed record SampleShard(int Index, int Count);

/// <summary>The refine job: draft, self-critique and revise per problem (phase 3's inference-time refinement).</summary>
public sealed record RefineJobParameters : IGpuJobParameters
{
    public static string Kind => GpuJobKinds.Refine;

    public string? Model { get; init; }
    /// <summary>Problems JSONL (D_p rows: id, problem).</summary>
    public ArtifactFileRef? Problems { get; init; }
    /// <summary>Drafts per problem at most: the loop stops at a self-score of 1 or after this many.</summary>
    public int MaxIterations { get; init; } = 8;
    /// <summary>Refinements per problem (independent trajectories, each from its own draft): more of them, a steadier pass@1.</summary>
    public int Samples { get; init; } = 1;
    /// <summary>Latest attempts shown to the model as candidates (lowest self-score first).</summary>
    public int Candidates { get; init; } = 1;
    public int MaxNewTokens { get; init; } = 400;
    public double Temperature { get; init; } = 1.0;
    public double TopP { get; init; } = 1.0;
    public int BatchSize { get; init; } = 16;
    public long Seed { get; init; }
    /// <summary>Prompt set: "standard", "compact", or a set of one's own.</summary>
    public Method.PromptSet Prompts { get; init; } = Method.Prompts.Standard;
}
