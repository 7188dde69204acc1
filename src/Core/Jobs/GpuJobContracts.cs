using System.Text.Json;

namespace MathV2.Core.Jobs;

/// <summary>
/// Where a GPU job stands. Queued → Running → Succeeded | Failed (Running → Queued on a retry); Queued or Running →
/// Cancelled when its lap or flywheel is terminated (no worker claims it again; a running attempt stops).
/// </summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<GpuJobStatus>))]
public enum GpuJobStatus { Queued, Running, Succeeded, Failed, Cancelled }

/// <summary>Job kinds the worker knows.</summary>
public static class GpuJobKinds
{
    public const string Probe = "probe";
    public const string Sft = "sft";
    public const string Sample = "sample";
    public const string Grpo = "grpo";
    public const string Refine = "refine";
    public static readonly string[] All = [Probe, Sft, Sample, Grpo, Refine];
}

/// <summary>
/// Limits of one job, shared by the orchestrator (timeouts, requeue) and the worker (attempts).
/// Defaults live here; hosts may override them through <see cref="GpuJobLimits.FromEnvironment"/>.
/// </summary>
public sealed record GpuJobLimits
{
    /// <summary>Attempts before the job fails (a worker crash or a thrown error each use one).</summary>
    public int MaxAttempts { get; init; } = 3;
    /// <summary>A queued job that no worker claims within this time fails the wait ("no worker").</summary>
    public int ClaimTimeoutSeconds { get; init; } = 600;
    /// <summary>A running job whose heartbeat is older than this is considered lost and requeued.</summary>
    public int HeartbeatStaleSeconds { get; init; } = 90;
    /// <summary>Overall limit from submission to a result.</summary>
    public int JobTimeoutSeconds { get; init; } = 6 * 3600;
    /// <summary>How often the orchestrator checks the job record when no event arrives (backing off to 8x this while the worker heartbeats).</summary>
    public int PollSeconds { get; init; } = 30;

    /// <summary>Field-level validation errors (empty when valid).</summary>
    public IEnumerable<(string Field, string Message)> Validate(string prefix = "limits")
    {
        if (MaxAttempts is < 1 or > 20) yield return ($"{prefix}.maxAttempts", "must be between 1 and 20");
        if (ClaimTimeoutSeconds is < 1 or > 7 * 86400) yield return ($"{prefix}.claimTimeoutSeconds", "must be between 1 and 604800");
        if (HeartbeatStaleSeconds is < 2 or > 86400) yield return ($"{prefix}.heartbeatStaleSeconds", "must be between 2 and 86400");
        if (JobTimeoutSeconds is < 1 or > 30 * 86400) yield return ($"{prefix}.jobTimeoutSeconds", "must be between 1 and 2592000");
        if (PollSeconds is < 1 or > 3600) yield return ($"{prefix}.pollSeconds", "must be between 1 and 3600");
    }

    /// <summary>
    /// Defaults, overridden by MATHV2_JOB_MAX_ATTEMPTS, _CLAIM_TIMEOUT_S, _HEARTBEAT_STALE_S, _TIMEOUT_S, _POLL_S;
    /// a value that does not parse or breaks a limit stops the host with the variable named.
    /// </summary>
    public static GpuJobLimits FromEnvironment(Settings? settings = null)
    {
        var env = settings ?? Settings.Environment;
        var d = new GpuJobLimits();
        var names = new Dictionary<string, string>
        {
            ["limits.maxAttempts"] = "MATHV2_JOB_MAX_ATTEMPTS", ["limits.claimTimeoutSeconds"] = "MATHV2_JOB_CLAIM_TIMEOUT_S",
            ["limits.heartbeatStaleSeconds"] = "MATHV2_JOB_HEARTBEAT_STALE_S", ["limits.jobTimeoutSeconds"] = "MATHV2_JOB_TIMEOUT_S",
            ["limits.pollSeconds"] = "MATHV2_JOB_POLL_S",
        };
        var limits = new GpuJobLimits
        {
            MaxAttempts = env.Int(names["limits.maxAttempts"], d.MaxAttempts),
            ClaimTimeoutSeconds = env.Int(names["limits.claimTimeoutSeconds"], d.ClaimTimeoutSeconds),
            HeartbeatStaleSeconds = env.Int(names["limits.heartbeatStaleSeconds"], d.HeartbeatStaleSeconds),
            JobTimeoutSeconds = env.Int(names["limits.jobTimeoutSeconds"], d.JobTimeoutSeconds),
            PollSeconds = env.Int(names["limits.pollSeconds"], d.PollSeconds),
        };
        var errors = limits.Validate().Select(e => $"{names[e.Field]} {e.Message}").ToList();
        if (errors.Count > 0) throw new SettingsException(string.Join("; ", errors));
        return limits;
    }
}

/// <summary>What to run: written to jobs/{jobId}/spec.json by SubmitGpuJob.</summary>
public sealed record GpuJobSpec : MathV2.Core.Telemetry.ITraced
{
    public required string JobId { get; init; }
    public required string Kind { get; init; }
    /// <summary>The orchestration instance (RunGpuJob) that waits for the job's event.</summary>
    public required string InstanceId { get; init; }
    /// <summary>Kind-specific parameters.</summary>
    public JsonElement? Parameters { get; init; }
    /// <summary>Artifacts the job reads; they become the parents of its result.</summary>
    public IReadOnlyList<string> Inputs { get; init; } = [];
    public string? Lap { get; init; }
    public string? Phase { get; init; }
    public GpuJobLimits Limits { get; init; } = new();
    /// <summary>Prompts go to the models as one user turn of their chat template (tokenizer_config.json's chat_template).</summary>
    public bool ChatTemplate { get; init; }
    /// <summary>The date chat templates print (strftime_now): the day the lap submitted the job, so retries see the same prompts.</summary>
    public DateTime? ChatDate { get; init; }
    /// <summary>The W3C traceparent of the span this runs under (docs/observe.md, "Traces and metrics"); null: a trace of its own.</summary>
    public string? TraceParent { get; init; }
}

/// <summary>How a job ended, as carried by a job-event and returned by RunGpuJob.</summary>
public sealed record GpuJobOutcome
{
    public required string JobId { get; init; }
    public required GpuJobStatus Status { get; init; }
    public int Attempt { get; init; }
    public string? ResultArtifactId { get; init; }
    public string? Error { get; init; }
    public string? WorkerId { get; init; }
    /// <summary>Small kind-specific result summary (the full result is the artifact).</summary>
    public JsonElement? Summary { get; init; }
}

/// <summary>A message on job-events: the outcome and the instance to wake.</summary>
public sealed record GpuJobEvent
{
    public required string InstanceId { get; init; }
    public required GpuJobOutcome Outcome { get; init; }
    public const string EventName = "job-finished";
}

/// <summary>One attempt of a job, as recorded.</summary>
public sealed record GpuJobAttempt
{
    public required int Number { get; init; }
    public required string WorkerId { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
    /// <summary>running, succeeded, failed, lost (heartbeat went stale), abandoned, requeued or cancelled.</summary>
    public required string State { get; init; }
    public string? Error { get; init; }
}

/// <summary>The job record (table jobs), as the API shows it.</summary>
public sealed record GpuJobRecord
{
    public required string JobId { get; init; }
    public required string Kind { get; init; }
    public required GpuJobStatus Status { get; init; }
    public required string InstanceId { get; init; }
    public int Attempt { get; init; }
    public int MaxAttempts { get; init; }
    public string? WorkerId { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset QueuedAt { get; init; }
    public DateTimeOffset? HeartbeatAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public GpuJobProgress? Progress { get; init; }
    public string? Error { get; init; }
    public string? ResultArtifactId { get; init; }
    public JsonElement? Summary { get; init; }
    public bool FailureConfirmed { get; init; }
    public IReadOnlyList<GpuJobAttempt> Attempts { get; init; } = [];
    public string? Lap { get; init; }
    public string? Phase { get; init; }
}

/// <summary>Input of the FailGpuJob activity: give up on a job (or, after a rewind, requeue it with this many more attempts).</summary>
public sealed record FailGpuJobInput(string JobId, string Reason, int ExtraAttempts);
