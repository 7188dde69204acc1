using MathV2.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace MathV2.Functions;

/// <summary>The dashboard page (GET /api/dashboard/): static files with no data, so anonymous; its API calls carry the key.</summary>
public sealed class DashboardFunctions
{
    [Function("Dashboard")]
    public Task<IActionResult> Dashboard(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "dashboard/{*file}")] HttpRequest req, string? file) =>
        HttpFunctions.Execute(req, Task.FromResult(DashboardPage.Get(req.HttpContext.Response, file)));
}
