using System.Text.RegularExpressions;
using MathV2.Core;
using MathV2.Core.Artifacts;
using Microsoft.AspNetCore.Http;

namespace MathV2.Api;

/// <summary>What POST /api/artifacts/uploads takes.</summary>
public sealed record UploadRequest
{
    /// <summary>checkpoint or dataset.</summary>
    public string Kind { get; init; } = "";
    /// <summary>The artifact's id; a generated one when left out.</summary>
    public string? Name { get; init; }
}

/// <summary>
/// Uploads over HTTP (docs/protocol.md, "Uploads"): start, send files (whole or in Content-Range chunks), look,
/// commit (validated; the artifact appears) or abandon.
/// </summary>
public sealed partial class UploadHandlers(ArtifactUploads uploads)
{
    [GeneratedRegex(@"^bytes (?<start>\d+)-(?<end>\d+)/(?<total>\d+)$")]
    private static partial Regex ContentRange();

    /// <summary>POST /api/artifacts/uploads: 201 with the upload and its URL.</summary>
    public async Task<IResult> StartAsync(HttpRequest req, CancellationToken ct = default)
    {
        var (body, error) = await ApiHandlers.ReadBodyAsync<UploadRequest>(req, allowEmpty: false, ct);
        if (error != null) return error;
        return await Guarded(async () =>
        {
            var session = await uploads.StartAsync(body!.Kind, body.Name, ct);
            return Results.Json(await uploads.ViewAsync(session, ct), Json.Options, statusCode: 201);
        });
    }

    /// <summary>GET /api/artifacts/uploads/{id}: the upload and the bytes of each file received so far.</summary>
    public Task<IResult> GetAsync(string id, CancellationToken ct = default) => WithSession(id, ct, async s => Results.Json(await uploads.ViewAsync(s, ct), Json.Options));

    /// <summary>PUT /api/artifacts/uploads/{id}/files/{path}: a whole file, or a chunk with Content-Range: bytes START-END/TOTAL.</summary>
    public Task<IResult> PutFileAsync(HttpRequest req, string id, string path, CancellationToken ct = default) => WithSession(id, ct, async s =>
    {
        long? start = null, end = null, total = null;
        if (req.Headers.ContentRange.ToString() is { Length: > 0 } range)
        {
            var m = ContentRange().Match(range);
            if (!m.Success || !long.TryParse(m.Groups["start"].Value, out long a) || !long.TryParse(m.Groups["end"].Value, out long b) || !long.TryParse(m.Groups["total"].Value, out long t))
                return Problems.BadRequest($"Content-Range must be 'bytes START-END/TOTAL', not '{range}'", "Content-Range");
            if (b < a || b >= t) return Problems.BadRequest($"Content-Range '{range}' is not a range of the file", "Content-Range");
            (start, end, total) = (a, b, t);
        }
        var state = await uploads.PutFileAsync(s, path, req.Body, start, end, total, ct);
        return Results.Json(state, Json.Options);
    });

    /// <summary>POST /api/artifacts/uploads/{id}/commit: 201 with the manifest, or 400 listing every problem (nothing committed).</summary>
    public Task<IResult> CommitAsync(string id, CancellationToken ct = default) => WithSession(id, ct, async s =>
        Results.Json(await uploads.CommitAsync(s, ct), Json.Options, statusCode: 201));

    /// <summary>DELETE /api/artifacts/uploads/{id}: deletes what was sent.</summary>
    public Task<IResult> AbandonAsync(string id, CancellationToken ct = default) => WithSession(id, ct, async s =>
    {
        await uploads.AbandonAsync(s, ct);
        return Results.Json(new { uploadId = s.UploadId, status = "abandoned" }, Json.Options);
    });

    async Task<IResult> WithSession(string id, CancellationToken ct, Func<UploadSession, Task<IResult>> action)
    {
        var session = await uploads.GetAsync(id, ct);
        if (session == null) return Problems.NotFound("Upload", id);
        return await Guarded(() => action(session));
    }

    static async Task<IResult> Guarded(Func<Task<IResult>> action)
    {
        try { return await action(); }
        catch (UploadException e) when (e.Status == 409)
        {
            return Results.Problem(e.Message, statusCode: 409, title: "Conflict",
                extensions: e.Received is { } r ? new Dictionary<string, object?> { ["received"] = r } : null);
        }
        catch (UploadException e)
        {
            var errors = new Dictionary<string, string[]> { [e.Field ?? "body"] = e.Problems.Count > 0 ? [.. e.Problems.Take(100)] : [e.Message] };
            return Problems.Invalid(errors, e.Problems.Count > 0 ? $"{e.Message}:\n{UploadValidation.Summarize(e.Problems)}" : e.Message);
        }
    }
}
