using MathV2.Core.Jobs;
using MathV2.Core.Models;

namespace MathV2.Core.Laps;

/// <summary>The demo domain's sizes for a lap.</summary>
public sealed record DemoLapOptions
{
    public int Seed { get; init; } = 1;
    public int ProblemsPerDifficulty { get; init; } = 100;
    public int MaxDifficulty { get; init; } = 2;
    /// <summary>Prompt set of the lap's prompts and demonstrations: "compact" (tiny models) or "standard".</summary>
    public string Prompts { get; init; } = "compact";
    /// <summary>
    /// The demo domain's own graded proofs and rated analyses of D_p (one proof per defect kind, the oracle's labels)
    /// join D_v and D_mv in lap 1: the stand-in for the expert-curated sets the paper starts from.
    /// </summary>
    public bool SeedGradedSets { get; init; } = true;
    /// <summary>
    /// The bootstrap's arithmetic facts: the distinct steps of this many problems per difficulty (their own seed
    /// stream), as demonstrations; 0 for none. The stand-in for what a pretrained base model knows.
    /// </summary>
    public int FactProblemsPerDifficulty { get; init; } = 500;
    /// <summary>How many times each arithmetic fact is shown to the bootstrap.</summary>
    public int FactRepeats { get; init; } = 1;
    /// <summary>How many times each arithmetic fact is also shown as a step check in the analyses' format (half with a wrong claim); 0 for none.</summary>
    public int FactChecks { get; init; } = 4;
    /// <summary>
    /// Problems per difficulty the bootstrap's proof, verification and meta-verification demonstrations are written
    /// for, apart from D_p (their own seed stream); null: as many as problemsPerDifficulty.
    /// </summary>
    public int? DemonstrationProblemsPerDifficulty { get; init; }

    /// <summary>The demo datasets these options describe.</summary>
    public Demo.DemoDatasetOptions ToDatasetOptions() => new()
    {
        Seed = Seed, ProblemsPerDifficulty = ProblemsPerDifficulty, MaxDifficulty = MaxDifficulty, Prompts = Prompts,
        FactProblemsPerDifficulty = FactProblemsPerDifficulty, FactRepeats = FactRepeats, FactChecks = FactChecks, FlawedProofShare = FlawedProofShare,
        DemonstrationProblemsPerDifficulty = DemonstrationProblemsPerDifficulty,
    };
    /// <summary>Share of problems with a flawed, honestly self-evaluated generation demonstration besides the correct one.</summary>
    public double FlawedProofShare { get; init; } = 0.25;
}

/// <summary>
/// The demo's defaults, sized for one lap in about 15 minutes on a 2-core CPU (docs/laps.md). An object given in
/// a spec replaces the default whole; fields it leaves out take the job's defaults (docs/worker.md).
/// </summary>
public static class LapDefaults
{
    /// <summary>3 layers: the 2-layer model's step checks miscopied operands (docs/laps.md, "Measured"); 2500 steps keep the lap's time.</summary>
    public static LlamaConfig BootstrapConfig => new()
    {
        HiddenSize = 128, Layers = 3, Heads = 4, KvHeadsOrNull = 2, IntermediateSize = 352, MaxPositions = 1024,
    };
    /// <summary>The first 500 steps on the arithmetic rows only (facts and step checks: what a pretrained model knows), then all demonstrations.</summary>
    public static TrainOptions BootstrapOptions => new()
    {
        Steps = 2500, BatchSize = 8, LearningRate = 3e-3, WarmupSteps = 50, EvalEvery = 500, CheckpointEvery = 500, MaxSeqLen = 1024,
        CurriculumSteps = 500, CurriculumKinds = ["arithmetic"],
    };
    /// <summary>A learning rate of 1e-4: the bootstrap verifies well already, and at 3e-4 GRPO's noise undid more than it taught (docs/laps.md).</summary>
    public static GrpoOptions Verifier => new() { Steps = 40, GroupSize = 4, PromptsPerStep = 4, MaxNewTokens = 170, LearningRate = 1e-4, WarmupSteps = 2, BatchSize = 8, MaxSeqLen = 640, CheckpointEvery = 20 };
    /// <summary>1e-4 too: at 3e-4 the D_mv step cost verifier v2 its step checks (docs/laps.md, "Measured").</summary>
    public static GrpoOptions MetaVerifier => new() { Steps = 20, GroupSize = 4, PromptsPerStep = 4, MaxNewTokens = 200, LearningRate = 1e-4, WarmupSteps = 2, BatchSize = 8, MaxSeqLen = 700, CheckpointEvery = 5 };
    public static GrpoOptions Generator => new() { Steps = 24, GroupSize = 4, PromptsPerStep = 4, MaxNewTokens = 400, LearningRate = 2e-4, WarmupSteps = 2, BatchSize = 8, MaxSeqLen = 512, CheckpointEvery = 8 };
}

/// <summary>The bootstrap (the stand-in for the SFT base model): a model from scratch trained on the demonstrations.</summary>
public sealed record BootstrapOptions
{
    /// <summary>HF config.json fields of the model (vocab_size comes from the tokenizer).</summary>
    public LlamaConfig Config { get; init; } = LapDefaults.BootstrapConfig;
    /// <summary>sft job options (steps, learningRate, batchSize, …; see docs/worker.md).</summary>
    public TrainOptions Options { get; init; } = LapDefaults.BootstrapOptions;
    /// <summary>"words" (the demonstrations' words and numbers as tokens, characters as fallback) or "char".</summary>
    public string Tokenizer { get; init; } = "words";
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
    public int ProofsPerProblem { get; init; } = 1;
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

/// <summary>Phase 3's refinement measure: draft → self-critique → revise until the self-score is 1 or the cap.</summary>
public sealed record RefinementOptions
{
    public int MaxIterations { get; init; } = 8;
    /// <summary>Trajectories per held-out problem; pass@1 is their mean (one per problem is a noisy measure).</summary>
    public int Samples { get; init; } = 4;
    public int MaxNewTokens { get; init; } = 400;
    public double Temperature { get; init; } = 1.0;
}

/// <summary>Phase 4's auto-labelling: n analyses per proof, m meta-verifications per issue report, k valid lowest.</summary>
public sealed record ConsensusLapOptions
{
    /// <summary>METHOD.md's n = 8, m = 4, k = 2 (about 10 s more per lap than n = 4, m = 3 on the CPU demo).</summary>
    public int N { get; init; } = 8;
    public int M { get; init; } = 4;
    public int K { get; init; } = 2;
    /// <summary>New proofs auto-labelled per lap (the improved generator's, one per problem, in D_p order).</summary>
    public int Proofs { get; init; } = 32;
    /// <summary>Sample jobs each sampling step is split into (run side by side on as many workers).</summary>
    public int Shards { get; init; } = 2;
    public int MaxNewTokens { get; init; } = 200;
    public double Temperature { get; init; } = 1.0;
}

/// <summary>The held-out measures of the lap report: problems never in D_p, their graded proofs (one per defect kind).</summary>
public sealed record EvaluationOptions
{
    public int HeldOutPerDifficulty { get; init; } = 16;
    /// <summary>Tokens per held-out analysis or proof; analyses are greedy (temperature 0) unless set.</summary>
    public int MaxNewTokens { get; init; } = 400;
    public double Temperature { get; init; }
    /// <summary>
    /// Proofs sampled per held-out problem for the generator measures (pass rates are means over them), and their
    /// temperature: what the policy does, not only its single most likely proof.
    /// </summary>
    public int ProofSamples { get; init; } = 4;
    public double ProofTemperature { get; init; } = 1.0;
    /// <summary>
    /// Analyses sampled per held-out graded proof at AnalysisTemperature, besides the greedy one: the distribution
    /// phase 4's consensus labelling draws from. Their measures are "{subject}.sampled.*"; the meta quality target
    /// compares them. 0 leaves them out.
    /// </summary>
    public int AnalysisSamples { get; init; } = 4;
    public double AnalysisTemperature { get; init; } = 1.0;
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
    /// <summary>grpo job options of the verifier (phases 1B, 1D, 4; see docs/worker.md).</summary>
    public GrpoOptions Verifier { get; init; } = LapDefaults.Verifier;
    /// <summary>grpo job options of the meta-verifier (phase 1C, and 1D's meta task).</summary>
    public GrpoOptions MetaVerifier { get; init; } = LapDefaults.MetaVerifier;
    /// <summary>grpo job options of the generator (phase 2).</summary>
    public GrpoOptions Generator { get; init; } = LapDefaults.Generator;
    /// <summary>grpo job options of phase 3 (the α/β self-verification reward); the generator's when left out.</summary>
    public GrpoOptions? SelfVerification { get; init; }
    /// <summary>Phase 1C: how the verifier writes the analyses that annotators rate.</summary>
    public AnalysisSamplingOptions Analyses { get; init; } = new();
    public RefinementOptions Refinement { get; init; } = new();
    public ConsensusLapOptions Consensus { get; init; } = new();
    public EvaluationOptions Evaluation { get; init; } = new();
    /// <summary>Job limits; the host's defaults (MATHV2_JOB_* settings) when left out.</summary>
    public GpuJobLimits? Limits { get; init; }

    public IEnumerable<(string Field, string Message)> Validate()
    {
        if (Name is { Length: > 100 }) yield return ("name", "must be at most 100 characters");
        if (Domain != "demo") yield return ("domain", "must be \"demo\" (the built-in domain; dataset laps come later)");
        if (Demo.ProblemsPerDifficulty is < 1 or > 100_000) yield return ("demo.problemsPerDifficulty", "must be between 1 and 100000");
        if (Demo.MaxDifficulty is < 1 or > 4) yield return ("demo.maxDifficulty", "must be between 1 and 4");
        if (Demo.Prompts is not ("compact" or "standard")) yield return ("demo.prompts", "must be compact or standard");
        if (Demo.FlawedProofShare is < 0 or > 1) yield return ("demo.flawedProofShare", "must be between 0 and 1");
        if (Demo.FactRepeats is < 1 or > 100) yield return ("demo.factRepeats", "must be between 1 and 100");
        if (Demo.FactChecks is < 0 or > 100) yield return ("demo.factChecks", "must be between 0 and 100");
        if (Demo.DemonstrationProblemsPerDifficulty is < 1 or > 100_000) yield return ("demo.demonstrationProblemsPerDifficulty", "must be between 1 and 100000");
        if (Demo.FactProblemsPerDifficulty is < 0 or > 100_000) yield return ("demo.factProblemsPerDifficulty", "must be between 0 and 100000");
        if (BaseCheckpoint != null && !Ids.IsValid(BaseCheckpoint)) yield return ("baseCheckpoint", "is not a valid artifact id");
        // vocab_size is the tokenizer's; the rest of the model's shape is checked here, before any job runs.
        foreach (var (f, m) in (Bootstrap.Config with { VocabSize = 1 }).Validate()) yield return ($"bootstrap.config.{f}", m);
        foreach (var (f, m) in Bootstrap.Options.Validate()) yield return ($"bootstrap.options.{f}", m);
        if (Bootstrap.Tokenizer is not ("words" or "char")) yield return ("bootstrap.tokenizer", "must be \"words\" or \"char\"");
        foreach (var (name, o) in new[] { ("verifier", Verifier), ("metaVerifier", MetaVerifier), ("generator", Generator), ("selfVerification", SelfVerification) })
            if (o != null) foreach (var (f, m) in o.Validate()) yield return ($"{name}.{f}", m);
        if (Analyses.PerProof is < 1 or > 64) yield return ("analyses.perProof", "must be between 1 and 64");
        if (Analyses.MaxNewTokens is < 1 or > 8192) yield return ("analyses.maxNewTokens", "must be between 1 and 8192");
        if (Annotation.Annotator is not ("oracle" or "http")) yield return ("annotation.annotator", "must be oracle or http");
        if (Annotation.DeadlineMinutes is < 1 or > 365 * 24 * 60) yield return ("annotation.deadlineMinutes", "must be between 1 and 525600");
        if (Annotation.ReminderMinutes < 1) yield return ("annotation.reminderMinutes", "must be at least 1");
        if (Annotation.BatchSize is < 1 or > 100_000) yield return ("annotation.batchSize", "must be between 1 and 100000");
        if (ColdStart.ProofsPerProblem is < 1 or > 64) yield return ("coldStart.proofsPerProblem", "must be between 1 and 64");
        if (ColdStart.MaxNewTokens is < 1 or > 8192) yield return ("coldStart.maxNewTokens", "must be between 1 and 8192");
        if (ColdStart.Temperature is < 0 or > 2) yield return ("coldStart.temperature", "must be between 0 and 2");
        if (Refinement.MaxIterations is < 1 or > 64) yield return ("refinement.maxIterations", "must be between 1 and 64");
        if (Refinement.Samples is < 1 or > 64) yield return ("refinement.samples", "must be between 1 and 64");
        if (Refinement.MaxNewTokens is < 1 or > 8192) yield return ("refinement.maxNewTokens", "must be between 1 and 8192");
        if (Refinement.Temperature is < 0 or > 2) yield return ("refinement.temperature", "must be between 0 and 2");
        foreach (var (f, m) in new Method.ConsensusOptions { N = Consensus.N, M = Consensus.M, K = Consensus.K }.Validate()) yield return ($"consensus.{f}", m);
        if (Consensus.N > 64) yield return ("consensus.n", "must be at most 64");
        if (Consensus.M > 64) yield return ("consensus.m", "must be at most 64");
        if (Consensus.Shards is < 1 or > 64) yield return ("consensus.shards", "must be between 1 and 64");
        if (Consensus.Proofs is < 1 or > 100_000) yield return ("consensus.proofs", "must be between 1 and 100000");
        if (Consensus.MaxNewTokens is < 1 or > 8192) yield return ("consensus.maxNewTokens", "must be between 1 and 8192");
        if (Consensus.Temperature is < 0 or > 2) yield return ("consensus.temperature", "must be between 0 and 2");
        if (Evaluation.HeldOutPerDifficulty is < 1 or > 10_000) yield return ("evaluation.heldOutPerDifficulty", "must be between 1 and 10000");
        if (Evaluation.MaxNewTokens is < 1 or > 8192) yield return ("evaluation.maxNewTokens", "must be between 1 and 8192");
        if (Evaluation.Temperature is < 0 or > 2) yield return ("evaluation.temperature", "must be between 0 and 2");
        if (Evaluation.ProofSamples is < 1 or > 64) yield return ("evaluation.proofSamples", "must be between 1 and 64");
        if (Evaluation.ProofTemperature is < 0 or > 2) yield return ("evaluation.proofTemperature", "must be between 0 and 2");
        if (Evaluation.AnalysisSamples is < 0 or > 64) yield return ("evaluation.analysisSamples", "must be between 0 and 64");
        if (Evaluation.AnalysisTemperature is < 0 or > 2) yield return ("evaluation.analysisTemperature", "must be between 0 and 2");
        foreach (var e in (Limits ?? new()).Validate()) yield return e;
    }
}

/// <summary>The input of the Lap orchestration.</summary>
public sealed record LapInput
{
    public required string LapId { get; init; }
    public required LapSpec Spec { get; init; }
    /// <summary>Phases taken over from an earlier lap (restart from a later phase): their results, artifacts included.</summary>
    public List<PhaseResult> Reused { get; init; } = [];
    /// <summary>The lap the reused phases come from.</summary>
    public string? RestartedFrom { get; init; }
    /// <summary>In a flywheel: which lap this is (1-based) and the previous lap's artifacts it starts from.</summary>
    public int Number { get; init; } = 1;
    public Dictionary<string, string>? Previous { get; init; }
    /// <summary>Human-free mode (later flywheel laps): no annotation batches; D_v and D_mv come from the previous lap.</summary>
    public bool HumanFree { get; init; }
}

/// <summary>What a phase produced (artifact ids), its held-out measures, its jobs, and how long it took.</summary>
public sealed record PhaseResult
{
    public required string Phase { get; init; }
    public Dictionary<string, string> Artifacts { get; init; } = [];
    /// <summary>Measures on held-out data and counts (keys as in docs/laps.md, "Lap report").</summary>
    public Dictionary<string, double> Metrics { get; init; } = [];
    public List<Jobs.GpuJobOutcome> Jobs { get; init; } = [];
    public DateTime Started { get; init; }
    public DateTime Finished { get; init; }
    /// <summary>Set when the phase was taken over from another lap rather than run.</summary>
    public string? ReusedFrom { get; init; }
}

public sealed record LapResult
{
    public required string LapId { get; init; }
    public required List<PhaseResult> Phases { get; init; }
    /// <summary>The report artifact (report.json, report.md).</summary>
    public string? Report { get; init; }
    public Dictionary<string, string> Artifacts { get; init; } = [];
}

/// <summary>The datasets a lap starts from (artifact ids).</summary>
public sealed record LapDatasets
{
    /// <summary>problems.jsonl (D_p) and generation-prompts.jsonl ({id, prompt}).</summary>
    public required string Problems { get; init; }
    /// <summary>demonstrations.jsonl for the bootstrap SFT.</summary>
    public required string Demonstrations { get; init; }
    /// <summary>The held-out set of the report: problems, generation prompts, graded proofs, verification prompts.</summary>
    public string? HeldOut { get; init; }
    /// <summary>demo.seedGradedSets: graded-proofs.jsonl and graded-analyses.jsonl of D_p's problems.</summary>
    public string? Graded { get; init; }
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
    /// <summary>Seeds the order items are picked in (the lap's seed, not its id: the same spec picks the same batch).</summary>
    public int Seed { get; init; }
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
    /// <summary>At most this many rows, evenly spread over D_v (all when null).</summary>
    public int? MaxRows { get; init; }
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
    public const string HeldOutProblems = "heldout-problems.jsonl";
    public const string HeldOutGenerationPrompts = "heldout-generation-prompts.jsonl";
    public const string HeldOutGradedProofs = "heldout-graded-proofs.jsonl";
    public const string HeldOutVerificationPrompts = "heldout-verification-prompts.jsonl";
    public const string Completions = "completions.jsonl";
    public const string Refinements = "refinements.jsonl";
    public const string MetaPrompts = "meta-prompts.jsonl";
    public const string Consensus = "consensus.jsonl";
    public const string Discarded = "discarded.jsonl";
    public const string ReportJson = "report.json";
    public const string ReportMarkdown = "report.md";
}

/// <summary>When a flywheel stops early: a lap whose verifier accuracy fell by more than this below the previous lap's.</summary>
public sealed record FlywheelGates
{
    /// <summary>Null: no gate.</summary>
    public double? MaxVerifierAccuracyDrop { get; init; } = 0.05;

    /// <summary>Why the flywheel stops after lap <paramref name="number"/> of <paramref name="laps"/>, or null to go on.</summary>
    public string? Stop(int number, int laps, double? previousAccuracy, double? accuracy)
    {
        if (MaxVerifierAccuracyDrop is { } drop && previousAccuracy is { } before && accuracy is { } now && now < before - drop - 1e-9)
            return $"gate: verifier accuracy fell from {before:0.###} (lap {number - 1}) to {now:0.###} (lap {number}), more than {drop:0.###}";
        return number >= laps ? $"all {laps} laps done" : null;
    }
}

/// <summary>A multi-lap run: lap k+1 starts from lap k's artifacts; from HumanFreeFromLap on no one annotates.</summary>
public sealed record FlywheelSpec
{
    public string? Name { get; init; }
    public int Laps { get; init; } = 3;
    public int HumanFreeFromLap { get; init; } = 2;
    public FlywheelGates Gates { get; init; } = new();
    public LapSpec Lap { get; init; } = new();

    public IEnumerable<(string Field, string Message)> Validate()
    {
        if (Name is { Length: > 100 }) yield return ("name", "must be at most 100 characters");
        if (Laps is < 1 or > 100) yield return ("laps", "must be between 1 and 100");
        if (HumanFreeFromLap < 2) yield return ("humanFreeFromLap", "must be at least 2 (lap 1 bootstraps with labels)");
        if (Gates.MaxVerifierAccuracyDrop is < 0 or > 1) yield return ("gates.maxVerifierAccuracyDrop", "must be between 0 and 1");
        foreach (var (f, m) in Lap.Validate()) yield return ($"lap.{f}", m);
    }
}

/// <summary>One lap of a flywheel as the flywheel remembers it.</summary>
public sealed record FlywheelLap
{
    public required string LapId { get; init; }
    public int Number { get; init; }
    public string? Report { get; init; }
    public double? VerifierAccuracy { get; init; }
    /// <summary>Which of the lap's verifiers (verifierV1/V2/V3) the next lap starts from (<see cref="BestVerifier"/>).</summary>
    public string? BestVerifier { get; init; }
    public Dictionary<string, string> Artifacts { get; init; } = [];
}

/// <summary>
/// The verifier a flywheel's next lap starts from (METHOD.md: "later laps start the verifier from the previous lap's
/// best checkpoint"): the one of v1, v2, v3 with the highest held-out accuracy, the later one on ties.
/// </summary>
public static class BestVerifier
{
    /// <summary>The key under which a lap's artifacts pass the chosen checkpoint to the next lap.</summary>
    public const string ArtifactKey = "verifier";
    static readonly string[] Latest = ["verifierV3", "verifierV2", "verifierV1"];

    /// <summary>The chosen artifact key, or null when the lap has none of them.</summary>
    public static string? Choose(IReadOnlyDictionary<string, double> metrics, IReadOnlyDictionary<string, string> artifacts)
    {
        string? best = null;
        double bestAccuracy = double.NegativeInfinity;
        foreach (string key in Latest.Where(artifacts.ContainsKey))
        {
            double accuracy = metrics.TryGetValue($"{key}.accuracy", out var a) ? a : double.NegativeInfinity;
            if (best == null || accuracy > bestAccuracy + 1e-9) (best, bestAccuracy) = (key, accuracy);
        }
        return best;
    }
}

/// <summary>The Flywheel orchestration's input; ContinueAsNew carries the next lap's number and the laps so far.</summary>
public sealed record FlywheelInput
{
    public required string FlywheelId { get; init; }
    public required FlywheelSpec Spec { get; init; }
    public int Next { get; init; } = 1;
    public List<FlywheelLap> Laps { get; init; } = [];
}

public sealed record FlywheelResult
{
    public required string FlywheelId { get; init; }
    public required List<FlywheelLap> Laps { get; init; }
    public required string Stopped { get; init; }
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
    public required Dictionary<string, List<string>> Sources { get; init; }
    public required string Prompts { get; init; }
}

/// <summary>Meta-verification prompts for the analyses that report issues (phase 4), ids "{proofId}#{i}".</summary>
public sealed record MetaPromptsInput
{
    public required string LapId { get; init; }
    public required string Phase { get; init; }
    /// <summary>The WriteProofPrompts artifact (proofs.jsonl).</summary>
    public required string Proofs { get; init; }
    public required List<string> Analyses { get; init; }
    public required string Prompts { get; init; }
}

public sealed record MetaPromptsResult
{
    public required string Artifact { get; init; }
    public int Prompts { get; init; }
}

public sealed record AutoLabelInput
{
    public required string LapId { get; init; }
    public required string Proofs { get; init; }
    public required List<string> Analyses { get; init; }
    public List<string> Metas { get; init; } = [];
    /// <summary>D_v the labels are merged into.</summary>
    public required string Dv { get; init; }
    public int N { get; init; } = 8;
    public int M { get; init; } = 4;
    public int K { get; init; } = 2;
}

public sealed record AutoLabelResult
{
    public required string Dv { get; init; }
    public required string Consensus { get; init; }
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
    public required List<PhaseResult> Phases { get; init; }
    public DateTime Started { get; init; }
    public DateTime Finished { get; init; }
    public Dictionary<string, string> Artifacts { get; init; } = [];
}

/// <summary>The phases of a lap, in order (METHOD.md).</summary>
public static class LapPhases
{
    public static readonly string[] Names = ["1a", "1b", "1c", "1d", "2", "3", "4"];
}
