using System.Reflection;
using Microsoft.AspNetCore.Http;

namespace MathV2.Api;

/// <summary>
/// GET /api/dashboard/{file}: the dashboard's static page (index.html, dashboard.js, dashboard.css), embedded in this
/// assembly. The page holds no data and needs no key to load; every call it makes to the API sends the key in a header.
/// </summary>
public static class DashboardPage
{
    public const string Route = "/api/dashboard";

    /// <summary>Scripts, styles and API calls from this origin only; plots arrive as blob: URLs.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

    static readonly Dictionary<string, (string ContentType, byte[] Bytes)> Files = Load();

    static Dictionary<string, (string, byte[])> Load()
    {
        var asm = typeof(DashboardPage).Assembly;
        var files = new Dictionary<string, (string, byte[])>(StringComparer.Ordinal);
        foreach (string name in asm.GetManifestResourceNames().Where(n => n.StartsWith("dashboard/", StringComparison.Ordinal)))
        {
            using var s = asm.GetManifestResourceStream(name)!;
            using var ms = new MemoryStream();
            s.CopyTo(ms);
            string file = name["dashboard/".Length..];
            string type = Path.GetExtension(file) switch
            {
                ".html" => "text/html; charset=utf-8", ".js" => "text/javascript; charset=utf-8", ".css" => "text/css; charset=utf-8", _ => "application/octet-stream",
            };
            files[file] = (type, ms.ToArray());
        }
        return files;
    }

    /// <summary>The page's files by name (for tests: every script and style the page loads is one of them).</summary>
    public static IReadOnlyCollection<string> Names => Files.Keys;

    /// <summary>A file of the page; "" is index.html. An unknown file is a 404 problem.</summary>
    public static IResult Get(HttpResponse response, string? file)
    {
        file = string.IsNullOrEmpty(file) ? "index.html" : file;
        if (!Files.TryGetValue(file, out var f)) return Problems.NotFound("Dashboard file", file);
        response.Headers["Content-Security-Policy"] = ContentSecurityPolicy;
        response.Headers["X-Content-Type-Options"] = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers.CacheControl = "no-cache";
        return Results.Bytes(f.Bytes, f.ContentType);
    }
}
