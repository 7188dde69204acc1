using System.Security.Cryptography;
using System.Text;
using MathV2.Activities;
using MathV2.Api;
using MathV2.Core.Storage;
using MathV2.Orchestrations;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;

namespace MathV2.Host;

/// <summary>The local host's routes over the shared handlers, behind a function-key check as in Functions.</summary>
public static class Routes
{
    public static void MapMathV2Api(this WebApplication app, IReadOnlyList<string> keys)
    {
        var api = app.MapGroup("/api").AddEndpointFilter(async (ctx, next) =>
            KeyMatches(ApiHandlers.KeyOf(ctx.HttpContext.Request), keys) ? await next(ctx) : Problems.Unauthorized());

        api.MapOpenApi("/openapi/{documentName}.json");
        // An annotation batch with its own token (x-annotation-token), for annotators who hold no key.
        var annotators = app.MapGroup("/api/annotations");
        annotators.MapGet("/{batchId}", (HttpRequest req, string batchId, LapHandlers h, CancellationToken ct) => h.GetAnnotationBatchByTokenAsync(req, batchId, ct));
        annotators.MapPost("/{batchId}", (HttpRequest req, string batchId, LapHandlers h, DurableTaskClient c, CancellationToken ct) => h.SubmitAnnotationsByTokenAsync(req, c, batchId, ct));
        // The dashboard page: static files with no data (outside the key filter); every API call it makes sends the key.
        app.MapGet(DashboardPage.Route + "/{**file}", (HttpResponse res, string? file) => DashboardPage.Get(res, file)).ExcludeFromDescription();
        api.MapPost("/probes", (HttpRequest req, ApiHandlers h, DurableTaskClient c, CancellationToken ct) => h.StartProbeAsync(req, c, ct));
        api.MapGet("/instances/{id}", (HttpRequest req, string id, ApiHandlers h, DurableTaskClient c, CancellationToken ct) => h.GetInstanceAsync(req, c, id, ct));
        api.MapDelete("/instances/{id}", (HttpRequest req, string id, ApiHandlers h, DurableTaskClient c, CancellationToken ct) => h.PurgeInstanceAsync(req, c, id, ct));
        api.MapPost("/instances/{id}/raiseEvent/{name}", (HttpRequest req, string id, string name, ApiHandlers h, DurableTaskClient c, CancellationToken ct) => h.RaiseEventAsync(req, c, id, name, ct));
        api.MapPost("/instances/{id}/{action}", (HttpRequest req, string id, string action, ApiHandlers h, DurableTaskClient c, CancellationToken ct) => h.InstanceActionAsync(req, c, id, action, ct));
        api.MapPost("/laps", (HttpRequest req, LapHandlers h, DurableTaskClient c, CancellationToken ct) => h.StartLapAsync(req, c, ct));
        api.MapGet("/laps", (LapHandlers h, DurableTaskClient c, CancellationToken ct) => h.ListLapsAsync(c, ct));
        api.MapGet("/laps/{id}", (string id, LapHandlers h, DurableTaskClient c, CancellationToken ct) => h.GetLapAsync(c, id, ct));
        api.MapPost("/laps/{id}/restart", (HttpRequest req, string id, LapHandlers h, DurableTaskClient c, CancellationToken ct) => h.RestartLapAsync(req, c, id, ct));
        api.MapGet("/laps/{id}/report", (HttpRequest req, string id, LapHandlers h, CancellationToken ct) => h.GetReportAsync(req, id, ct));
        api.MapPost("/flywheels", (HttpRequest req, LapHandlers h, DurableTaskClient c, CancellationToken ct) => h.StartFlywheelAsync(req, c, ct));
        api.MapGet("/flywheels", (LapHandlers h, DurableTaskClient c, CancellationToken ct) => h.ListFlywheelsAsync(c, ct));
        api.MapGet("/flywheels/{id}", (string id, LapHandlers h, DurableTaskClient c, CancellationToken ct) => h.GetFlywheelAsync(c, id, ct));
        api.MapGet("/laps/{id}/annotations/{batchId}", (string id, string batchId, LapHandlers h, CancellationToken ct) => h.GetAnnotationBatchAsync(id, batchId, ct));
        api.MapPost("/laps/{id}/annotations/{batchId}", (HttpRequest req, string id, string batchId, LapHandlers h, DurableTaskClient c, CancellationToken ct) => h.SubmitAnnotationsAsync(req, c, id, batchId, ct));
        api.MapPost("/searches", (HttpRequest req, SearchHandlers h, DurableTaskClient c, CancellationToken ct) => h.StartAsync(req, c, ct));
        api.MapGet("/searches", (SearchHandlers h, DurableTaskClient c, CancellationToken ct) => h.ListAsync(c, ct));
        api.MapGet("/searches/{id}", (string id, SearchHandlers h, DurableTaskClient c, CancellationToken ct) => h.GetAsync(c, id, ct));
        api.MapGet("/searches/{id}/proofs", (string id, SearchHandlers h, CancellationToken ct) => h.GetProofsAsync(id, ct));
        api.MapGet("/jobs/{id}", (string id, ApiHandlers h, CancellationToken ct) => h.GetJobAsync(id, ct));
        api.MapGet("/jobs/{id}/metrics", (string id, HttpRequest req, ApiHandlers h, CancellationToken ct) => h.GetJobMetricsAsync(id, req, ct));
        api.MapPost("/artifacts/uploads", (HttpRequest req, UploadHandlers h, CancellationToken ct) => h.StartAsync(req, ct));
        api.MapGet("/artifacts/uploads/{id}", (string id, UploadHandlers h, CancellationToken ct) => h.GetAsync(id, ct));
        api.MapDelete("/artifacts/uploads/{id}", (string id, UploadHandlers h, CancellationToken ct) => h.AbandonAsync(id, ct));
        api.MapPost("/artifacts/uploads/{id}/commit", (string id, UploadHandlers h, CancellationToken ct) => h.CommitAsync(id, ct));
        api.MapPut("/artifacts/uploads/{id}/files/{**path}", (HttpRequest req, string id, string path, UploadHandlers h, CancellationToken ct) =>
        {
            // A chunk or a file is streamed into blocks, never buffered: no body size limit here (chunks keep requests small).
            if (req.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = null;
            return h.PutFileAsync(req, id, path, ct);
        });
        api.MapGet("/artifacts/{id}", (string id, ApiHandlers h, CancellationToken ct) => h.GetArtifactAsync(id, ct));
        api.MapGet("/artifacts/{id}/files/{**path}", (string id, string path, ApiHandlers h, CancellationToken ct) => h.GetArtifactFileAsync(id, path, ct));
        api.MapGet("/artifacts/{id}/lineage", (string id, ApiHandlers h, CancellationToken ct) => h.GetLineageAsync(id, ct));
        api.MapFallback(() => Results.Problem("No such API route.", statusCode: 404, title: "Not found"));
    }

    /// <summary>Whether the key given is one of the valid keys (two while one is rotated), compared in fixed time.</summary>
    public static bool KeyMatches(string? given, IReadOnlyList<string> keys)
    {
        if (given == null) return false;
        byte[] g = SHA256.HashData(Encoding.UTF8.GetBytes(given));
        bool any = false;
        foreach (string k in keys) any |= CryptographicOperations.FixedTimeEquals(g, SHA256.HashData(Encoding.UTF8.GetBytes(k)));
        return any;
    }

    /// <summary>Every orchestrator and activity of MathV2 (Orchestrators.All, ActivityServices.All).</summary>
    public static DurableTaskRegistry AddMathV2Tasks(this DurableTaskRegistry r)
    {
        // Each orchestrator emits its span when it ends (Traced).
        foreach (var o in Orchestrators.All) r.AddOrchestrator(new TaskName(o.Name), () => new TracedOrchestrator((ITaskOrchestrator)Activator.CreateInstance(o)!));
        // Each activity that may run again behind the guard that rides out a storage outage in place.
        foreach (var a in ActivityServices.All)
            r.AddActivity(new TaskName(a.Name), sp =>
            {
                var activity = (ITaskActivity)ActivatorUtilities.GetServiceOrCreateInstance(sp, a);
                return ActivityOutage.RidesOut(a.Name)
                    ? new StorageFaultGuard(activity, a.Name, sp.GetService<ILoggerFactory>()?.CreateLogger<StorageFaultGuard>())
                    : activity;
            });
        return r;
    }
}
