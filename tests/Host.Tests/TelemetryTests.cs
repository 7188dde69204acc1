using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using MathV2.Cli;
using MathV2.Core;
using MathV2.Core.Telemetry;
using MathV2.Tests;

namespace MathV2.Host.Tests;

/// <summary>
/// A small lap on a stack of its own whose host and worker export to an OTLP/HTTP collector in this test: one trace
/// from the POST through the lap, its phases, each job's run and each job's attempt on the worker.
/// </summary>
[Collection("stack")] // run alone: a lap beside the other stacks' laps would slow their timed steps
[Trait("Category", "EndToEnd")]
public sealed class TelemetryTests
{
    /// <summary>One exported span, as the OTLP protobuf carries it.</summary>
    sealed record Span(string Service, string Name, string TraceId, string SpanId, string ParentSpanId, Dictionary<string, string> Tags);

    /// <summary>An OTLP/HTTP (protobuf) receiver: /v1/traces and /v1/metrics, decoded with just enough of the schema.</summary>
    sealed class Collector : IDisposable
    {
        readonly HttpListener _listener = new();
        public readonly ConcurrentBag<Span> Spans = [];
        public readonly ConcurrentDictionary<string, HashSet<string>> Metrics = new(); // metric name → services
        public string Endpoint { get; }

        public Collector()
        {
            int port = Repo.FreePorts(1);
            Endpoint = $"http://127.0.0.1:{port}";
            _listener.Prefixes.Add(Endpoint + "/");
            _listener.Start();
            _ = Task.Run(LoopAsync);
        }

        async Task LoopAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext ctx;
                try { ctx = await _listener.GetContextAsync(); } catch { return; }
                using var ms = new MemoryStream();
                await ctx.Request.InputStream.CopyToAsync(ms);
                byte[] body = ms.ToArray();
                try
                {
                    if (ctx.Request.Url!.AbsolutePath == "/v1/traces") ReadTraces(body);
                    else if (ctx.Request.Url.AbsolutePath == "/v1/metrics") ReadMetrics(body);
                    ctx.Response.StatusCode = 200;
                    ctx.Response.ContentType = "application/x-protobuf";
                }
                catch (InvalidProtocolBufferException) { ctx.Response.StatusCode = 400; }
                ctx.Response.Close();
            }
        }

        /// <summary>The fields of one message: (number, bytes) for length-delimited ones, (number, null) for others.</summary>
        static List<(int Field, ByteString? Bytes)> Fields(ByteString message)
        {
            var fields = new List<(int, ByteString?)>();
            var input = new CodedInputStream(message.ToByteArray());
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                int field = WireFormat.GetTagFieldNumber(tag);
                if (WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited) fields.Add((field, input.ReadBytes()));
                else { input.SkipLastField(); fields.Add((field, null)); }
            }
            return fields;
        }

        static IEnumerable<ByteString> All(ByteString m, int field) => Fields(m).Where(f => f.Field == field && f.Bytes != null).Select(f => f.Bytes!);
        static ByteString? One(ByteString m, int field) => All(m, field).FirstOrDefault();

        /// <summary>KeyValue attributes (string values only) of a Resource or Span.</summary>
        static Dictionary<string, string> Attributes(ByteString m, int field)
        {
            var d = new Dictionary<string, string>();
            foreach (var kv in All(m, field))
                if (One(kv, 1) is { } key && One(kv, 2) is { } any && One(any, 1) is { } s) d[key.ToStringUtf8()] = s.ToStringUtf8();
            return d;
        }

        static string Service(ByteString resourceBlock) =>
            One(resourceBlock, 1) is { } resource && Attributes(resource, 1).TryGetValue("service.name", out var s) ? s : "";

        void ReadTraces(byte[] body)
        {
            foreach (var rs in All(ByteString.CopyFrom(body), 1))          // ResourceSpans
                foreach (var ss in All(rs, 2))                              // ScopeSpans
                    foreach (var span in All(ss, 2))                        // Span
                        Spans.Add(new Span(Service(rs), One(span, 5)?.ToStringUtf8() ?? "", Hex(One(span, 1)), Hex(One(span, 2)), Hex(One(span, 4)), Attributes(span, 9)));
        }

        void ReadMetrics(byte[] body)
        {
            foreach (var rm in All(ByteString.CopyFrom(body), 1))          // ResourceMetrics
                foreach (var sm in All(rm, 2))                              // ScopeMetrics
                    foreach (var metric in All(sm, 2))                      // Metric
                    {
                        string name = One(metric, 1)?.ToStringUtf8() ?? "";
                        var services = Metrics.GetOrAdd(name, _ => []);
                        lock (services) services.Add(Service(rm));
                    }
        }

        static string Hex(ByteString? b) => b == null || b.Length == 0 ? "" : Convert.ToHexStringLower(b.ToByteArray());

        public void Dispose() => _listener.Close();
    }

    [Fact]
    public async Task A_lap_is_one_trace_from_its_POST_through_phases_job_runs_and_worker_attempts_with_metrics()
    {
        using var collector = new Collector();
        var layout = StackFixture.NewLayout(Directory.CreateTempSubdirectory("mathv2-otel-").FullName);
        var env = new Dictionary<string, string>(layout.Environment)
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "1000",
        };
        var stack = new LocalStack(layout with { Environment = env }, TextWriter.Null);
        try
        {
            await stack.UpAsync();
            using var http = new HttpClient { BaseAddress = new Uri(layout.Url) };
            http.DefaultRequestHeaders.Add("x-functions-key", stack.Key);
            var resp = await http.PostAsJsonAsync("/api/laps", LapTestSpecs.Small("oracle"), Json.Options);
            Assert.Equal(HttpStatusCode.Accepted, resp.StatusCode);
            string lapId = (await resp.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
            JsonElement lap = default;
            await StackFixture.Until(async () => (lap = await http.GetFromJsonAsync<JsonElement>($"/api/laps/{lapId}")).GetProperty("runtimeStatus").GetString() is "Completed" or "Failed",
                600, () => $"lap {lapId} never ended");
            Assert.True(lap.GetProperty("runtimeStatus").GetString() == "Completed", $"lap {lapId}: {lap}");
            string[] jobs = [.. lap.GetProperty("output").GetProperty("phases").EnumerateArray().SelectMany(p => p.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("jobId").GetString()!))];
            Assert.NotEmpty(jobs);

            // Spans arrive within a batch delay; the lap's own span is the last one emitted.
            Span Find(Func<Span, bool> match, string what) => collector.Spans.FirstOrDefault(match) ?? throw new Xunit.Sdk.XunitException($"no span {what}");
            await StackFixture.Until(() => Task.FromResult(collector.Spans.Any(s => s.Name == "Lap" && s.Tags.GetValueOrDefault("mathv2.instance_id") == lapId)
                && jobs.All(j => collector.Spans.Any(s => s.Service == "mathv2-worker" && s.Tags.GetValueOrDefault("mathv2.job_id") == j))), 30,
                () => $"spans so far: {string.Join(", ", collector.Spans.Select(s => $"{s.Service}:{s.Name}"))}");

            var lapSpan = Find(s => s.Name == "Lap" && s.Tags.GetValueOrDefault("mathv2.instance_id") == lapId, $"Lap {lapId}");
            Assert.Equal(MathV2Telemetry.SpanIdOf(lapId).ToHexString(), lapSpan.SpanId);
            // Its parent is the POST's server span on the host.
            var post = Find(s => s.SpanId == lapSpan.ParentSpanId, "parent of the lap");
            Assert.Equal(("mathv2-host", lapSpan.TraceId), (post.Service, post.TraceId));
            Assert.StartsWith("POST", post.Name);

            foreach (string phase in new[] { "1a", "1b", "1c", "1d", "2", "3", "4" })
            {
                var p = Find(s => s.Tags.GetValueOrDefault("mathv2.instance_id") == $"{lapId}-{phase}", $"phase {phase}");
                Assert.Equal((lapSpan.TraceId, lapSpan.SpanId), (p.TraceId, p.ParentSpanId));
                Assert.StartsWith("Phase", p.Name);
            }
            foreach (string job in jobs)
            {
                var run = Find(s => s.Name == "RunGpuJob" && s.Tags.GetValueOrDefault("mathv2.instance_id") == job, $"RunGpuJob {job}");
                var phase = Find(s => s.SpanId == run.ParentSpanId, $"parent of {job}");
                Assert.StartsWith("Phase", phase.Name);
                Assert.Equal((lapSpan.TraceId, lapSpan.SpanId), (phase.TraceId, phase.ParentSpanId));
                var attempts = collector.Spans.Where(s => s.Service == "mathv2-worker" && s.Tags.GetValueOrDefault("mathv2.job_id") == job).ToList();
                Assert.All(attempts, a => Assert.Equal((lapSpan.TraceId, run.SpanId), (a.TraceId, a.ParentSpanId)));
                Assert.Contains(attempts, a => a.Tags.GetValueOrDefault("mathv2.job.outcome") == "succeeded");
            }
            // Every span of the lap is in its one trace; nothing of it is emitted twice.
            var ofLap = collector.Spans.Where(s => s.TraceId == lapSpan.TraceId).ToList();
            Assert.Equal(ofLap.Count, ofLap.Select(s => s.SpanId).Distinct().Count());
            // Each activity an orchestration of the lap called is a span under that orchestration's span.
            var activities = ofLap.Where(s => s.Name.StartsWith("activity ")).ToList();
            foreach (var a in activities)
                Assert.Equal(a.Tags.GetValueOrDefault("mathv2.orchestration_id"), Find(s => s.SpanId == a.ParentSpanId, $"parent of {a.Name}").Tags.GetValueOrDefault("mathv2.instance_id"));
            foreach (string owner in jobs.Append(lapId).Append($"{lapId}-1a"))
                Assert.Contains(activities, a => a.Tags.GetValueOrDefault("mathv2.orchestration_id") == owner);

            await StackFixture.Until(() => Task.FromResult(collector.Metrics.ContainsKey("mathv2.gpu_jobs.queue_depth")), 30, () => $"metrics: {string.Join(", ", collector.Metrics.Keys)}");
            foreach (string m in new[] { "mathv2.gpu_job.duration", "mathv2.gpu_job.queue_wait", "mathv2.gpu_job.attempts", "mathv2.training.loss", "mathv2.worker.tokens_per_second" })
                Assert.True(collector.Metrics.TryGetValue(m, out var services) && services.Contains("mathv2-worker"), $"{m} from the worker; got {string.Join(", ", collector.Metrics.Keys)}");
            Assert.Contains("mathv2-host", collector.Metrics["mathv2.gpu_jobs.queue_depth"]);
        }
        finally
        {
            await stack.DownAsync();
            if (Environment.GetEnvironmentVariable("MATHV2_KEEP_TEST_STATE") != "1")
                try { Directory.Delete(layout.StateDir, recursive: true); } catch (IOException) { }
        }
    }
}
