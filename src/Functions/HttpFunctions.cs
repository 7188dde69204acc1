using MathV2.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace MathV2.Functions;

/// <summary>HTTP triggers: each forwards to the shared <see cref="ApiHandlers"/>. Keys are checked by the Functions host.</summary>
public sealed class HttpFunctions(ApiHandlers api, LapHandlers laps, SearchHandlers searches, UploadHandlers uploads)
{
    [Function("StartUpload")]
    public Task<IActionResult> StartUpload(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "artifacts/uploads")] HttpRequest req) =>
        Execute(req, uploads.StartAsync(req, req.HttpContext.RequestAborted));

    [Function("GetUpload")]
    public Task<IActionResult> GetUpload(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "artifacts/uploads/{id}")] HttpRequest req, string id) =>
        Execute(req, uploads.GetAsync(id, req.HttpContext.RequestAborted));

    [Function("AbandonUpload")]
    public Task<IActionResult> AbandonUpload(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "artifacts/uploads/{id}")] HttpRequest req, string id) =>
        Execute(req, uploads.AbandonAsync(id, req.HttpContext.RequestAborted));

    [Function("CommitUpload")]
    public Task<IActionResult> CommitUpload(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "artifacts/uploads/{id}/commit")] HttpRequest req, string id) =>
        Execute(req, uploads.CommitAsync(id, req.HttpContext.RequestAborted));

    [Function("PutUploadFile")]
    public Task<IActionResult> PutUploadFile(
        [HttpTrigger(AuthorizationLevel.Function, "put", Route = "artifacts/uploads/{id}/files/{*path}")] HttpRequest req, string id, string path) =>
        Execute(req, uploads.PutFileAsync(req, id, path, req.HttpContext.RequestAborted));

    [Function("StartLap")]
    public Task<IActionResult> StartLap(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "laps")] HttpRequest req,
        [DurableClient] DurableTaskClient client) =>
        Execute(req, laps.StartLapAsync(req, client, req.HttpContext.RequestAborted));

    [Function("ListLaps")]
    public Task<IActionResult> ListLaps(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "laps")] HttpRequest req,
        [DurableClient] DurableTaskClient client) =>
        Execute(req, laps.ListLapsAsync(client, req.HttpContext.RequestAborted));

    [Function("GetLap")]
    public Task<IActionResult> GetLap(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "laps/{id}")] HttpRequest req,
        [DurableClient] DurableTaskClient client, string id) =>
        Execute(req, laps.GetLapAsync(client, id, req.HttpContext.RequestAborted));

    [Function("GetAnnotationBatch")]
    public Task<IActionResult> GetAnnotationBatch(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "laps/{id}/annotations/{batchId}")] HttpRequest req, string id, string batchId) =>
        Execute(req, laps.GetAnnotationBatchAsync(id, batchId, req.HttpContext.RequestAborted));

    [Function("SubmitAnnotations")]
    public Task<IActionResult> SubmitAnnotations(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "laps/{id}/annotations/{batchId}")] HttpRequest req,
        [DurableClient] DurableTaskClient client, string id, string batchId) =>
        Execute(req, laps.SubmitAnnotationsAsync(req, client, id, batchId, req.HttpContext.RequestAborted));

    [Function("RestartLap")]
    public Task<IActionResult> RestartLap(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "laps/{id}/restart")] HttpRequest req,
        [DurableClient] DurableTaskClient client, string id) =>
        Execute(req, laps.RestartLapAsync(req, client, id, req.HttpContext.RequestAborted));

    [Function("GetLapReport")]
    public Task<IActionResult> GetLapReport(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "laps/{id}/report")] HttpRequest req, string id) =>
        Execute(req, laps.GetReportAsync(req, id, req.HttpContext.RequestAborted));

    [Function("StartFlywheel")]
    public Task<IActionResult> StartFlywheel(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "flywheels")] HttpRequest req,
        [DurableClient] DurableTaskClient client) =>
        Execute(req, laps.StartFlywheelAsync(req, client, req.HttpContext.RequestAborted));

    [Function("ListFlywheels")]
    public Task<IActionResult> ListFlywheels(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "flywheels")] HttpRequest req,
        [DurableClient] DurableTaskClient client) =>
        Execute(req, laps.ListFlywheelsAsync(client, req.HttpContext.RequestAborted));

    [Function("GetFlywheel")]
    public Task<IActionResult> GetFlywheel(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "flywheels/{id}")] HttpRequest req,
        [DurableClient] DurableTaskClient client, string id) =>
        Execute(req, laps.GetFlywheelAsync(client, id, req.HttpContext.RequestAborted));

    [Function("StartSearch")]
    public Task<IActionResult> StartSearch(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "searches")] HttpRequest req,
        [DurableClient] DurableTaskClient client) =>
        Execute(req, searches.StartAsync(req, client, req.HttpContext.RequestAborted));

    [Function("ListSearches")]
    public Task<IActionResult> ListSearches(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "searches")] HttpRequest req,
        [DurableClient] DurableTaskClient client) =>
        Execute(req, searches.ListAsync(client, req.HttpContext.RequestAborted));

    [Function("GetSearch")]
    public Task<IActionResult> GetSearch(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "searches/{id}")] HttpRequest req,
        [DurableClient] DurableTaskClient client, string id) =>
        Execute(req, searches.GetAsync(client, id, req.HttpContext.RequestAborted));

    [Function("GetSearchProofs")]
    public Task<IActionResult> GetSearchProofs(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "searches/{id}/proofs")] HttpRequest req, string id) =>
        Execute(req, searches.GetProofsAsync(id, req.HttpContext.RequestAborted));

    [Function("StartProbe")]
    public Task<IActionResult> StartProbe(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "probes")] HttpRequest req,
        [DurableClient] DurableTaskClient client) =>
        Execute(req, api.StartProbeAsync(req, client, req.HttpContext.RequestAborted));

    [Function("GetInstance")]
    public Task<IActionResult> GetInstance(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "instances/{id}")] HttpRequest req,
        [DurableClient] DurableTaskClient client, string id) =>
        Execute(req, api.GetInstanceAsync(req, client, id, req.HttpContext.RequestAborted));

    [Function("PurgeInstance")]
    public Task<IActionResult> PurgeInstance(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "instances/{id}")] HttpRequest req,
        [DurableClient] DurableTaskClient client, string id) =>
        Execute(req, api.PurgeInstanceAsync(req, client, id, req.HttpContext.RequestAborted));

    [Function("RaiseEvent")]
    public Task<IActionResult> RaiseEvent(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "instances/{id}/raiseEvent/{name}")] HttpRequest req,
        [DurableClient] DurableTaskClient client, string id, string name) =>
        Execute(req, api.RaiseEventAsync(req, client, id, name, req.HttpContext.RequestAborted));

    [Function("InstanceAction")]
    public Task<IActionResult> InstanceAction(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "instances/{id}/{action:regex(^(terminate|rewind|restart|suspend|resume)$)}")] HttpRequest req,
        [DurableClient] DurableTaskClient client, string id, string action) =>
        Execute(req, api.InstanceActionAsync(req, client, id, action, req.HttpContext.RequestAborted));

    [Function("GetJob")]
    public Task<IActionResult> GetJob(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "jobs/{id}")] HttpRequest req, string id) =>
        Execute(req, api.GetJobAsync(id, req.HttpContext.RequestAborted));

    [Function("GetJobMetrics")]
    public Task<IActionResult> GetJobMetrics(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "jobs/{id}/metrics")] HttpRequest req, string id) =>
        Execute(req, api.GetJobMetricsAsync(id, req, req.HttpContext.RequestAborted));

    [Function("GetArtifact")]
    public Task<IActionResult> GetArtifact(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "artifacts/{id}")] HttpRequest req, string id) =>
        Execute(req, api.GetArtifactAsync(id, req.HttpContext.RequestAborted));

    [Function("GetArtifactFile")]
    public Task<IActionResult> GetArtifactFile(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "artifacts/{id}/files/{*path}")] HttpRequest req, string id, string path) =>
        Execute(req, api.GetArtifactFileAsync(id, path, req.HttpContext.RequestAborted));

    [Function("GetArtifactLineage")]
    public Task<IActionResult> GetArtifactLineage(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "artifacts/{id}/lineage")] HttpRequest req, string id) =>
        Execute(req, api.GetLineageAsync(id, req.HttpContext.RequestAborted));

    /// <summary>Runs the shared handler's result against the request's HttpContext.</summary>
    internal static async Task<IActionResult> Execute(HttpRequest req, Task<IResult> handler)
    {
        IResult result = await handler;
        await result.ExecuteAsync(req.HttpContext);
        return new EmptyResult();
    }
}
