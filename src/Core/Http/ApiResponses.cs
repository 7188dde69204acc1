namespace MathV2.Core.Http;

/// <summary>POST /api/instances/{id}/terminate: the run was terminated; these GPU jobs of it were cancelled.</summary>
public sealed record TerminateResult
{
    public required string InstanceId { get; init; }
    public IReadOnlyList<string> CancelledJobs { get; init; } = [];
}

/// <summary>DELETE /api/instances/{id}: how many orchestration histories were deleted (the instance and its sub-orchestrations).</summary>
public sealed record PurgeResult
{
    public required int InstancesDeleted { get; init; }
}
