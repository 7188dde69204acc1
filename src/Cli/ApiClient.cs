using System.Text;
using System.Text.Json;

namespace MathV2.Cli;

/// <summary>The CLI's client of the HTTP API; problem+json answers become <see cref="CliException"/>s.</summary>
public sealed class ApiClient(string baseUrl, string key) : IDisposable
{
    readonly HttpClient _http = new() { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(30) };
    /// <summary>For file transfers: no overall timeout (a chunk or a file takes as long as it takes).</summary>
    readonly HttpClient _transfer = new() { BaseAddress = new Uri(baseUrl), Timeout = Timeout.InfiniteTimeSpan };

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

    public Task<T> GetAsync<T>(string path, CancellationToken ct = default) => SendAsync<T>(HttpMethod.Get, path, null, ct);
    public Task<T> PostAsync<T>(string path, object? body = null, CancellationToken ct = default) => SendAsync<T>(HttpMethod.Post, path, body, ct);
    public Task<T> DeleteAsync<T>(string path, CancellationToken ct = default) => SendAsync<T>(HttpMethod.Delete, path, null, ct);

    /// <summary>A route whose answer the CLI does not read (202 Accepted without a body): only its success counts.</summary>
    public Task PostAsync(string path, CancellationToken ct = default) => SendRawAsync(HttpMethod.Post, path, null, ct);

    /// <summary>A route that answers with text (JSONL, Markdown).</summary>
    public Task<string> GetTextAsync(string path, CancellationToken ct = default) => SendRawAsync(HttpMethod.Get, path, null, ct);

    /// <summary>Posts a text body (JSONL) and reads the JSON answer.</summary>
    public async Task<T> PostTextAsync<T>(string path, string text, string contentType, CancellationToken ct = default) =>
        Read<T>(path, await SendRawAsync(HttpMethod.Post, path, new StringContent(text, Encoding.UTF8, contentType), ct));

    /// <summary>A POST that may take long (an upload's commit validates every file): no timeout.</summary>
    public async Task<T> PostLongAsync<T>(string path, CancellationToken ct)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, path);
        req.Headers.Add("x-functions-key", key);
        HttpResponseMessage resp;
        try { resp = await _transfer.SendAsync(req, ct); }
        catch (HttpRequestException e) { throw new CliException($"cannot reach the MathV2 API at {_http.BaseAddress}: {e.Message} (is the stack up? ./mathv2 status)"); }
        using (resp)
        {
            string text = await resp.Content.ReadAsStringAsync(ct);
            if (!resp.IsSuccessStatusCode) throw new CliException($"{(int)resp.StatusCode} {resp.ReasonPhrase}: {Describe(text)}");
            return Read<T>(path, text);
        }
    }

    /// <summary>Sends a file or chunk; the status and text of the answer, failures included (the caller reads 409s).</summary>
    public async Task<(int Status, string Text)> PutStreamAsync(string path, Stream body, long? start, long length, long total, CancellationToken ct)
    {
        using var req = new HttpRequestMessage(HttpMethod.Put, path) { Content = new StreamContent(body) };
        req.Headers.Add("x-functions-key", key);
        req.Content.Headers.ContentLength = length;
        if (start is { } s) req.Content.Headers.ContentRange = new System.Net.Http.Headers.ContentRangeHeaderValue(s, s + length - 1, total);
        try
        {
            using var resp = await _transfer.SendAsync(req, ct);
            return ((int)resp.StatusCode, await resp.Content.ReadAsStringAsync(ct));
        }
        catch (HttpRequestException e) { return (0, e.Message); }
    }

    /// <summary>Streams a file of the API into <paramref name="target"/>; the answer's ETag (the sha256 the manifest records).</summary>
    public async Task<string?> DownloadAsync(string path, Stream target, CancellationToken ct)
    {
        using var req = new HttpRequestMessage(HttpMethod.Get, path);
        req.Headers.Add("x-functions-key", key);
        HttpResponseMessage resp;
        try { resp = await _transfer.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct); }
        catch (HttpRequestException e) { throw new CliException($"cannot reach the MathV2 API at {_http.BaseAddress}: {e.Message} (is the stack up? ./mathv2 status)"); }
        using (resp)
        {
            if (!resp.IsSuccessStatusCode) throw new CliException($"{(int)resp.StatusCode} {resp.ReasonPhrase}: {Describe(await resp.Content.ReadAsStringAsync(ct))}");
            await using var body = await resp.Content.ReadAsStreamAsync(ct);
            await body.CopyToAsync(target, 1 << 20, ct);
            return resp.Headers.ETag?.Tag.Trim('"');
        }
    }

    async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken ct) =>
        Read<T>(path, await SendRawAsync(method, path, body == null ? null : new StringContent(Core.Json.Serialize(body), Encoding.UTF8, "application/json"), ct));

    static T Read<T>(string path, string text)
    {
        try { return JsonSerializer.Deserialize<T>(text, Core.Json.Options) ?? throw new JsonException("null answer"); }
        catch (JsonException e) { throw new CliException($"unexpected answer from {path}: {e.Message}"); }
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
            if (!resp.IsSuccessStatusCode) throw new CliException($"{(int)resp.StatusCode} {resp.ReasonPhrase}: {Describe(text)}");
            return text;
        }
    }

    /// <summary>A problem+json answer in one line: the detail, then each field's errors.</summary>
    internal static string Describe(string text)
    {
        Core.Http.ProblemView? p;
        try { p = JsonSerializer.Deserialize<Core.Http.ProblemView>(text, Core.Json.Options); }
        catch (JsonException) { return text; }
        if (p?.Detail is not { } detail) return text;
        return p.Errors is { Count: > 0 } errors ? detail + " " + string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(", ", e.Value)}")) : detail;
    }

    public void Dispose() { _http.Dispose(); _transfer.Dispose(); }
}
