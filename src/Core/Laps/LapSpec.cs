using MathV2.Core.Jobs;
using MathV2.Core.Models;

namespace MathV2.Core.Laps;

/// <summary>
/// What a lap runs on and with: the domain (the built-in demo, or a team's uploaded datasets), the base checkpoint
/// or a bootstrap, the annotator, per-phase options (documented defaults), job limits.
/// </summary>
public sealed record LapSpec
{
    public const string DemoDomain = "demo", DatasetsDomain = "datasets";

    public string? Name { get; init; }
    /// <summary>"demo" (the built-in arithmetic domain, its oracle and bootstrap) or "datasets" (uploaded datasets, a base checkpoint, people).</summary>
    public string Domain { get; init; } = DemoDomain;
    public DemoLapOptions Demo { get; init; } = new();
    /// <summary>Domain "datasets": the dataset artifacts the lap runs on (uploaded with <c>mathv2 artifacts put --kind dataset</c>).</summary>
    public DatasetArtifacts? Datasets { get; init; }
    /// <summary>
    /// The lap's prompt set: a built-in name ("standard", "compact") or a set of one's own (for one, the authors'
    /// templates from <c>mathv2 prompts import</c>); left out, the demo's demo.prompts.
    /// </summary>
    public Core.Method.PromptSet? Prompts { get; init; }
    /// <summary>The paper's choices (generator reward and start, KL reference, reward samples).</summary>
    public MethodOptions Method { get; init; } = new();
    /// <summary>A checkpoint artifact to start from; without one the lap bootstraps a model.</summary>
    public string? BaseCheckpoint { get; init; }
    /// <summary>
    /// Prompts go to the models as one user turn of the base checkpoint's chat template (an instruct model's
    /// tokenizer_config.json chat_template); off: prompts are plain text after the start token (base models).
    /// </summary>
    public bool ChatTemplate { get; init; }
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

    /// <summary>The prompt set every prompt of the lap is rendered with: prompts, else demo.prompts (demo) or "standard" (datasets).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Core.Method.PromptSet PromptSet => Prompts ?? Core.Method.Prompts.Set(IsDemo ? Demo.Prompts : "standard");

    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsDemo => Domain == DemoDomain;

    /// <summary>Who labels: annotation.annotator, else the demo's oracle or, on datasets, people ("http").</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Annotator => Annotation.Annotator ?? (IsDemo ? AnnotationOptions.Oracle : AnnotationOptions.Http);

    /// <summary>Phase 4's audit: how many consensus labels people check (http annotator only; the oracle checks them all).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int AuditSize => Annotator == AnnotationOptions.Http ? Consensus.AuditSize ?? (IsDemo ? 0 : 32) : 0;

    /// <summary>
    /// Phase 2's reward: method.generatorReward, else the domain's: the demo keeps "self-verification", the reward its
    /// targets were measured with (R_Y alone measured worse there: docs/journal); other domains take the paper's "proof".
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Phase2Reward => Method.GeneratorReward ?? (IsDemo ? MethodOptions.SelfVerificationReward : MethodOptions.ProofReward);

    /// <summary>The KL reference of a GRPO run that starts from policy (method.klReference).</summary>
    public string KlReference(string baseModel, string policy) => Method.KlReference == MethodOptions.FromPolicy ? policy : baseModel;

    /// <summary>A reward of this lap: its prompt set and reward-model sampling.</summary>
    public RewardSpec Reward(RewardSpec reward) => reward with
    {
        Prompts = PromptSet, RewardSamples = Method.RewardSamples, RewardTemperature = Method.RewardTemperature,
        MaskUnreadableMeta = Method.UnreadableMeta == "mask",
    };

    public IEnumerable<(string Field, string Message)> Validate()
    {
        if (Name is { Length: > 100 }) yield return ("name", "must be at most 100 characters");
        if (Domain is not (DemoDomain or DatasetsDomain)) yield return ("domain", "must be \"demo\" (the built-in domain) or \"datasets\" (uploaded datasets)");
        if (Domain == DatasetsDomain)
        {
            if (Datasets == null) yield return ("datasets", "is required for domain \"datasets\" (the dataset artifacts: problems, gradedProofs, heldOutProblems, heldOutGradedProofs, …)");
            else foreach (var e in Datasets.Validate()) yield return e;
            if (BaseCheckpoint == null) yield return ("baseCheckpoint", "is required for domain \"datasets\" (a checkpoint artifact: the lap does not bootstrap one)");
            if (Annotation.Annotator == AnnotationOptions.Oracle) yield return ("annotation.annotator", "must be http for domain \"datasets\" (the oracle labels only the demo domain)");
        }
        else if (Datasets != null) yield return ("datasets", "is only for domain \"datasets\"");
        if (Demo.ProblemsPerDifficulty is < 1 or > 100_000) yield return ("demo.problemsPerDifficulty", "must be between 1 and 100000");
        if (Demo.MaxDifficulty is < 1 or > 4) yield return ("demo.maxDifficulty", "must be between 1 and 4");
        if (Demo.Prompts is not ("compact" or "standard")) yield return ("demo.prompts", "must be compact or standard");
        if (Prompts != null) foreach (var e in Prompts.Validate("prompts")) yield return e;
        foreach (var e in Method.Validate()) yield return e;
        if (Demo.FlawedProofShare is < 0 or > 1) yield return ("demo.flawedProofShare", "must be between 0 and 1");
        if (Demo.FactRepeats is < 1 or > 100) yield return ("demo.factRepeats", "must be between 1 and 100");
        if (Demo.FactChecks is < 0 or > 100) yield return ("demo.factChecks", "must be between 0 and 100");
        if (Demo.DemonstrationProblemsPerDifficulty is < 1 or > 100_000) yield return ("demo.demonstrationProblemsPerDifficulty", "must be between 1 and 100000");
        if (Demo.FactProblemsPerDifficulty is < 0 or > 100_000) yield return ("demo.factProblemsPerDifficulty", "must be between 0 and 100000");
        if (BaseCheckpoint != null && !Ids.IsValid(BaseCheckpoint)) yield return ("baseCheckpoint", "is not a valid artifact id");
        if (ChatTemplate && BaseCheckpoint == null) yield return ("chatTemplate", "needs a baseCheckpoint whose tokenizer_config.json has a chat_template (a bootstrapped model has none)");
        // vocab_size is the tokenizer's; the rest of the model's shape is checked here, before any job runs.
        foreach (var (f, m) in (Bootstrap.Config with { VocabSize = 1 }).Validate()) yield return ($"bootstrap.config.{f}", m);
        foreach (var (f, m) in Bootstrap.Options.Validate()) yield return ($"bootstrap.options.{f}", m);
        if (Bootstrap.Tokenizer is not ("words" or "char")) yield return ("bootstrap.tokenizer", "must be \"words\" or \"char\"");
        foreach (var (name, o) in new[] { ("verifier", Verifier), ("metaVerifier", MetaVerifier), ("generator", Generator), ("selfVerification", SelfVerification) })
            if (o != null) foreach (var (f, m) in o.Validate()) yield return ($"{name}.{f}", m);
        if (Analyses.PerProof is < 1 or > 64) yield return ("analyses.perProof", "must be between 1 and 64");
        if (Analyses.MaxNewTokens is < 1 or > 8192) yield return ("analyses.maxNewTokens", "must be between 1 and 8192");
        if (Annotation.Annotator is not (null or AnnotationOptions.Oracle or AnnotationOptions.Http)) yield return ("annotation.annotator", "must be oracle or http");
        if (Annotation.DeadlineMinutes is < 1 or > 365 * 24 * 60) yield return ("annotation.deadlineMinutes", "must be between 1 and 525600");
        if (Annotation.ReminderMinutes < 1) yield return ("annotation.reminderMinutes", "must be at least 1");
        if (Annotation.BatchSize is < 1 or > 100_000) yield return ("annotation.batchSize", "must be between 1 and 100000");
        if (ColdStart.ProofsPerProblem is < 1 or > 64) yield return ("coldStart.proofsPerProblem", "must be between 1 and 64");
        if (ColdStart.MaxNewTokens is < 1 or > 8192) yield return ("coldStart.maxNewTokens", "must be between 1 and 8192");
        if (ColdStart.Temperature is < 0 or > 2) yield return ("coldStart.temperature", "must be between 0 and 2");
        if (ColdStart.RefinementRounds is < 0 or > 16) yield return ("coldStart.refinementRounds", "must be between 0 and 16");
        if (Refinement.MaxIterations is < 1 or > 64) yield return ("refinement.maxIterations", "must be between 1 and 64");
        if (Refinement.Samples is < 1 or > 64) yield return ("refinement.samples", "must be between 1 and 64");
        if (Refinement.MaxNewTokens is < 1 or > 8192) yield return ("refinement.maxNewTokens", "must be between 1 and 8192");
        if (Refinement.Temperature is < 0 or > 2) yield return ("refinement.temperature", "must be between 0 and 2");
        foreach (var (f, m) in new Method.ConsensusOptions { N = Consensus.N, M = Consensus.M, K = Consensus.K }.Validate()) yield return ($"consensus.{f}", m);
        if (Consensus.N > 64) yield return ("consensus.n", "must be at most 64");
        if (Consensus.M > 64) yield return ("consensus.m", "must be at most 64");
        if (Consensus.Waves is < 2 or > 32) yield return ("consensus.waves", "must be between 2 (the fixed rule) and 32");
        if (Consensus.Shards is < 1 or > 64) yield return ("consensus.shards", "must be between 1 and 64");
        if (Consensus.Proofs is < 1 or > 100_000) yield return ("consensus.proofs", "must be between 1 and 100000");
        if (Consensus.MaxNewTokens is < 1 or > 8192) yield return ("consensus.maxNewTokens", "must be between 1 and 8192");
        if (Consensus.AuditSize is < 0 or > 100_000) yield return ("consensus.auditSize", "must be between 0 and 100000");
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

/// <summary>
/// A dataset lap's datasets: dataset artifact ids by role. Each role reads one file of its artifact: the training
/// roles problems.jsonl, graded-proofs.jsonl, graded-analyses.jsonl; the held-out roles their heldout- file, else the
/// plain one (so one artifact may hold every file, or each role its own).
/// </summary>
public sealed record DatasetArtifacts
{
    /// <summary>D_p: the problems the generator trains on and phase 4 labels proofs of.</summary>
    public string? Problems { get; init; }
    /// <summary>D_v's seed: proofs people scored (joins phase 1A's labels).</summary>
    public string? GradedProofs { get; init; }
    /// <summary>D_mv's seed: analyses people rated (joins phase 1C's labels); optional.</summary>
    public string? RatedAnalyses { get; init; }
    public string? HeldOutProblems { get; init; }
    public string? HeldOutGradedProofs { get; init; }
    /// <summary>Held-out rated analyses: the meta-verifiers' measures; optional (without them those measures are absent).</summary>
    public string? HeldOutRatedAnalyses { get; init; }

    /// <summary>Each role: its JSON name, artifact id, whether required, and the files it may read (first found wins).</summary>
    public IEnumerable<(string Role, string? Id, bool Required, string[] Files)> Roles() =>
    [
        ("problems", Problems, true, [LapFiles.Problems]),
        ("gradedProofs", GradedProofs, true, [LapFiles.GradedProofs]),
        ("ratedAnalyses", RatedAnalyses, false, [LapFiles.GradedAnalyses]),
        ("heldOutProblems", HeldOutProblems, true, [LapFiles.HeldOutProblems, LapFiles.Problems]),
        ("heldOutGradedProofs", HeldOutGradedProofs, true, [LapFiles.HeldOutGradedProofs, LapFiles.GradedProofs]),
        ("heldOutRatedAnalyses", HeldOutRatedAnalyses, false, [LapFiles.HeldOutGradedAnalyses, LapFiles.GradedAnalyses]),
    ];

    public IEnumerable<(string Field, string Message)> Validate()
    {
        foreach (var (role, id, required, _) in Roles())
        {
            if (id == null) { if (required) yield return ($"datasets.{role}", "is required"); }
            else if (!Ids.IsValid(id)) yield return ($"datasets.{role}", "is not a valid artifact id");
        }
    }
}
