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

/// <summary>GET /api/instances/{id}: an orchestration instance in the Durable Functions HTTP API's shape.</summary>
public sealed record InstanceView
{
    public string? Name { get; init; }
    public required string InstanceId { get; init; }
    public required string RuntimeStatus { get; init; }
    /// <summary>The orchestration's own input, custom status and output (each orchestration has its own record).</summary>
    public System.Text.Json.JsonElement? Input { get; init; }
    public System.Text.Json.JsonElement? CustomStatus { get; init; }
    public System.Text.Json.JsonElement? Output { get; init; }
    public InstanceFailure? FailureDetails { get; init; }
    public DateTimeOffset CreatedTime { get; init; }
    public DateTimeOffset LastUpdatedTime { get; init; }
    public IReadOnlyList<HistoryEventView>? HistoryEvents { get; init; }

    [System.Text.Json.Serialization.JsonIgnore] public bool IsFinished => RuntimeStates.IsFinished(RuntimeStatus);
    public T? CustomStatusAs<T>() where T : class => As<T>(CustomStatus);
    public T? OutputAs<T>() where T : class => As<T>(Output);

    static T? As<T>(System.Text.Json.JsonElement? e) where T : class
    {
        if (e is not { ValueKind: System.Text.Json.JsonValueKind.Object } o) return null;
        try { return System.Text.Json.JsonSerializer.Deserialize<T>(o, Json.Options); }
        catch (System.Text.Json.JsonException) { return null; }
    }
}

public sealed record InstanceFailure(string ErrorType, string? ErrorMessage);

/// <summary>One event of an instance's history (?showHistory=true).</summary>
public sealed record HistoryEventView
{
    public required string EventType { get; init; }
    public int EventId { get; init; }
    public DateTime Timestamp { get; init; }
    public string? Name { get; init; }
    public string? Failure { get; init; }
}

/// <summary>The runtime statuses of the Durable Task framework, as the API writes them.</summary>
public static class RuntimeStates
{
    public const string Completed = "Completed", Failed = "Failed", Terminated = "Terminated";
    public static bool IsFinished(string status) => status is Completed or Failed or Terminated;
}

/// <summary>GET /api/laps/{id}: the lap, the phase running and its jobs' progress, the result once completed.</summary>
public sealed record LapView
{
    public required string Id { get; init; }
    public required string RuntimeStatus { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset LastUpdatedAt { get; init; }
    public Laps.LapStatus? Status { get; init; }
    public PhaseView? PhaseStatus { get; init; }
    public Laps.LapResult? Output { get; init; }
    public string? Failure { get; init; }

    [System.Text.Json.Serialization.JsonIgnore] public bool IsFinished => RuntimeStates.IsFinished(RuntimeStatus);
}

/// <summary>The running phase of a lap: its sub-orchestration, its own status, and its GPU jobs' progress.</summary>
public sealed record PhaseView
{
    public required string InstanceId { get; init; }
    public required string RuntimeStatus { get; init; }
    public Laps.PhaseStatus? Status { get; init; }
    public IReadOnlyList<JobProgressView> Jobs { get; init; } = [];
    /// <summary>While the phase waits for people: the batch's annotator token and where annotators use it.</summary>
    public AnnotatorAccessView? Annotators { get; init; }
}

/// <summary>What an admin hands to annotators: the batch's token (it opens only this batch, until the deadline) and where to use it.</summary>
public sealed record AnnotatorAccessView
{
    public required string BatchId { get; init; }
    public required string Token { get; init; }
    public required DateTime ExpiresAt { get; init; }
    /// <summary>The dashboard's annotation page for this batch (the token is entered there, never put in the URL).</summary>
    public required string Page { get; init; }
    public required string Items { get; init; }
    public required string Submit { get; init; }

    public static AnnotatorAccessView Of(Laps.AnnotationAccess a) => new()
    {
        BatchId = a.BatchId, Token = a.Token, ExpiresAt = a.ExpiresAt, Page = $"/api/dashboard/#/annotate/{a.BatchId}",
        Items = $"GET /api/annotations/{a.BatchId} ({Laps.AnnotationAccess.Header}: the token)",
        Submit = $"POST /api/annotations/{a.BatchId} ({Laps.AnnotationAccess.Header}: the token; JSONL {{\"itemId\", \"score\"}} per item)",
    };
}

public sealed record JobProgressView
{
    public required string JobId { get; init; }
    public required Jobs.GpuJobStatus Status { get; init; }
    public int Attempt { get; init; }
    public Jobs.GpuJobProgress? Progress { get; init; }
}

/// <summary>A row of GET /api/laps, /api/flywheels or /api/searches: the run and its own status (LapStatus, FlywheelStatus, SearchStatus).</summary>
public sealed record RunSummary<TStatus> where TStatus : class
{
    public required string Id { get; init; }
    public required string RuntimeStatus { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset LastUpdatedAt { get; init; }
    public TStatus? Status { get; init; }
}

/// <summary>GET /api/flywheels/{id}: the lap running, the laps so far, why it stopped.</summary>
public sealed record FlywheelView
{
    public required string Id { get; init; }
    public required string RuntimeStatus { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset LastUpdatedAt { get; init; }
    public Laps.FlywheelStatus? Status { get; init; }
    public Laps.FlywheelResult? Output { get; init; }
    public string? Failure { get; init; }

    [System.Text.Json.Serialization.JsonIgnore] public bool IsFinished => RuntimeStates.IsFinished(RuntimeStatus);
}

/// <summary>POST /api/laps/{id}/annotations/{batchId}: the labels were stored and the waiting lap woken.</summary>
public sealed record AnnotationsAccepted
{
    public required string BatchId { get; init; }
    public required int Labels { get; init; }
    public required string InstanceId { get; init; }
}

/// <summary>The Durable Functions check-status payload.</summary>
public sealed record CheckStatusPayload
{
    public required string Id { get; init; }
    public required string StatusQueryGetUri { get; init; }
    public required string SendEventPostUri { get; init; }
    public required string TerminatePostUri { get; init; }
    public required string RewindPostUri { get; init; }
    public required string RestartPostUri { get; init; }
    public required string SuspendPostUri { get; init; }
    public required string ResumePostUri { get; init; }
    public required string PurgeHistoryDeleteUri { get; init; }

    public static CheckStatusPayload For(string baseUrl, string id, string? key)
    {
        string inst = $"{baseUrl}/api/instances/{Uri.EscapeDataString(id)}";
        string code = key == null ? "" : "code=" + Uri.EscapeDataString(key);
        string Q(string path, string? extra = null) =>
            path + (extra == null && code == "" ? "" : "?" + string.Join("&", new[] { extra, code == "" ? null : code }.Where(s => s != null)));
        return new CheckStatusPayload
        {
            Id = id,
            StatusQueryGetUri = Q(inst),
            SendEventPostUri = Q($"{inst}/raiseEvent/{{eventName}}"),
            TerminatePostUri = Q($"{inst}/terminate", "reason={text}"),
            RewindPostUri = Q($"{inst}/rewind", "reason={text}"),
            RestartPostUri = Q($"{inst}/restart"),
            SuspendPostUri = Q($"{inst}/suspend", "reason={text}"),
            ResumePostUri = Q($"{inst}/resume", "reason={text}"),
            PurgeHistoryDeleteUri = Q(inst),
        };
    }
}

/// <summary>An RFC 7807 problem+json answer (4xx/5xx), as the API writes it and the CLI reads it.</summary>
public sealed record ProblemView
{
    public string? Title { get; init; }
    public int? Status { get; init; }
    public string? Detail { get; init; }
    /// <summary>Field errors of a 400: the field's path → what is wrong with it.</summary>
    public Dictionary<string, string[]>? Errors { get; init; }
}

/// <summary>
/// GET /api/jobs/{id}/metrics answers with these headers: the attempt whose lines the body holds, and the byte offset
/// of the file the body starts at (the offset asked for, or 0 when it sends the whole file).
/// </summary>
public static class JobMetricsHeaders
{
    public const string Attempt = "X-MathV2-Metrics-Attempt", Offset = "X-MathV2-Metrics-Offset";
}
