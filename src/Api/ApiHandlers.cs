using System.Text.Json;
using System.Text.Json.Serialization;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Http;
using MathV2.Core.Jobs;
using MathV2.Core.Probes;
using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask.Client;

namespace MathV2.Api;

/// <summary>
/// The HTTP API (README.md, "HTTP API"). Both hosts route here: the local host through minimal-API routes, the
/// Functions app through thin HTTP-trigger shells that pass their bound <see cref="DurableTaskClient"/>.
/// </summary>
public sealed class ApiHandlers(GpuJobClient jobs, ArtifactStore artifacts, GpuJobLimits defaultLimits, RunAdmission? admission = null)
{
    public static readonly string[] InstanceActions = ["terminate", "rewind", "restart", "suspend", "resume"];

    /// <summary>The job limits a probe or lap gets when its request names none (MATHV2_JOB_*).</summary>
    public GpuJobLimits DefaultLimits => defaultLimits;

    public const string ProbePrefix = "probe-";

    /// <summary>POST /api/probes: starts a Probe orchestration; 202 with the check-status payload (429 when MATHV2_MAX_ACTIVE_RUNS runs are active).</summary>
    public async Task<IResult> StartProbeAsync(HttpRequest req, DurableTaskClient client, CancellationToken ct = default)
    {
        var (request, error) = await ReadBodyAsync<ProbeRequest>(req, allowEmpty: true, ct);
        if (error != null) return error;
        request ??= new ProbeRequest();
        var errors = request.Validate().GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray());
        if (errors.Count > 0) return Problems.Invalid(errors);
        request = request with { Limits = request.Limits ?? defaultLimits };
        if (admission != null && await admission.AdmitAsync(client, ct) is { } full) return full;
        string id = ProbePrefix + Guid.NewGuid().ToString("N")[..12];
        await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.Probe, request, new() { InstanceId = id }, ct);
        return CheckStatus(req, id);
    }

    /// <summary>
    /// The 202 Accepted answer of Durable Functions' start routes: the check-status payload, a Location header (the
    /// status URI) and Retry-After.
    /// </summary>
    public static IResult CheckStatus(HttpRequest req, string id)
    {
        var payload = CheckStatusPayload.For(BaseUrl(req), id, KeyOf(req));
        return HeaderResult.InProgress(Results.Json(payload, Json.Options, statusCode: 202), payload.StatusQueryGetUri);
    }

    /// <summary>
    /// The status code of GET /api/instances/{id} in the Durable Functions HTTP API: 202 while the instance is in
    /// progress (Pending, Running, Suspended), 200 once it has stopped (Completed, Failed, Terminated).
    /// </summary>
    public static int InstanceStatusCode(OrchestrationRuntimeStatus status) => status switch
    {
        OrchestrationRuntimeStatus.Pending or OrchestrationRuntimeStatus.Running or OrchestrationRuntimeStatus.Suspended => 202,
#pragma warning disable CS0618 // ContinuedAsNew is obsolete in the client but still reported by some backends.
        OrchestrationRuntimeStatus.ContinuedAsNew => 202,
#pragma warning restore CS0618
        _ => 200,
    };

    /// <summary>GET /api/instances/{id}?showHistory=true&amp;showInput=false</summary>
    public async Task<IResult> GetInstanceAsync(HttpRequest req, DurableTaskClient client, string id, CancellationToken ct = default)
    {
        if (!Ids.IsValid(id)) return Problems.BadRequest($"'{id}' is not a valid instance id", "id");
        bool showInput = BoolQuery(req, "showInput", true);
        var meta = await client.GetInstanceAsync(id, getInputsAndOutputs: true, ct);
        if (meta == null) return Problems.NotFound("Instance", id);
        List<Core.Http.HistoryEventView>? history = null;
        if (BoolQuery(req, "showHistory", false))
            history = (await client.GetOrchestrationHistoryAsync(id, ct)).Select(e => new Core.Http.HistoryEventView
            {
                EventType = e.EventType.ToString(),
                EventId = e.EventId,
                Timestamp = e.Timestamp,
                Name = (e as global::DurableTask.Core.History.TaskScheduledEvent)?.Name
                       ?? (e as global::DurableTask.Core.History.SubOrchestrationInstanceCreatedEvent)?.Name
                       ?? (e as global::DurableTask.Core.History.EventRaisedEvent)?.Name
                       ?? (e as global::DurableTask.Core.History.ExecutionStartedEvent)?.Name,
                Failure = e switch
                {
                    global::DurableTask.Core.History.TaskFailedEvent f => f.FailureDetails?.ErrorMessage ?? f.Reason,
                    global::DurableTask.Core.History.SubOrchestrationInstanceFailedEvent f => f.FailureDetails?.ErrorMessage ?? f.Reason,
                    global::DurableTask.Core.History.ExecutionCompletedEvent f => f.FailureDetails?.ErrorMessage,
                    _ => null,
                },
            }).ToList();
        // The local engine reports an orchestration's failure as its output; present both engines alike.
        JsonElement? output = ParseOrNull(meta.SerializedOutput);
        var failure = meta.FailureDetails == null ? null : new Core.Http.InstanceFailure(meta.FailureDetails.ErrorType, meta.FailureDetails.ErrorMessage);
        if (failure == null && meta.RuntimeStatus == OrchestrationRuntimeStatus.Failed && output is { ValueKind: JsonValueKind.String } message)
            (failure, output) = (new Core.Http.InstanceFailure("OrchestrationFailed", message.GetString()), null);
        int code = InstanceStatusCode(meta.RuntimeStatus);
        var body = Results.Json(new Core.Http.InstanceView
        {
            Name = meta.Name,
            InstanceId = meta.InstanceId,
            RuntimeStatus = meta.RuntimeStatus.ToString(),
            Input = showInput ? ParseOrNull(meta.SerializedInput) : null,
            CustomStatus = ParseOrNull(meta.SerializedCustomStatus),
            Output = output,
            FailureDetails = failure,
            CreatedTime = meta.CreatedAt,
            LastUpdatedTime = meta.LastUpdatedAt,
            HistoryEvents = history,
        }, Json.Options, statusCode: code);
        if (code != 202) return body;
        return HeaderResult.InProgress(body, $"{BaseUrl(req)}{req.PathBase}{req.Path}{req.QueryString}");
    }

    /// <summary>POST /api/instances/{id}/{terminate|rewind|restart|suspend|resume}?reason=…</summary>
    public async Task<IResult> InstanceActionAsync(HttpRequest req, DurableTaskClient client, string id, string action, CancellationToken ct = default)
    {
        if (!InstanceActions.Contains(action))
            return Problems.NotFound("Instance action", action);
        if (!Ids.IsValid(id)) return Problems.BadRequest($"'{id}' is not a valid instance id", "id");
        var meta = await client.GetInstanceAsync(id, getInputsAndOutputs: false, ct);
        if (meta == null) return Problems.NotFound("Instance", id);
        string reason = req.Query["reason"].FirstOrDefault() ?? $"{action} requested over HTTP";
        var status = meta.RuntimeStatus;
        bool terminal = status is OrchestrationRuntimeStatus.Completed or OrchestrationRuntimeStatus.Failed or OrchestrationRuntimeStatus.Terminated;
        switch (action)
        {
            case "terminate":
                if (terminal) return Problems.Conflict($"instance {id} is already {status}");
                var cancelled = await InstanceTree.TerminateAsync(client, jobs, id, reason, ct);
                return Results.Json(new Core.Http.TerminateResult { InstanceId = id, CancelledJobs = cancelled }, Json.Options, statusCode: 202);
            case "rewind":
                if (status != OrchestrationRuntimeStatus.Failed) return Problems.Conflict($"only a Failed instance can be rewound; {id} is {status}");
                await client.RewindInstanceAsync(id, reason, ct);
                return Results.Accepted();
            case "suspend":
                if (status is not (OrchestrationRuntimeStatus.Running or OrchestrationRuntimeStatus.Pending))
                    return Problems.Conflict($"only a Running instance can be suspended; {id} is {status}");
                await client.SuspendInstanceAsync(id, reason, ct);
                return Results.Accepted();
            case "resume":
                if (status != OrchestrationRuntimeStatus.Suspended) return Problems.Conflict($"only a Suspended instance can be resumed; {id} is {status}");
                await client.ResumeInstanceAsync(id, reason, ct);
                return Results.Accepted();
            default: // restart
                if (!terminal) return Problems.Conflict($"instance {id} is {status}; terminate it before restarting");
                bool newId = BoolQuery(req, "restartWithNewInstanceId", true);
                string newInstance = await client.RestartAsync(id, newId, ct);
                return CheckStatus(req, newInstance);
        }
    }

    /// <summary>POST /api/instances/{id}/raiseEvent/{name} with a JSON body (the event data).</summary>
    public async Task<IResult> RaiseEventAsync(HttpRequest req, DurableTaskClient client, string id, string name, CancellationToken ct = default)
    {
        if (!Ids.IsValid(id)) return Problems.BadRequest($"'{id}' is not a valid instance id", "id");
        if (string.IsNullOrWhiteSpace(name) || name.Length > 200) return Problems.BadRequest("event name must be 1-200 characters", "name");
        var (data, error) = await ReadBodyAsync<JsonElement?>(req, allowEmpty: true, ct);
        if (error != null) return error;
        var meta = await client.GetInstanceAsync(id, getInputsAndOutputs: false, ct);
        if (meta == null) return Problems.NotFound("Instance", id);
        if (meta.RuntimeStatus is OrchestrationRuntimeStatus.Completed or OrchestrationRuntimeStatus.Failed or OrchestrationRuntimeStatus.Terminated)
            return Problems.Conflict($"instance {id} is {meta.RuntimeStatus} and takes no events");
        await client.RaiseEventAsync(id, name, data, ct);
        return Results.Accepted();
    }

    /// <summary>DELETE /api/instances/{id}: purge a finished instance's history.</summary>
    public async Task<IResult> PurgeInstanceAsync(HttpRequest req, DurableTaskClient client, string id, CancellationToken ct = default)
    {
        if (!Ids.IsValid(id)) return Problems.BadRequest($"'{id}' is not a valid instance id", "id");
        var meta = await client.GetInstanceAsync(id, getInputsAndOutputs: false, ct);
        if (meta == null) return Problems.NotFound("Instance", id);
        if (meta.RuntimeStatus is not (OrchestrationRuntimeStatus.Completed or OrchestrationRuntimeStatus.Failed or OrchestrationRuntimeStatus.Terminated))
            return Problems.Conflict($"instance {id} is {meta.RuntimeStatus}; terminate it before purging");
        // A lap or flywheel is purged with its phases and job orchestrations.
        return Results.Json(new Core.Http.PurgeResult { InstancesDeleted = await InstanceTree.PurgeAsync(client, id, ct) }, Json.Options);
    }

    /// <summary>GET /api/jobs/{id}: record, attempts, progress, worker.</summary>
    public async Task<IResult> GetJobAsync(string id, CancellationToken ct = default)
    {
        if (!Ids.IsValid(id)) return Problems.BadRequest($"'{id}' is not a valid job id", "id");
        var record = await jobs.GetAsync(id, ct);
        return record == null ? Problems.NotFound("Job", id) : Results.Json(record, Json.Options);
    }

    /// <summary>
    /// GET /api/jobs/{id}/metrics[?offset=B&amp;attempt=A]: a training job's metrics, one JSON line per step (loss,
    /// learning rate, reward, KL, …): those so far while it runs (published with its heartbeats), all of them once it
    /// has succeeded. With offset and attempt (a reader that holds the first B bytes attempt A wrote), only the bytes
    /// after them; when the lines are another attempt's, all of them. The headers name the attempt and the offset
    /// the body starts at (B, or 0 for all).
    /// </summary>
    public async Task<IResult> GetJobMetricsAsync(string id, HttpRequest? req = null, CancellationToken ct = default)
    {
        if (!Ids.IsValid(id)) return Problems.BadRequest($"'{id}' is not a valid job id", "id");
        long offset = 0;
        int? attempt = null;
        if (req != null)
        {
            string? o = req.Query["offset"], a = req.Query["attempt"];
            if ((o == null) != (a == null)) return Problems.BadRequest("give offset and attempt together (the bytes held, and the attempt that wrote them), or neither", o == null ? "offset" : "attempt");
            if (o != null && (!long.TryParse(o, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out offset)))
                return Problems.BadRequest($"offset must be a whole number of bytes, not '{o}'", "offset");
            if (a != null) attempt = int.TryParse(a, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n >= 1 ? n
                : -1;
            if (attempt == -1) return Problems.BadRequest($"attempt must be a whole number from 1, not '{a}'", "attempt");
        }
        var record = await jobs.GetAsync(id, ct);
        if (record == null) return Problems.NotFound("Job", id);
        const string file = "metrics.jsonl", type = "application/x-ndjson";
        // The reader's bytes are this attempt's and within the file: the rest (from their end); else all of it (from 0).
        IResult Slice(byte[] bytes, int by, long from, long length) => new HeaderResult(Results.Bytes(bytes, type), new Dictionary<string, string>
        {
            [Core.Http.JobMetricsHeaders.Attempt] = by.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [Core.Http.JobMetricsHeaders.Offset] = (attempt == by && from <= length ? from : 0).ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        if (record.Status == GpuJobStatus.Succeeded && record.ResultArtifactId is { } result && await artifacts.GetAsync(result, ct) is { } m && m.Files.Any(f => f.Path == file))
        {
            byte[] all = await artifacts.ReadFileAsync(m, file, ct);
            return attempt == record.Attempt && offset <= all.Length ? Slice(all[(int)offset..], record.Attempt, offset, all.Length) : Slice(all, record.Attempt, 0, all.Length);
        }
        if (await jobs.ReadLiveMetricsAsync(id, attempt == null ? 0 : offset, ct) is { } live)
        {
            if (attempt == null || (attempt == live.Attempt && offset <= live.Length)) return Slice(live.Bytes, live.Attempt, offset, live.Length);
            var whole = (await jobs.ReadLiveMetricsAsync(id, 0, ct))!.Value;   // another attempt's lines: all of them
            return Slice(whole.Bytes, whole.Attempt, 0, whole.Length);
        }
        return Results.Problem($"Job '{id}' has no metrics (yet): a training job (sft, grpo) writes them from its first step.", statusCode: 404, title: "Not found");
    }

    /// <summary>GET /api/artifacts/{id}: the manifest.</summary>
    public async Task<IResult> GetArtifactAsync(string id, CancellationToken ct = default)
    {
        if (!Ids.IsValid(id)) return Problems.BadRequest($"'{id}' is not a valid artifact id", "id");
        var m = await artifacts.GetAsync(id, ct);
        return m == null ? Problems.NotFound("Artifact", id) : Results.Json(m, Json.Options);
    }

    /// <summary>
    /// GET /api/artifacts/{id}/files/{path}: one file of an artifact, streamed as stored (Range honoured; the ETag is
    /// the manifest's sha256, which clients check).
    /// </summary>
    public async Task<IResult> GetArtifactFileAsync(string id, string path, CancellationToken ct = default)
    {
        if (!Ids.IsValid(id)) return Problems.BadRequest($"'{id}' is not a valid artifact id", "id");
        var m = await artifacts.GetAsync(id, ct);
        if (m == null) return Problems.NotFound("Artifact", id);
        var file = m.Files.FirstOrDefault(f => f.Path == path);
        if (file == null) return Problems.NotFound($"File of artifact {id}", path);
        var stream = await artifacts.OpenReadAsync(m, path, ct);
        string type = path.EndsWith(".jsonl") ? "application/x-ndjson" : path.EndsWith(".json") ? "application/json" : path.EndsWith(".md") ? "text/markdown" : "application/octet-stream";
        return Results.Stream(stream, type, entityTag: new Microsoft.Net.Http.Headers.EntityTagHeaderValue($"\"{file.Sha256}\""), enableRangeProcessing: true);
    }

    /// <summary>GET /api/artifacts/{id}/lineage: ancestors, edges and children.</summary>
    public async Task<IResult> GetLineageAsync(string id, CancellationToken ct = default)
    {
        if (!Ids.IsValid(id)) return Problems.BadRequest($"'{id}' is not a valid artifact id", "id");
        var l = await artifacts.GetLineageAsync(id, ct: ct);
        return l == null ? Problems.NotFound("Artifact", id) : Results.Json(l, Json.Options);
    }

    /// <summary>Reads a JSON body; malformed JSON, wrong types and unknown fields give 400 naming the field.</summary>
    public static async Task<(T? Value, IResult? Error)> ReadBodyAsync<T>(HttpRequest req, bool allowEmpty, CancellationToken ct)
    {
        using var reader = new StreamReader(req.Body);
        string text = await reader.ReadToEndAsync(ct);
        if (string.IsNullOrWhiteSpace(text))
            return allowEmpty ? (default, null) : (default, Problems.BadRequest("a JSON body is required", "body"));
        try
        {
            var value = JsonSerializer.Deserialize<T>(text, Json.Strict);
            // A literal null where an object is expected is a mistake, not "all defaults".
            if (value is null && Nullable.GetUnderlyingType(typeof(T)) == null)
                return (default, Problems.BadRequest("the body must be a JSON object, not null", "body"));
            return (value, null);
        }
        catch (JsonException e)
        {
            var (field, message) = JsonErrors.Describe(e);
            return (default, Problems.BadRequest(message, field));
        }
    }

    public static string BaseUrl(HttpRequest req) => $"{req.Scheme}://{req.Host}";

    public static string? KeyOf(HttpRequest req) =>
        req.Headers["x-functions-key"].FirstOrDefault() ?? req.Query["code"].FirstOrDefault();

    static bool BoolQuery(HttpRequest req, string name, bool fallback) =>
        bool.TryParse(req.Query[name].FirstOrDefault(), out bool v) ? v : fallback;

    internal static JsonElement? ParseOrNull(string? json)
    {
        if (string.IsNullOrEmpty(json)) return null;
        try { return JsonDocument.Parse(json).RootElement.Clone(); }
        catch (JsonException) { return JsonSerializer.SerializeToElement(json); }
    }
}
