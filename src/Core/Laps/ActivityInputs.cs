using MathV2.Core.Jobs;
using MathV2.Core.Models;

namespace MathV2.Core.Laps;

public sealed record CreateAnnotationBatchInput
{
    public required string LapId { get; init; }
    public required string Phase { get; init; }
    /// <summary>The instance that waits for the labels (receives the annotations-submitted event).</summary>
    public required string InstanceId { get; init; }
    /// <summary>A sample job's result (completions.jsonl of generation prompts).</summary>
    public required string Samples { get; init; }
    public required int BatchSize { get; init; }
    /// <summary>Seeds the order items are picked in (the lap's seed, not its id: the same spec picks the same batch).</summary>
    public int Seed { get; init; }
    /// <summary>proofs (samples of generation prompts) or analyses (samples of verification prompts of D_v rows).</summary>
    public string Kind { get; init; } = AnnotationKinds.Proofs;
    /// <summary>For analyses: the D_v artifact whose rows the verification prompts were made from.</summary>
    public string? GradedProofs { get; init; }
    /// <summary>For proofs: the lap's problems artifact (problems.jsonl), where the items' statements come from.</summary>
    public string? Problems { get; init; }
}

public sealed record VerificationPromptsInput
{
    public required string LapId { get; init; }
    public required string Phase { get; init; }
    /// <summary>A D_v artifact (graded-proofs.jsonl).</summary>
    public required string GradedProofs { get; init; }
    public required Method.PromptSet Prompts { get; init; }
    /// <summary>At most this many rows, evenly spread over D_v (all when null).</summary>
    public int? MaxRows { get; init; }
}

/// <summary>Held-out measures of sample or refine job results (LapMeasures): kind verifier, generator, judged or refinement.</summary>
public sealed record MeasureInput
{
    public required string Kind { get; init; }
    public string Subject { get; init; } = "";
    public List<string> Samples { get; init; } = [];
    /// <summary>Verifier: analyses sampled at a temperature, measured as "{subject}.sampled.*".</summary>
    public List<string> Sampled { get; init; } = [];
    /// <summary>The lap's held-out artifact (verifier: its graded proofs).</summary>
    public string? HeldOut { get; init; }
    public int MaxIterations { get; init; } = 8;
    /// <summary>Whether the lap has the oracle (demo laps): without it the oracle's measures are left out.</summary>
    public bool Oracle { get; init; } = true;
}

/// <summary>
/// Verification prompts for generated proofs: each source (a subject → sample job results of generation prompts)
/// gives rows with ids "{subject}|{problemId}|{index}"; proofs.jsonl keeps the proofs (ConsensusProof rows).
/// </summary>
public sealed record ProofPromptsInput
{
    public required string LapId { get; init; }
    public required string Phase { get; init; }
    public required string Step { get; init; }
    public Dictionary<string, List<string>> Sources { get; init; } = [];
    public required Method.PromptSet Prompts { get; init; }
    /// <summary>Refine job results: each trajectory's first and last attempt, as subjects refinement.firstAttempt and refinement.lastAttempt.</summary>
    public List<string> Refinements { get; init; } = [];
    /// <summary>Problem files (artifact, file) the proofs' statements are looked up in (demo ids are also known without).</summary>
    public List<ArtifactFileRef> Problems { get; init; } = [];
}

/// <summary>
/// One wave of phase 4's consensus sampling (ConsensusWaves): the proofs (WriteProofPrompts artifact), the analyses
/// and meta-verifications drawn in the earlier waves, and n, m, k.
/// </summary>
public sealed record ConsensusWaveInput
{
    public required string LapId { get; init; }
    public required string Proofs { get; init; }
    public List<string> Analyses { get; init; } = [];
    public List<string> Metas { get; init; } = [];
    public int N { get; init; } = 8;
    public int M { get; init; } = 4;
    public int K { get; init; } = 2;
    /// <summary>This wave (0-based) of at most <see cref="Waves"/>.</summary>
    public int Wave { get; init; }
    public int Waves { get; init; } = 6;
    public required Method.PromptSet Prompts { get; init; }
}

/// <summary>
/// The wave's prompts ({lapId}-4.consensus-wave{w}: verification-prompts.jsonl with the proof's id, meta-prompts.jsonl
/// with "{proofId}#{i}", each row listing the sample indices to draw), and how many proofs are still open (0: done).
/// </summary>
public sealed record ConsensusWaveResult
{
    public required string Artifact { get; init; }
    public int Open { get; init; }
    public int AnalysisRows { get; init; }
    public int MetaRows { get; init; }
    /// <summary>Samples the wave draws (analyses and meta-verifications).</summary>
    public int Samples { get; init; }
}

public sealed record AutoLabelInput
{
    public required string LapId { get; init; }
    public required string Proofs { get; init; }
    public required List<string> Analyses { get; init; }
    public List<string> Metas { get; init; } = [];
    public int N { get; init; } = 8;
    public int M { get; init; } = 4;
    public int K { get; init; } = 2;
    /// <summary>Labelled proofs people audit (0: none); the batch is picked with the lap's seed and waited on by <see cref="InstanceId"/>.</summary>
    public int AuditSize { get; init; }
    public int Seed { get; init; }
    /// <summary>Whether the lap has the oracle: each label's oracle score, for consensus.agreement.</summary>
    public bool Oracle { get; init; } = true;
    public string InstanceId { get; init; } = "";
}

public sealed record AutoLabelResult
{
    public required string Consensus { get; init; }
    public Dictionary<string, double> Metrics { get; init; } = [];
    /// <summary>The audit batch, when there is one.</summary>
    public AnnotationBatch? Audit { get; init; }
}

/// <summary>D_v with phase 4's labels: the earlier D_v, the consensus artifact, the audit batch (its labels stored) if any.</summary>
public sealed record ConsensusDvInput
{
    public required string LapId { get; init; }
    public required string Consensus { get; init; }
    public required string Dv { get; init; }
    public AnnotationBatch? Audit { get; init; }
}

public sealed record ConsensusDvResult
{
    public required string Dv { get; init; }
    /// <summary>The audit's measures (consensus.audit.*), empty without one.</summary>
    public Dictionary<string, double> Metrics { get; init; } = [];
}

/// <summary>Concatenates one JSONL file across artifacts (identical rows once) into a new artifact whose parents they are.</summary>
public sealed record MergeDatasetsInput
{
    public required string Id { get; init; }
    public required string LapId { get; init; }
    public required string Phase { get; init; }
    public required string Type { get; init; }
    public required string File { get; init; }
    public required List<string> Parents { get; init; }
}

public sealed record LapReportInput
{
    public required string LapId { get; init; }
    public string? Name { get; init; }
    public int Number { get; init; } = 1;
    public string Domain { get; init; } = LapSpec.DemoDomain;
    public required List<PhaseResult> Phases { get; init; }
    public DateTime Started { get; init; }
    public DateTime Finished { get; init; }
    public LapArtifacts Artifacts { get; init; } = new();
    /// <summary>The lap's spec as it ran (defaults filled in), recorded in the report.</summary>
    public LapSpec? Spec { get; init; }
    /// <summary>In a flywheel: the earlier laps' reports, for the plot of held-out measures per lap.</summary>
    public List<string> EarlierReports { get; init; } = [];
}
