using MathV2.Core.Jobs;
using MathV2.Core.Models;

namespace MathV2.Core.Laps;

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
    /// <summary>The batch's annotator token (<see cref="AnnotationAccess"/>).</summary>
    public const string Access = "access.json";
    public const string HeldOutProblems = "heldout-problems.jsonl";
    public const string HeldOutGenerationPrompts = "heldout-generation-prompts.jsonl";
    public const string HeldOutGradedProofs = "heldout-graded-proofs.jsonl";
    public const string HeldOutVerificationPrompts = "heldout-verification-prompts.jsonl";
    public const string HeldOutGradedAnalyses = "heldout-graded-analyses.jsonl";
    public const string HeldOutMetaPrompts = "heldout-meta-prompts.jsonl";
    public const string Completions = "completions.jsonl";
    public const string Refinements = "refinements.jsonl";
    public const string MetaPrompts = "meta-prompts.jsonl";
    public const string Consensus = "consensus.jsonl";
    public const string Discarded = "discarded.jsonl";
    public const string ReportJson = "report.json";
    /// <summary>A training job's per-step metrics (sft, grpo results).</summary>
    public const string Metrics = "metrics.jsonl";
    public const string ReportMarkdown = "report.md";
}
