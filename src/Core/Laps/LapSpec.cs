using System.Text.Json;
using MathV2.Core.Jobs;

namespace MathV2.Core.Laps;

/// <summary>The demo domain's sizes for a lap.</summary>
public sealed record DemoLapOptions
{
    public int Seed { get; init; } = 1;
    public int ProblemsPerDifficulty { get; init; } = 40;
    public int MaxDifficulty { get; init; } = 2;
    /// <summary>Prompt set of the lap's prompts and demonstrations: "compact" (tiny models) or "standard".</summary>
    public string Prompts { get; init; } = "compact";
}

/// <summary>The bootstrap (the stand-in for the SFT base model): a model from scratch trained on the demonstrations.</summary>
public sealed record BootstrapOptions
{
    /// <summary>HF config.json fields of the model (vocab_size comes from the tokenizer).</summary>
    public JsonElement? Config { get; init; }
    /// <summary>sft job options (steps, learningRate, batchSize, …; see docs/worker.md).</summary>
    public JsonElement? Options { get; init; }
}

/// <summary>How labels reach the lap: "oracle" (the demo domain's program) or "http" (people post them).</summary>
public sealed record AnnotationOptions
{
    public string Annotator { get; init; } = "oracle";
    /// <summary>The lap fails when a batch is not labelled within this time.</summary>
    public int DeadlineMinutes { get; init; } = 7 * 24 * 60;
    /// <summary>While waiting, the custom status is refreshed with a reminder this often.</summary>
    public int ReminderMinutes { get; init; } = 24 * 60;
    /// <summary>Proofs sent for labelling in phase 1A.</summary>
    public int BatchSize { get; init; } = 64;
}

/// <summary>Phase 1A's sampling of cold-start proofs.</summary>
public sealed record ColdStartOptions
{
    /// <summary>Proofs sampled per problem by the base model.</summary>
    public int ProofsPerProblem { get; init; } = 2;
    public int MaxNewTokens { get; init; } = 400;
    public double Temperature { get; init; } = 1.0;
}

/// <summary>Phase 1C's sampling of verifier analyses of D_v.</summary>
public sealed record AnalysisSamplingOptions
{
    public int PerProof { get; init; } = 1;
    public int MaxNewTokens { get; init; } = 256;
    public double Temperature { get; init; } = 1.0;
}

/// <summary>
/// What a lap runs on and with: the domain (the built-in demo), the base checkpoint or a bootstrap, the annotator,
/// per-phase options (documented defaults), job limits.
/// </summary>
public sealed record LapSpec
{
    public string? Name { get; init; }
    /// <summary>"demo" (the built-in arithmetic domain).</summary>
    public string Domain { get; init; } = "demo";
    public DemoLapOptions Demo { get; init; } = new();
    /// <summary>A checkpoint artifact to start from; without one the lap bootstraps a model.</summary>
    public string? BaseCheckpoint { get; init; }
    public BootstrapOptions Bootstrap { get; init; } = new();
    public AnnotationOptions Annotation { get; init; } = new();
    public ColdStartOptions ColdStart { get; init; } = new();
    /// <summary>grpo job options of the verifier (phase 1B; see docs/worker.md).</summary>
    public JsonElement? Verifier { get; init; }
    /// <summary>grpo job options of the meta-verifier (phase 1C).</summary>
    public JsonElement? MetaVerifier { get; init; }
    /// <summary>grpo job options of the generator (phase 2).</summary>
    public JsonElement? Generator { get; init; }
    /// <summary>Phase 1C: how the verifier writes the analyses that annotators rate.</summary>
    public AnalysisSamplingOptions Analyses { get; init; } = new();
    /// <summary>Job limits; the host's defaults (MATHV2_JOB_* settings) when left out.</summary>
    public GpuJobLimits? Limits { get; init; }

    public IEnumerable<(string Field, string Message)> Validate()
    {
        if (Name is { Length: > 100 }) yield return ("name", "must be at most 100 characters");
        if (Domain != "demo") yield return ("domain", "must be \"demo\" (the built-in domain; dataset laps come later)");
        if (Demo.ProblemsPerDifficulty is < 1 or > 100_000) yield return ("demo.problemsPerDifficulty", "must be between 1 and 100000");
        if (Demo.MaxDifficulty is < 1 or > 4) yield return ("demo.maxDifficulty", "must be between 1 and 4");
        if (Demo.Prompts is not ("compact" or "standard")) yield return ("demo.prompts", "must be compact or standard");
        if (BaseCheckpoint != null && !Ids.IsValid(BaseCheckpoint)) yield return ("baseCheckpoint", "is not a valid artifact id");
        if (Bootstrap.Config is { } c && c.ValueKind != JsonValueKind.Object) yield return ("bootstrap.config", "must be an object (HF config.json fields)");
        if (Bootstrap.Options is { } o && o.ValueKind != JsonValueKind.Object) yield return ("bootstrap.options", "must be an object (sft options)");
        if (Verifier is { } v && v.ValueKind != JsonValueKind.Object) yield return ("verifier", "must be an object (grpo options)");
        if (MetaVerifier is { } mv && mv.ValueKind != JsonValueKind.Object) yield return ("metaVerifier", "must be an object (grpo options)");
        if (Generator is { } g && g.ValueKind != JsonValueKind.Object) yield return ("generator", "must be an object (grpo options)");
        if (Analyses.PerProof is < 1 or > 64) yield return ("analyses.perProof", "must be between 1 and 64");
        if (Analyses.MaxNewTokens is < 1 or > 8192) yield return ("analyses.maxNewTokens", "must be between 1 and 8192");
        if (Annotation.Annotator is not ("oracle" or "http")) yield return ("annotation.annotator", "must be oracle or http");
        if (Annotation.DeadlineMinutes is < 1 or > 365 * 24 * 60) yield return ("annotation.deadlineMinutes", "must be between 1 and 525600");
        if (Annotation.ReminderMinutes < 1) yield return ("annotation.reminderMinutes", "must be at least 1");
        if (Annotation.BatchSize is < 1 or > 100_000) yield return ("annotation.batchSize", "must be between 1 and 100000");
        if (ColdStart.ProofsPerProblem is < 1 or > 64) yield return ("coldStart.proofsPerProblem", "must be between 1 and 64");
        if (ColdStart.MaxNewTokens is < 1 or > 8192) yield return ("coldStart.maxNewTokens", "must be between 1 and 8192");
        if (ColdStart.Temperature is < 0 or > 2) yield return ("coldStart.temperature", "must be between 0 and 2");
        foreach (var e in (Limits ?? new()).Validate()) yield return e;
    }
}

/// <summary>The input of the Lap orchestration.</summary>
public sealed record LapInput
{
    public required string LapId { get; init; }
    public required LapSpec Spec { get; init; }
}

/// <summary>The datasets a lap starts from (artifact ids).</summary>
public sealed record LapDatasets
{
    /// <summary>problems.jsonl (D_p) and generation-prompts.jsonl ({id, prompt}).</summary>
    public required string Problems { get; init; }
    /// <summary>demonstrations.jsonl for the bootstrap SFT.</summary>
    public required string Demonstrations { get; init; }
}

public sealed record CreateAnnotationBatchInput
{
    public required string LapId { get; init; }
    public required string Phase { get; init; }
    /// <summary>The instance that waits for the labels (receives the annotations-submitted event).</summary>
    public required string InstanceId { get; init; }
    /// <summary>A sample job's result (completions.jsonl of generation prompts).</summary>
    public required string Samples { get; init; }
    public required int BatchSize { get; init; }
    /// <summary>proofs (samples of generation prompts) or analyses (samples of verification prompts of D_v rows).</summary>
    public string Kind { get; init; } = AnnotationKinds.Proofs;
    /// <summary>For analyses: the D_v artifact whose rows the verification prompts were made from.</summary>
    public string? GradedProofs { get; init; }
}

public sealed record VerificationPromptsInput
{
    public required string LapId { get; init; }
    public required string Phase { get; init; }
    /// <summary>A D_v artifact (graded-proofs.jsonl).</summary>
    public required string GradedProofs { get; init; }
    public required string Prompts { get; init; }
}

/// <summary>File names inside lap artifacts and annotation batches.</summary>
public static class LapFiles
{
    public const string Problems = "problems.jsonl";
    public const string GenerationPrompts = "generation-prompts.jsonl";
    public const string Demonstrations = "demonstrations.jsonl";
    public const string GradedProofs = "graded-proofs.jsonl";
    public const string GradedAnalyses = "graded-analyses.jsonl";
    public const string VerificationPrompts = "verification-prompts.jsonl";
    public const string Items = "items.jsonl";
    public const string Labels = "labels.jsonl";
    public const string Batch = "batch.json";
}
