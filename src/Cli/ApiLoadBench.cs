using System.Collections.Concurrent;
using System.Diagnostics;

namespace MathV2.Cli;

/// <summary>What `bench api` runs: how many clients, for how long (or how many requests in all), over which routes.</summary>
public sealed record ApiLoadOptions
{
    public int Clients { get; init; } = 16;
    public double Seconds { get; init; } = 30;
    /// <summary>Stop after this many requests in all (0: run for <see cref="Seconds"/>).</summary>
    public int Requests { get; init; }
    /// <summary>GET routes, taken in turn by each client (offset by the client's number).</summary>
    public IReadOnlyList<string> Routes { get; init; } = DefaultRoutes;
    /// <summary>Bad inputs sent in the same rotation ("POST /path" and a body): each must be a 4xx, never a 5xx.</summary>
    public IReadOnlyList<(string Route, string Body)> BadRequests { get; init; } = DefaultBadRequests;
    /// <summary>Every Nth request is a start (a one-job probe of size 16); 0: no starts.</summary>
    public int StartEvery { get; init; }
    /// <summary>Requests per second in all, paced open-loop (a late request goes at once); 0: as fast as the clients go.</summary>
    public double Rate { get; init; }

    public const string StartRoute = "POST /api/probes (start)";
    public const string StartBody = "{\"size\":16,\"repeats\":1,\"jobs\":1}";

    public static readonly IReadOnlyList<(string Route, string Body)> DefaultBadRequests =
    [
        ("POST /api/probes", "{\"size\": -1}"), ("POST /api/laps", "{\"demo\": {\"sed\": 1}}"), ("POST /api/flywheels", "not json"),
    ];

    /// <summary>The mix that found the shared-options race: lap list, health, unknown job/artifact/instance/lap.</summary>
    public static readonly IReadOnlyList<string> DefaultRoutes =
    [
        "/api/laps", "/healthz", "/api/jobs/bench-no-such-job", "/api/artifacts/bench-no-such-artifact",
        "/api/instances/bench-no-such-instance", "/api/laps/lap-bench-no-such-lap",
    ];
}

/// <summary>One route's share of a load run.</summary>
public sealed record ApiRouteResult(string Route, int Requests, IReadOnlyDictionary<string, int> StatusCodes, double P50Ms, double P99Ms);

/// <summary>What `bench api` measured.</summary>
public sealed record ApiLoadResult
{
    public required int Clients { get; init; }
    /// <summary>The paced rate asked for (0: unpaced).</summary>
    public double TargetRate { get; init; }
    public required double Seconds { get; init; }
    public required int Requests { get; init; }
    public required double RequestsPerSecond { get; init; }
    public required double P50Ms { get; init; }
    public required double P95Ms { get; init; }
    public required double P99Ms { get; init; }
    public required double MaxMs { get; init; }
    /// <summary>Answers by status code ("200", "404", …; "error" for a failed connection or a timeout).</summary>
    public required IReadOnlyDictionary<string, int> StatusCodes { get; init; }
    public required int ServerErrors { get; init; }
    public required IReadOnlyList<ApiRouteResult> Routes { get; init; }
}

/// <summary>
/// A small load generator for the HTTP API: N clients each send one request after another over a shared connection
/// pool (GET routes and bad inputs in turn, every Nth a start), for S seconds (or until R requests in all), optionally
/// paced to a rate; records each request's latency and status code.
/// </summary>
public static class ApiLoadBench
{
    public static async Task<ApiLoadResult> RunAsync(string baseUrl, string key, ApiLoadOptions o, CancellationToken ct = default)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = o.Clients, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        using var http = new HttpClient(handler) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Add("x-functions-key", key);
        var samples = new ConcurrentBag<(int Route, string Status, double Ms)>();
        int issued = 0;
        var total = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(o.Seconds);
        // The rotation: the GET routes, then the bad inputs; the start is its own route (index names).
        var names = o.Routes.Concat(o.BadRequests.Select(b => b.Route)).Append(ApiLoadOptions.StartRoute).ToList();
        int rotation = names.Count - 1, startIndex = names.Count - 1;
        async Task Client(int c)
        {
            for (int i = c; ; i++)
            {
                int n = Interlocked.Increment(ref issued);
                if (o.Requests > 0 ? n > o.Requests : total.Elapsed >= deadline) return;
                ct.ThrowIfCancellationRequested();
                if (o.Rate > 0 && TimeSpan.FromSeconds(n / o.Rate) - total.Elapsed is { Ticks: > 0 } wait) await Task.Delay(wait, ct);
                int route = o.StartEvery > 0 && n % o.StartEvery == 0 ? startIndex : i % rotation;
                long start = Stopwatch.GetTimestamp();
                string status;
                try
                {
                    using var req = route == startIndex ? new HttpRequestMessage(HttpMethod.Post, "/api/probes") { Content = new StringContent(ApiLoadOptions.StartBody, System.Text.Encoding.UTF8, "application/json") }
                        : route < o.Routes.Count ? new HttpRequestMessage(HttpMethod.Get, o.Routes[route])
                        : new HttpRequestMessage(HttpMethod.Post, o.BadRequests[route - o.Routes.Count].Route.Split(' ')[1])
                        {
                            Content = new StringContent(o.BadRequests[route - o.Routes.Count].Body, System.Text.Encoding.UTF8, "application/json"),
                        };
                    using var resp = await http.SendAsync(req, HttpCompletionOption.ResponseContentRead, ct);
                    status = ((int)resp.StatusCode).ToString();
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested) { status = "error"; }
                samples.Add((route, status, Stopwatch.GetElapsedTime(start).TotalMilliseconds));
            }
        }
        await Task.WhenAll(Enumerable.Range(0, o.Clients).Select(c => Task.Run(() => Client(c), ct)));
        double seconds = total.Elapsed.TotalSeconds;
        var all = samples.ToList();
        var ms = all.Select(s => s.Ms).ToList();
        static IReadOnlyDictionary<string, int> Codes(IEnumerable<(int, string Status, double)> s) =>
            s.GroupBy(x => x.Status).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count());
        var codes = Codes(all);
        return new ApiLoadResult
        {
            Clients = o.Clients,
            TargetRate = o.Rate,
            Seconds = seconds,
            Requests = all.Count,
            RequestsPerSecond = seconds > 0 ? all.Count / seconds : 0,
            P50Ms = Commands.Percentile(ms, 50),
            P95Ms = Commands.Percentile(ms, 95),
            P99Ms = Commands.Percentile(ms, 99),
            MaxMs = ms.Count == 0 ? 0 : ms.Max(),
            StatusCodes = codes,
            ServerErrors = codes.Where(c => c.Key.StartsWith('5') || c.Key == "error").Sum(c => c.Value),
            Routes = names.Select((r, i) =>
            {
                var mine = all.Where(s => s.Route == i).ToList();
                var l = mine.Select(s => s.Ms).ToList();
                return new ApiRouteResult(r, mine.Count, Codes(mine), Commands.Percentile(l, 50), Commands.Percentile(l, 99));
            }).Where(r => r.Requests > 0).ToList(),
        };
    }
}
