using System.Text;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Http;
using MathV2.Core.Telemetry;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using MathV2.Core.Models;
using MathV2.Core.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask.Client;

namespace MathV2.Api;

/// <summary>The lap routes: start, show, list, restart, report, flywheels, and the annotation batches a lap waits for.</summary>
public sealed class LapHandlers(MathV2Storage storage, ArtifactStore artifacts, GpuJobClient jobs, GpuJobLimits defaultLimits, RunAdmission? admission = null)
{
    public const string LapPrefix = "lap-";
    public const string FlywheelPrefix = "fly-";

    /// <summary>POST /api/laps: validates the LapSpec (field-level errors) and starts a Lap; 202 with the check-status payload.</summary>
    public async Task<IResult> StartLapAsync(HttpRequest req, DurableTaskClient client, CancellationToken ct = default)
    {
        var (spec, error) = await ApiHandlers.ReadBodyAsync<LapSpec>(req, allowEmpty: true, ct);
        if (error != null) return error;
        spec ??= new LapSpec();
        spec = spec with { Limits = spec.Limits ?? defaultLimits };
        if (await InvalidAsync(spec.Validate(), spec, "", ct) is { } invalid) return invalid;
        string id = LapPrefix + Guid.NewGuid().ToString("N")[..12];
        if (admission != null && await admission.AdmitAsync(client, ct) is { } full) return full;
        await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.Lap, new LapInput { LapId = id, Spec = spec, TraceParent = MathV2Telemetry.CurrentTraceParent() }, new() { InstanceId = id }, ct);
        return ApiHandlers.CheckStatus(req, id);
    }

    /// <summary>
    /// POST /api/laps/{id}/restart?fromPhase=P: a new lap that takes over the named lap's phases before P (their
    /// results and artifacts) and runs P and the rest. The body may give a new LapSpec; the old one otherwise.
    /// Every phase before P must have completed in the named lap (409 otherwise).
    /// </summary>
    public async Task<IResult> RestartLapAsync(HttpRequest req, DurableTaskClient client, string id, CancellationToken ct = default)
    {
        if (!Ids.IsValid(id) || !id.StartsWith(LapPrefix)) return Problems.BadRequest($"'{id}' is not a lap id", "id");
        string? from = req.Query["fromPhase"];
        if (string.IsNullOrEmpty(from)) return Problems.BadRequest($"fromPhase is required: one of {string.Join(", ", LapPhases.Names)}", "fromPhase");
        from = from.ToLowerInvariant();
        int index = Array.IndexOf(LapPhases.Names, from);
        if (index < 0) return Problems.BadRequest($"fromPhase '{from}' is not a phase: one of {string.Join(", ", LapPhases.Names)}", "fromPhase");
        var meta = await client.GetInstanceAsync(id, getInputsAndOutputs: true, ct);
        if (meta == null) return Problems.NotFound("Lap", id);
        if (meta.RuntimeStatus is OrchestrationRuntimeStatus.Running or OrchestrationRuntimeStatus.Pending or OrchestrationRuntimeStatus.Suspended)
            return Problems.Conflict($"lap {id} is still {meta.RuntimeStatus.ToString().ToLowerInvariant()}; restart it once it has finished, failed or been terminated");
        var old = meta.ReadInputAs<LapInput>()!;
        var (spec, error) = await ApiHandlers.ReadBodyAsync<LapSpec>(req, allowEmpty: true, ct);
        if (error != null) return error;
        spec = spec == null ? old.Spec : spec with { Limits = spec.Limits ?? defaultLimits };
        if (await InvalidAsync(spec.Validate(), spec, "", ct) is { } invalid) return invalid;
        var reused = new List<PhaseResult>();
        foreach (string phase in LapPhases.Names.Take(index))
        {
            if (old.Reused.FirstOrDefault(r => r.Phase == phase) is { } carried) { reused.Add(carried); continue; }
            var sub = await client.GetInstanceAsync($"{id}-{phase}", getInputsAndOutputs: true, ct);
            if (sub?.RuntimeStatus != OrchestrationRuntimeStatus.Completed)
                return Problems.Conflict($"phase {phase} of lap {id} did not complete ({sub?.RuntimeStatus.ToString() ?? "never started"}); restart from it or an earlier phase");
            reused.Add(sub.ReadOutputAs<PhaseResult>()! with { ReusedFrom = id });
        }
        string newId = LapPrefix + Guid.NewGuid().ToString("N")[..12];
        if (admission != null && await admission.AdmitAsync(client, ct) is { } full) return full;
        await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.Lap, old with { LapId = newId, Spec = spec, Reused = reused, RestartedFrom = id, TraceParent = MathV2Telemetry.CurrentTraceParent() },
            new() { InstanceId = newId }, ct);
        return ApiHandlers.CheckStatus(req, newId);
    }

    /// <summary>GET /api/laps/{id}/report[?format=json]: the finished lap's report (Markdown, or JSON).</summary>
    public async Task<IResult> GetReportAsync(HttpRequest req, string id, CancellationToken ct = default)
    {
        if (!Ids.IsValid(id) || !id.StartsWith(LapPrefix)) return Problems.BadRequest($"'{id}' is not a lap id", "id");
        var m = await artifacts.GetAsync($"{id}.report", ct);
        if (m == null) return Problems.NotFound("Lap report", id);
        bool json = req.Query["format"] == "json";
        byte[] bytes = await artifacts.ReadFileAsync(m, json ? LapFiles.ReportJson : LapFiles.ReportMarkdown, ct);
        return Results.Text(Encoding.UTF8.GetString(bytes), json ? "application/json" : "text/markdown", Encoding.UTF8);
    }

    /// <summary>POST /api/flywheels: a FlywheelSpec (laps, humanFreeFromLap, gates, lap: a LapSpec) → 202; laps are lap-{hex}_{k}.</summary>
    public async Task<IResult> StartFlywheelAsync(HttpRequest req, DurableTaskClient client, CancellationToken ct = default)
    {
        var (spec, error) = await ApiHandlers.ReadBodyAsync<FlywheelSpec>(req, allowEmpty: true, ct);
        if (error != null) return error;
        spec ??= new FlywheelSpec();
        spec = spec with { Lap = spec.Lap with { Limits = spec.Lap.Limits ?? defaultLimits } };
        if (await InvalidAsync(spec.Validate(), spec.Lap, "lap.", ct) is { } invalid) return invalid;
        string id = FlywheelPrefix + Guid.NewGuid().ToString("N")[..12];
        if (admission != null && await admission.AdmitAsync(client, ct) is { } full) return full;
        await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.Flywheel, new FlywheelInput { FlywheelId = id, Spec = spec, TraceParent = MathV2Telemetry.CurrentTraceParent() }, new() { InstanceId = id }, ct);
        return ApiHandlers.CheckStatus(req, id);
    }

    /// <summary>
    /// The spec's field errors and those only storage can tell (baseCheckpoint names a checkpoint artifact), all at
    /// once as one 400; null when the spec may start.
    /// </summary>
    async Task<IResult?> InvalidAsync(IEnumerable<(string Field, string Message)> fieldErrors, LapSpec lap, string prefix, CancellationToken ct)
    {
        var errors = fieldErrors.ToList();
        if (lap.BaseCheckpoint is { } id && Ids.IsValid(id))
        {
            if (await CheckpointProblemAsync(id, ct) is { } problem) errors.Add(($"{prefix}baseCheckpoint", problem));
            else if (lap.ChatTemplate && await ChatTemplateProblemAsync(id, ct) is { } chat) errors.Add(($"{prefix}chatTemplate", chat));
        }
        if (lap.Domain == LapSpec.DatasetsDomain && lap.Datasets is { } datasets)
        {
            var reads = new Dictionary<string, (string Artifact, string File)>();
            foreach (var (role, did, _, files) in datasets.Roles())
                if (did is { } d && Ids.IsValid(d))
                {
                    var (why, file) = await DatasetProblemAsync(d, files, ct);
                    if (why != null) errors.Add(($"{prefix}datasets.{role}", why));
                    else reads[role] = (d, file!);
                }
            // A held-out role that would read its training role's file measures on training data.
            foreach (var (heldOut, training) in new[] { ("heldOutProblems", "problems"), ("heldOutGradedProofs", "gradedProofs"), ("heldOutRatedAnalyses", "ratedAnalyses") })
                if (reads.TryGetValue(heldOut, out var h) && reads.TryGetValue(training, out var t) && h == t)
                    errors.Add(($"{prefix}datasets.{heldOut}", $"reads {h.File} of '{h.Artifact}', the file datasets.{training} trains on: held-out rows must be apart (a heldout- file, or another artifact)"));
        }
        if (errors.Count == 0) return null;
        return Problems.Invalid(errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()));
    }

    Task<string?> CheckpointProblemAsync(string id, CancellationToken ct) => ArtifactDoor.CheckpointProblemAsync(artifacts, id, ct);

    Task<string?> ChatTemplateProblemAsync(string id, CancellationToken ct) => ArtifactDoor.ChatTemplateProblemAsync(artifacts, id, ct);

    Task<(string? Problem, string? File)> DatasetProblemAsync(string id, string[] files, CancellationToken ct) => ArtifactDoor.DatasetProblemAsync(artifacts, id, files, ct);

    /// <summary>GET /api/flywheels/{id}: the lap running, the laps so far (with their reports), why it stopped.</summary>
    public async Task<IResult> GetFlywheelAsync(DurableTaskClient client, string id, CancellationToken ct = default)
    {
        if (!Ids.IsValid(id) || !id.StartsWith(FlywheelPrefix)) return Problems.BadRequest($"'{id}' is not a flywheel id", "id");
        var meta = await client.GetInstanceAsync(id, getInputsAndOutputs: true, ct);
        if (meta == null) return Problems.NotFound("Flywheel", id);
        return Results.Json(new FlywheelView
        {
            Id = id, RuntimeStatus = meta.RuntimeStatus.ToString(), CreatedAt = meta.CreatedAt, LastUpdatedAt = meta.LastUpdatedAt,
            Status = Read<FlywheelStatus>(meta.SerializedCustomStatus), Output = OutputOf<FlywheelResult>(meta), Failure = FailureOf(meta),
        }, Json.Options);
    }

    /// <summary>GET /api/laps/{id}: runtime status, the lap's phase status, the running phase's own status (job, annotation wait), output.</summary>
    public async Task<IResult> GetLapAsync(DurableTaskClient client, string id, CancellationToken ct = default)
    {
        if (!Ids.IsValid(id) || !id.StartsWith(LapPrefix)) return Problems.BadRequest($"'{id}' is not a lap id", "id");
        var meta = await client.GetInstanceAsync(id, getInputsAndOutputs: true, ct);
        if (meta == null) return Problems.NotFound("Lap", id);
        var status = Read<LapStatus>(meta.SerializedCustomStatus);
        PhaseView? phaseView = null;
        if (status?.Phase is { } phase && phase is not ("done" or "datasets")
            && await client.GetInstanceAsync($"{id}-{phase}", getInputsAndOutputs: true, ct) is { } sub)   // custom status comes only with inputs and outputs
        {
            var phaseStatus = Read<PhaseStatus>(sub.SerializedCustomStatus);
            var running = await jobs.ProgressAsync(phaseStatus?.Jobs ?? [], ct);
            // A batch waiting for people: its annotator token, issued on this first look (admins hand it on).
            AnnotatorAccessView? annotators = null;
            if (phaseStatus is { Status: PhaseStatus.AwaitingAnnotation, BatchId: { } batchId, Deadline: { } deadline })
                annotators = AnnotatorAccessView.Of(await LapStore.IssueAccessAsync(storage, batchId, deadline, ct));
            phaseView = new PhaseView { InstanceId = sub.InstanceId, RuntimeStatus = sub.RuntimeStatus.ToString(), Status = phaseStatus, Jobs = running, Annotators = annotators };
        }
        return Results.Json(new LapView
        {
            Id = id, RuntimeStatus = meta.RuntimeStatus.ToString(), CreatedAt = meta.CreatedAt, LastUpdatedAt = meta.LastUpdatedAt,
            Status = status, PhaseStatus = phaseView, Output = OutputOf<LapResult>(meta), Failure = FailureOf(meta),
        }, Json.Options);
    }

    /// <summary>GET /api/laps: the laps, newest first.</summary>
    public async Task<IResult> ListLapsAsync(DurableTaskClient client, CancellationToken ct = default) =>
        Results.Json(await ApiJson.ListRunsAsync<LapStatus>(client, LapPrefix, ct), Json.Options);

    /// <summary>GET /api/flywheels: the flywheels, newest first, each with its lap running and the laps so far.</summary>
    public async Task<IResult> ListFlywheelsAsync(DurableTaskClient client, CancellationToken ct = default) =>
        Results.Json(await ApiJson.ListRunsAsync<FlywheelStatus>(client, FlywheelPrefix, ct), Json.Options);

    /// <summary>GET /api/laps/{id}/annotations/{batchId}: the batch's items as JSONL.</summary>
    public async Task<IResult> GetAnnotationBatchAsync(string id, string batchId, CancellationToken ct = default)
    {
        var batch = await LapStore.GetBatchAsync(storage, batchId, ct);
        if (batch == null || batch.LapId != id) return Problems.NotFound("Annotation batch", batchId);
        return await ItemsAsync(batch, ct);
    }

    /// <summary>GET /api/annotations/{batchId}: the batch's items with its annotator token (x-annotation-token), no admin key.</summary>
    public async Task<IResult> GetAnnotationBatchByTokenAsync(HttpRequest req, string batchId, CancellationToken ct = default)
    {
        var (batch, refused) = await ByTokenAsync(req, batchId, ct);
        return refused ?? await ItemsAsync(batch!, ct);
    }

    /// <summary>POST /api/annotations/{batchId}: the labels, with the batch's annotator token; as the admin route otherwise.</summary>
    public async Task<IResult> SubmitAnnotationsByTokenAsync(HttpRequest req, DurableTaskClient client, string batchId, CancellationToken ct = default)
    {
        var (batch, refused) = await ByTokenAsync(req, batchId, ct);
        return refused ?? await SubmitAsync(req, client, batch!, ct);
    }

    /// <summary>
    /// POST /api/laps/{id}/annotations/{batchId}: labels as JSONL ({"itemId", "score"} per line). Every item must be
    /// labelled exactly once with 0, 0.5 or 1; any bad line rejects the whole submission (400, each line named) and
    /// nothing is stored; a batch takes one submission (409 after). Stored labels wake the waiting lap.
    /// </summary>
    public async Task<IResult> SubmitAnnotationsAsync(HttpRequest req, DurableTaskClient client, string id, string batchId, CancellationToken ct = default)
    {
        var batch = await LapStore.GetBatchAsync(storage, batchId, ct);
        if (batch == null || batch.LapId != id) return Problems.NotFound("Annotation batch", batchId);
        return await SubmitAsync(req, client, batch, ct);
    }

    /// <summary>The batch the token opens, or the 401 answer (the same for a wrong token, a batch without one and no batch).</summary>
    async Task<(AnnotationBatch? Batch, IResult? Refused)> ByTokenAsync(HttpRequest req, string batchId, CancellationToken ct)
    {
        // A batch that does not exist answers as one the token does not open: the anonymous route tells nothing more.
        var batch = await LapStore.GetBatchAsync(storage, batchId, ct);
        string? given = req.Headers[AnnotationAccess.Header].FirstOrDefault();
        var access = batch == null ? null : await LapStore.GetAccessAsync(storage, batchId, ct);
        string? why = access == null ? (string.IsNullOrEmpty(given) ? $"the {AnnotationAccess.Header} header with the batch's token is required" : $"the token does not open batch {batchId}")
            : access.Refuses(given, DateTime.UtcNow);
        return why == null ? (batch, null) : (null, Problems.Unauthorized(why));
    }

    async Task<IResult> ItemsAsync(AnnotationBatch batch, CancellationToken ct) =>
        Results.Text(await LapStore.ReadTextAsync(storage, StorageNames.AnnotationsContainer, batch.ItemsPath, ct), "application/x-ndjson", Encoding.UTF8);

    async Task<IResult> SubmitAsync(HttpRequest req, DurableTaskClient client, AnnotationBatch batch, CancellationToken ct)
    {
        string batchId = batch.BatchId;
        using var reader = new StreamReader(req.Body);
        string body = await reader.ReadToEndAsync(ct);
        if (string.IsNullOrWhiteSpace(body)) return Problems.BadRequest("a JSONL body is required: one {\"itemId\", \"score\"} per line", "body");
        var items = AnnotationValidation.ReadItems(await LapStore.ReadTextAsync(storage, StorageNames.AnnotationsContainer, batch.ItemsPath, ct));
        var (labels, errors) = AnnotationValidation.Parse(body, items);
        if (errors.Count > 0)
            return Problems.Invalid(errors.GroupBy(e => e.Line == 0 ? e.Field : $"line {e.Line}: {e.Field}").ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
                $"{errors.Count} problem(s) in the labels; nothing was stored");
        // A phase that stopped waiting (its deadline passed, the lap was terminated) takes no labels: nothing is stored.
        var phase = await client.GetInstanceAsync(batch.InstanceId, getInputsAndOutputs: false, ct);
        if (phase == null || DurableErrors.IsFinished(phase.RuntimeStatus))
            return Problems.Conflict($"{batch.InstanceId} no longer waits for batch {batchId} (it is {phase?.RuntimeStatus.ToString() ?? "gone"}); nothing was stored");
        if (!await LapStore.TryStoreLabelsAsync(storage, batch, labels, ct)) return Problems.Conflict($"batch {batchId} was already labelled");
        try { await client.RaiseEventAsync(batch.InstanceId, AnnotationEvents.Submitted(batchId), labels.Count, ct); }
        catch (Exception e) when (DurableErrors.IsNotRunning(e))
        {
            return Problems.Conflict($"{batch.InstanceId} stopped waiting while the labels were stored; they are kept with batch {batchId}, but the lap did not take them");
        }
        return Results.Json(new AnnotationsAccepted { BatchId = batchId, Labels = labels.Count, InstanceId = batch.InstanceId }, Json.Options, statusCode: 202);
    }

    static T? Read<T>(string? json) where T : class => ApiJson.Read<T>(json);

    static T? OutputOf<T>(OrchestrationMetadata meta) where T : class => ApiJson.OutputOf<T>(meta);

    static string? FailureOf(OrchestrationMetadata meta) => ApiJson.FailureOf(meta);
}
