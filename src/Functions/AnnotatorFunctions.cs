using MathV2.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace MathV2.Functions;

/// <summary>An annotation batch opened by its own token (x-annotation-token), not a function key: annotators hold no key.</summary>
public sealed class AnnotatorFunctions(LapHandlers laps)
{
    [Function("GetAnnotationBatchByToken")]
    public Task<IActionResult> GetAnnotationBatchByToken(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "annotations/{batchId}")] HttpRequest req, string batchId) =>
        HttpFunctions.Execute(req, laps.GetAnnotationBatchByTokenAsync(req, batchId, req.HttpContext.RequestAborted));

    [Function("SubmitAnnotationsByToken")]
    public Task<IActionResult> SubmitAnnotationsByToken(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "annotations/{batchId}")] HttpRequest req,
        [DurableClient] DurableTaskClient client, string batchId) =>
        HttpFunctions.Execute(req, laps.SubmitAnnotationsByTokenAsync(req, client, batchId, req.HttpContext.RequestAborted));
}
