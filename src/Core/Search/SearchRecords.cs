using MathV2.Core.Method;

namespace MathV2.Core.Search;

/// <summary>Files of the search's artifacts.</summary>
public static class SearchFiles
{
    public const string Problems = "problems.jsonl";
    public const string Prompts = "prompts.jsonl";
    public const string Proofs = "proofs.jsonl";
    public const string Pool = "pool.jsonl";
    public const string Analyses = "analyses.jsonl";
    public const string State = "state.json";
    public const string Result = "result.jsonl";
    public const string Report = "report.json";
    /// <summary>A verification wave's prompts: each proof still open with the sample indices of the wave.</summary>
    public const string VerificationWave = "verification-wave.jsonl";
    /// <summary>A round's meta-verification prompts ("{proofId}#{i}" for analysis i reporting an issue).</summary>
    public const string MetaPrompts = "meta-prompts.jsonl";
}

public sealed record SearchPromptsInput
{
    public required string SearchId { get; init; }
    public required int Round { get; init; }
    public required string Problems { get; init; }
    public string? State { get; init; }
    public required SearchSpec Spec { get; init; }
}

public sealed record SearchStepResult
{
    public required string Artifact { get; init; }
    public int Rows { get; init; }
}

public sealed record SearchProofsInput
{
    public required string SearchId { get; init; }
    public required int Round { get; init; }
    public required string Prompts { get; init; }
    public required List<string> Completions { get; init; }
    public required PromptSet PromptSet { get; init; }
}

public sealed record SearchWaveInput
{
    public required string SearchId { get; init; }
    public required int Round { get; init; }
    /// <summary>0-based.</summary>
    public required int Wave { get; init; }
    public required string Proofs { get; init; }
    public required List<string> Analyses { get; init; }
    /// <summary>Meta-verifications of the earlier waves' issue reports (options.metaVerifications).</summary>
    public List<string> Metas { get; init; } = [];
    public string? State { get; init; }
    public required SearchOptions Options { get; init; }
}

/// <summary>Meta-verification prompts of a round's issue reports.</summary>
public sealed record SearchMetaPromptsInput
{
    public required string SearchId { get; init; }
    public required int Round { get; init; }
    public required string Problems { get; init; }
    public required string Proofs { get; init; }
    public required List<string> Analyses { get; init; }
    public required PromptSet PromptSet { get; init; }
    /// <summary>The verification wave (1-based) whose issue reports these are; 0: the round's one verification step.</summary>
    public int Wave { get; init; }
}

public sealed record ScoreSearchRoundInput
{
    public required string SearchId { get; init; }
    public required int Round { get; init; }
    public required string Problems { get; init; }
    public required string Proofs { get; init; }
    public required List<string> Analyses { get; init; }
    /// <summary>The meta-verification jobs' results (options.metaVerifications), ids "{proofId}#{i}".</summary>
    public List<string> Metas { get; init; } = [];
    public string? State { get; init; }
    public required SearchOptions Options { get; init; }
}

public sealed record ScoreSearchRoundResult
{
    public required string State { get; init; }
    public required SearchTotals Totals { get; init; }
}

public sealed record SearchResultSummary
{
    public required string Artifact { get; init; }
    public required SearchReport Report { get; init; }
}

public sealed record SearchResultInput
{
    public required string SearchId { get; init; }
    public required string Problems { get; init; }
    public required string State { get; init; }
    public required SearchOptions Options { get; init; }
}

/// <summary>A row of a round's prompts.jsonl: the sample job reads id and prompt; the rest keeps the lineage of each proof.</summary>
public sealed record SearchPromptRow
{
    public required string Id { get; init; }
    public required string Prompt { get; init; }
    public required string ProblemId { get; init; }
    /// <summary>The problem's statement (the verification prompts of the proofs need it).</summary>
    public required string Problem { get; init; }
    public IReadOnlyList<string> ParentProofIds { get; init; } = [];
}

/// <summary>One row of the search's result: the best proof of a problem with its analyses (and the published release's fields).</summary>
public sealed record SearchResultRow
{
    public required string ProblemId { get; init; }
    public required string Problem { get; init; }
    public required PoolRecord Best { get; init; }
    public IReadOnlyList<PoolAnalysis> Analyses { get; init; } = [];
    public int Rounds { get; init; }
    public int Proofs { get; init; }
    public int Verifications { get; init; }
    public string? StopReason { get; init; }
    /// <summary>The published outputs' fields: question, problem_idx, model_prediction {proof, average_automatic_rating}.</summary>
    [System.Text.Json.Serialization.JsonPropertyName("question")] public string Question => Problem;
    [System.Text.Json.Serialization.JsonPropertyName("problem_idx")] public string ProblemIdx => ProblemId;
    [System.Text.Json.Serialization.JsonPropertyName("model_prediction")] public object ModelPrediction => new { proof = Best.Proof, average_automatic_rating = Best.MeanScore };
}


/// <summary>GET /api/searches/{id}: the search's status, each problem's standing after the last finished round, the running jobs.</summary>
public sealed record SearchView
{
    public required string Id { get; init; }
    public required string RuntimeStatus { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset LastUpdatedAt { get; init; }
    public SearchStatus? Status { get; init; }
    public IReadOnlyList<SearchProblemView> Problems { get; init; } = [];
    public IReadOnlyList<Http.JobProgressView> Jobs { get; init; } = [];
    public SearchResult? Output { get; init; }
    public string? Failure { get; init; }
}

public sealed record SearchProblemView
{
    public required string ProblemId { get; init; }
    /// <summary>The last round scored for it.</summary>
    public int Round { get; init; }
    public double? BestMeanScore { get; init; }
    public string? BestProofId { get; init; }
    public int Proofs { get; init; }
    public int Verifications { get; init; }
    public bool Stopped { get; init; }
    public string? StopReason { get; init; }

    public static SearchProblemView Of(ProblemState p) => new()
    {
        ProblemId = p.ProblemId, Round = p.Round, BestMeanScore = p.BestMeanScore, BestProofId = p.Top.Count > 0 ? p.Top[0].ProofId : null,
        Proofs = p.Proofs, Verifications = p.Verifications, Stopped = p.Stopped, StopReason = p.StopReason,
    };
}
