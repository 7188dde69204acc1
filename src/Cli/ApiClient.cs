using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace MathV2.Cli;

/// <summary>The CLI's client of the HTTP API; problem+json answers become <see cref="CliException"/>s.</summary>
public sealed class ApiClient(string baseUrl, string key) : IDisposable
{
    readonly HttpClient _http = new() { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(30) };

    public string BaseUrl => baseUrl;
    public string Key => key;

    /// <summary>MATHV2_URL/MATHV2_KEY from the environment, else the stack's .mathv2/env.</summary>
    public static ApiClient FromEnvironment(StackLayout layout)
    {
        string? url = Environment.GetEnvironmentVariable("MATHV2_URL");
        string? key = Environment.GetEnvironmentVariable("MATHV2_KEY");
        if ((url == null || key == null) && File.Exists(layout.EnvFile))
            foreach (string line in File.ReadAllLines(layout.EnvFile))
            {
                if (line.StartsWith("MATHV2_URL=")) url ??= line["MATHV2_URL=".Length..];
                if (line.StartsWith("MATHV2_KEY=")) key ??= line["MATHV2_KEY=".Length..];
            }
        if (url == null || key == null)
            throw new CliException("the local stack is not up (no .mathv2/env): run ./mathv2 up, or set MATHV2_URL and MATHV2_KEY");
        return new ApiClient(url, key);
    }

    public Task<JsonElement> GetAsync(string path, CancellationToken ct = default) => SendAsync(HttpMethod.Get, path, null, ct);
    public Task<JsonElement> PostAsync(string path, object? body = null, CancellationToken ct = default) => SendAsync(HttpMethod.Post, path, body, ct);
    public Task<JsonElement> DeleteAsync(string path, CancellationToken ct = default) => SendAsync(HttpMethod.Delete, path, null, ct);

    /// <summary>A route that answers with text (JSONL).</summary>
    public Task<string> GetTextAsync(string path, CancellationToken ct = default) => SendRawAsync(HttpMethod.Get, path, null, ct);

    /// <summary>Posts a text body (JSONL) and returns the JSON answer.</summary>
    public async Task<JsonElement> PostTextAsync(string path, string text, string contentType, CancellationToken ct = default)
    {
        string answer = await SendRawAsync(HttpMethod.Post, path, new StringContent(text, Encoding.UTF8, contentType), ct);
        using var doc = JsonDocument.Parse(string.IsNullOrWhiteSpace(answer) ? "{}" : answer);
        return doc.RootElement.Clone();
    }

    async Task<JsonElement> SendAsync(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        string text = await SendRawAsync(method, path, body == null ? null : new StringContent(Core.Json.Serialize(body), Encoding.UTF8, "application/json"), ct);
        if (string.IsNullOrWhiteSpace(text)) return JsonDocument.Parse("{}").RootElement.Clone();
        using var ok = JsonDocument.Parse(text);
        return ok.RootElement.Clone();
    }

    async Task<string> SendRawAsync(HttpMethod method, string path, HttpContent? content, CancellationToken ct)
    {
        using var req = new HttpRequestMessage(method, path);
        req.Headers.Add("x-functions-key", key);
        req.Content = content;
        HttpResponseMessage resp;
        try { resp = await _http.SendAsync(req, ct); }
        catch (HttpRequestException e) { throw new CliException($"cannot reach the MathV2 API at {_http.BaseAddress}: {e.Message} (is the stack up? ./mathv2 status)"); }
        using (resp)
        {
            string text = await resp.Content.ReadAsStringAsync(ct);
            if (!resp.IsSuccessStatusCode)
            {
                string detail = text;
                try
                {
                    using var doc = JsonDocument.Parse(text);
                    detail = doc.RootElement.TryGetProperty("detail", out var d) ? d.GetString() ?? text : text;
                    if (doc.RootElement.TryGetProperty("errors", out var errs))
                        detail += " " + string.Join("; ", errs.EnumerateObject().Select(p => $"{p.Name}: {string.Join(", ", p.Value.EnumerateArray())}"));
                }
                catch (JsonException) { }
                throw new CliException($"{(int)resp.StatusCode} {resp.ReasonPhrase}: {detail}");
            }
            return text;
        }
    }

    public void Dispose() => _http.Dispose();
}
