namespace MathV2.Tests;

/// <summary>The documented HTTP API (README's route table), as the Functions app declares its routes under /api.</summary>
public static class ApiRoutes
{
    public static readonly string[] Documented =
    [
        "POST probes", "GET instances/{id}", "DELETE instances/{id}", "POST instances/{id}/raiseEvent/{name}",
        "POST instances/{id}/{action:regex(^(terminate|rewind|restart|suspend|resume)$)}", "GET jobs/{id}", "GET jobs/{id}/metrics", "GET artifacts/{id}", "GET artifacts/{id}/lineage", "GET artifacts/{id}/files/{*path}",
        "POST laps", "GET laps", "GET laps/{id}", "GET laps/{id}/annotations/{batchId}", "POST laps/{id}/annotations/{batchId}",
        "POST laps/{id}/restart", "GET laps/{id}/report", "POST flywheels", "GET flywheels", "GET flywheels/{id}",
        "POST artifacts/uploads", "GET artifacts/uploads/{id}", "DELETE artifacts/uploads/{id}", "POST artifacts/uploads/{id}/commit",
        "PUT artifacts/uploads/{id}/files/{*path}", "POST searches", "GET searches", "GET searches/{id}", "GET searches/{id}/proofs",
    ];

    /// <summary>Routes opened by an annotation batch's own token (x-annotation-token) instead of the key.</summary>
    public static readonly string[] ByToken = ["GET annotations/{batchId}", "POST annotations/{batchId}"];

    /// <summary>"METHOD /api/path" with route constraints and catch-all marks taken off, as OpenAPI writes paths.</summary>
    public static IEnumerable<string> AsOpenApiPaths() => Documented.Concat(ByToken).Select(r =>
    {
        string[] parts = r.Split(' ', 2);
        string path = System.Text.RegularExpressions.Regex.Replace(parts[1], @"\{\*?([A-Za-z]+)(:[^}]*(\}[^/]*)?)?\}", "{$1}");
        return $"{parts[0]} /api/{path}";
    });
}
