using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;

namespace MathV2.Tests;

/// <summary>
/// An Application Insights ingestion endpoint of the test's own: the Azure Monitor exporter posts (gzipped) JSON
/// lines to {endpoint}/v2.1/track; each is kept as the path, a newline and the body. Accepts everything.
/// </summary>
public sealed class IngestionEndpoint : IAsyncDisposable
{
    readonly HttpListener listener = new();
    readonly Task serving;
    public ConcurrentQueue<string> Posts { get; } = new();
    public string ConnectionString { get; }

    public IngestionEndpoint()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0)) { probe.Start(); port = ((IPEndPoint)probe.LocalEndpoint).Port; probe.Stop(); }
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        ConnectionString = $"InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=http://127.0.0.1:{port}/";
        serving = Task.Run(ServeAsync);
    }

    async Task ServeAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await listener.GetContextAsync(); } catch (Exception) { return; }
            Stream body = ctx.Request.InputStream;
            if (ctx.Request.Headers["Content-Encoding"] == "gzip") body = new GZipStream(body, CompressionMode.Decompress);
            using (var reader = new StreamReader(body)) Posts.Enqueue(ctx.Request.Url!.AbsolutePath + "\n" + await reader.ReadToEndAsync());
            var answer = """{"itemsReceived":1,"itemsAccepted":1,"errors":[]}"""u8.ToArray();
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = "application/json";
            await ctx.Response.OutputStream.WriteAsync(answer);
            ctx.Response.Close();
        }
    }

    /// <summary>Every telemetry item received (one JSON line each).</summary>
    public List<string> Items() => [.. Posts.SelectMany(p => p.Split('\n').Skip(1)).Where(l => l.Length > 0)];

    public async ValueTask DisposeAsync()
    {
        listener.Stop();
        await serving;
        listener.Close();
    }
}
