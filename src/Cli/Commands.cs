using System.Diagnostics;
using System.Text.Json;
using Azure.Data.Tables;
using MathV2.Core;
using MathV2.Core.Storage;

namespace MathV2.Cli;

/// <summary>The mathv2 commands. With --json each prints exactly one JSON document on stdout; progress goes to stderr.</summary>
public sealed class Commands(StackLayout layout, TextWriter stdout, TextWriter stderr, TextReader? input = null)
{
    const string Usage = """
        usage: mathv2 <command> [options]            (every command takes --json)

        stack     up [--workers N]        start Azurite, the local host and N workers; print URL and key
                  down                    stop exactly what `up` started (data is kept)
                  status                  what runs, queue depths, workers seen
        main      demo [--laps N] [--spec FILE]   bring the stack up and run a full lap on the demo domain (N laps: a
                                          flywheel), with progress, ending with the lap report
                  test                    start what the tests need and run the whole test suite (./mathv2 test)
        probes    probe [--size N] [--jobs K] [--repeats R] [--min-seconds S]
        laps      lap start [--spec FILE] [--annotator oracle|http] [--wait]   start a lap (LapSpec JSON, docs/laps.md)
                  lap show ID (the report once done) | lap list | lap report ID
                  lap restart ID --from-phase 1a|1b|1c|1d|2|3|4 [--spec FILE] [--wait]   a new lap reusing the earlier phases
                  flywheel start [--spec FILE] [--laps N] [--wait] | flywheel show ID       multi-lap runs (FlywheelSpec)
                  annotations pull LAP BATCH [--out FILE] | annotations submit LAP BATCH --in FILE (JSONL itemId/score)
        ops       instances show|rewind|terminate|suspend|resume|restart|purge ID [--reason TEXT] [--history]
                  jobs show ID
                  artifacts show|lineage ID | artifacts get ID PATH [--out FILE]
        datasets  datasets import --in FILE --problem-field F [--proof-field F --score-field F] [--analysis-field F]
                           [--id-field F] [--out FILE] [--skip-invalid] [--artifact ID]
                  datasets demo [--seed S] [--problems-per-difficulty N] [--max-difficulty D] [--prompts standard|compact]
                           --out DIR [--artifact-prefix P]
        method    method parse --kind verification|meta|generation [--finish-reason stop|length] < output.txt
        bench     bench protocol [--jobs N]   dispatch overhead per GPU job (p50/p95)
                  bench worker [--quick] [--steps N] [--new-tokens N]   training MFU vs. matmul, KV cache and batching ratios
                  bench bootstrap [--quick] [--steps N] [--tokenizers char,words] [--heldout N] [--seed S]   the demo bootstrap before RL, per tokenizer
                  bench api [--clients N] [--seconds S] [--requests R]   HTTP load: requests/s, p50/p95/p99, status codes
                  bench consensus [--proofs N] [--verifier-accuracy A] [--meta-accuracy A] [--n N --m M --k K] [--seed S]
        """;

    readonly TextReader stdin = input ?? Console.In;

    TextWriter Progress(Args a) => a.Json ? stderr : stdout;

    public async Task<int> RunAsync(string[] argv, CancellationToken ct = default)
    {
        if (argv.Length == 0 || argv[0] is "help" or "--help" or "-h") { stdout.WriteLine(Usage); return argv.Length == 0 ? 1 : 0; }
        var a = new Args(argv.Skip(1));
        return argv[0] switch
        {
            "up" => await UpAsync(a, ct),
            "down" => await DownAsync(a),
            "status" => await StatusAsync(a, ct),
            "probe" => await ProbeAsync(a, ct),
            "demo" => await DemoAsync(a, ct),
            "instances" => await InstancesAsync(a, ct),
            "lap" => await LapAsync(a, ct),
            "flywheel" => await FlywheelAsync(a, ct),
            "annotations" => await AnnotationsAsync(a, ct),
            "jobs" => await ShowAsync(a, "jobs", ["show"], ct),
            "artifacts" when argv.Length > 1 && argv[1] == "get" => await ArtifactFileAsync(a, ct),
            "artifacts" => await ShowAsync(a, "artifacts", ["show", "lineage"], ct),
            "bench" => await BenchAsync(a, ct),
            "method" => MethodCommand(a),
            "datasets" => await DatasetsAsync(a, ct),
            _ => throw new CliException($"unknown command '{argv[0]}'; run ./mathv2 help"),
        };
    }

    async Task<int> UpAsync(Args a, CancellationToken ct)
    {
        a.Allow("--workers");
        var l = layout with { Workers = a.Int("--workers", layout.Workers, 1, 16) };
        var stack = new LocalStack(l, Progress(a));
        await stack.UpAsync(ct);
        var pids = stack.Pids;
        if (a.Json) WriteJson(new { url = l.Url, key = stack.Key, envFile = l.EnvFile, pids });
        else
        {
            stdout.WriteLine($"MathV2 is up.\n  MATHV2_URL={l.Url}\n  MATHV2_KEY={stack.Key}\n  (also in {l.EnvFile}; logs in {l.LogDir})");
        }
        return 0;
    }

    async Task<int> DownAsync(Args a)
    {
        a.Allow();
        var stopped = await new LocalStack(layout, Progress(a)).DownAsync();
        if (a.Json) WriteJson(new { stopped });
        else stdout.WriteLine(stopped.Count == 0 ? "nothing was running" : "stopped: " + string.Join(", ", stopped));
        return 0;
    }

    async Task<int> StatusAsync(Args a, CancellationToken ct)
    {
        a.Allow();
        var pids = StackPids.Load(layout.PidFile);
        var procs = new List<object>
        {
            new { name = "azurite", pid = pids.Azurite, running = LocalStack.IsAlive(pids.Azurite, "azurite") },
            new { name = "host", pid = pids.Host, running = LocalStack.IsAlive(pids.Host, "MathV2.Host.dll") },
        };
        procs.AddRange(pids.Workers.Select(w => (object)new { name = "worker", pid = (int?)w, running = LocalStack.IsAlive(w, "MathV2.Gpu.Worker.dll") }));
        var queues = new Dictionary<string, int?>();
        var workers = new List<object>();
        bool storageUp = LocalStack.IsAlive(pids.Azurite, "azurite");
        if (storageUp)
        {
            var storage = new MathV2Storage(layout.StorageConnectionString);
            foreach (string q in StorageNames.Queues)
            {
                try { queues[q] = (await storage.Queue(q).GetPropertiesAsync(ct)).Value.ApproximateMessagesCount; }
                catch (Azure.RequestFailedException) { queues[q] = null; }
            }
            try
            {
                await foreach (var e in storage.Table(StorageNames.WorkersTable).QueryAsync<TableEntity>(e => e.PartitionKey == "workers", cancellationToken: ct))
                {
                    var seen = e.GetDateTimeOffset("LastSeen") ?? DateTimeOffset.MinValue;
                    var age = DateTimeOffset.UtcNow - seen;
                    if (age > TimeSpan.FromHours(1)) continue;
                    // A worker refreshes its row every few seconds; one silent for 30 s is gone (killed or lost).
                    string state = age > TimeSpan.FromSeconds(30) && e.GetString("State") != "stopped" ? "gone" : e.GetString("State") ?? "unknown";
                    workers.Add(new
                    {
                        id = e.RowKey, state, job = e.GetString("JobId"), device = e.GetString("Device"),
                        pid = e.GetInt32("Pid"), lastSeen = seen, secondsAgo = Math.Round((DateTimeOffset.UtcNow - seen).TotalSeconds, 1),
                    });
                }
            }
            catch (Azure.RequestFailedException) { }
        }
        if (a.Json) WriteJson(new { url = layout.Url, processes = procs, queues, workers });
        else
        {
            foreach (dynamic p in procs) stdout.WriteLine($"{p.name,-8} pid {p.pid?.ToString() ?? "-",-8} {(p.running ? "running" : "stopped")}");
            if (storageUp)
            {
                stdout.WriteLine("queues:  " + string.Join(", ", queues.Select(q => $"{q.Key}={q.Value?.ToString() ?? "?"}")));
                stdout.WriteLine(workers.Count == 0 ? "workers: none seen in the last hour" : "workers seen in the last hour:");
                foreach (dynamic w in workers) stdout.WriteLine($"  {w.id} {w.state}{(w.job != null ? " " + w.job : "")} on {w.device}, last seen {w.secondsAgo} s ago");
            }
        }
        return 0;
    }

    async Task<int> ProbeAsync(Args a, CancellationToken ct)
    {
        a.Allow("--size", "--jobs", "--repeats", "--min-seconds");
        var body = new Dictionary<string, object>
        {
            ["size"] = a.Int("--size", 1024, 1, 16384),
            ["jobs"] = a.Int("--jobs", 1, 1, 256),
            ["repeats"] = a.Int("--repeats", 10, 1, 10000),
            ["minSeconds"] = a.Double("--min-seconds", 0),
        };
        using var api = ApiClient.FromEnvironment(layout);
        var started = await api.PostAsync("/api/probes", body, ct);
        string id = started.GetProperty("id").GetString()!;
        var status = await WatchAsync(api, id, Progress(a), ct);
        bool ok = status.GetProperty("runtimeStatus").GetString() == "Completed";
        if (a.Json) WriteJson(status);
        else PrintProbe(status);
        return ok ? 0 : 1;
    }

    /// <summary>The main job: the stack up, one lap (or a flywheel of --laps N) on the demo domain with the oracle, the report at the end.</summary>
    async Task<int> DemoAsync(Args a, CancellationToken ct)
    {
        a.Allow("--laps", "--spec");
        int laps = a.Int("--laps", 1, 1, 100);
        var stack = new LocalStack(layout, Progress(a));
        await stack.UpAsync(ct);
        var spec = ReadSpec(a.Get("--spec"));
        using var api = ApiClient.FromEnvironment(layout);
        if (laps == 1)
        {
            Progress(a).WriteLine($"stack up at {layout.Url}; running one lap on the demo domain (oracle annotator; about 15 minutes on 2 cores)");
            var started = await api.PostAsync("/api/laps", spec, ct);
            return await WaitForLapAsync(api, started.GetProperty("id").GetString()!, a, ct);
        }
        Progress(a).WriteLine($"stack up at {layout.Url}; running a flywheel of {laps} laps on the demo domain (human-free from lap 2)");
        var fw = await api.PostAsync("/api/flywheels", new System.Text.Json.Nodes.JsonObject { ["laps"] = laps, ["lap"] = spec }, ct);
        return await WaitForFlywheelAsync(api, fw.GetProperty("id").GetString()!, a, ct);
    }

    /// <summary>A spec file as JSON; the API checks its fields (strictly, with paths) when it is posted.</summary>
    static System.Text.Json.Nodes.JsonObject ReadSpec(string? file)
    {
        if (file is null) return new System.Text.Json.Nodes.JsonObject();
        if (!File.Exists(file)) throw new CliException($"no such spec file: {file}");
        try
        {
            return System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(file)) as System.Text.Json.Nodes.JsonObject
                ?? throw new CliException($"{file}: a JSON object is expected");
        }
        catch (JsonException e) { throw new CliException($"{file}: not valid JSON: {e.Message}"); }
    }

    /// <summary>
    /// While the CLI follows a lap or flywheel on this repository's local stack, a process of the stack that died
    /// (a native crash, the OOM killer) is started again, so the run goes on; a remote API is left alone.
    /// </summary>
    async Task HealAsync(ApiClient api, TextWriter progress, CancellationToken ct)
    {
        if (api.BaseUrl.TrimEnd('/') != layout.Url) return;
        foreach (string line in await new LocalStack(layout, progress).HealAsync(ct)) progress.WriteLine(line);
    }

    /// <summary>Follows a lap (a line whenever its phase or step changes); once it completes, prints its report.</summary>
    async Task<int> WaitForLapAsync(ApiClient api, string id, Args a, CancellationToken ct)
    {
        var progress = Progress(a);
        progress.WriteLine($"lap {id} started");
        var lines = new ProgressLines(progress);
        while (true)
        {
            await HealAsync(api, progress, ct);
            var lap = await api.GetAsync($"/api/laps/{id}", ct);
            lines.Write(LapLine(lap));
            string rs = lap.GetProperty("runtimeStatus").GetString()!;
            if (rs is "Completed" or "Failed" or "Terminated")
            {
                if (a.Json) WriteJson(lap);
                else if (rs == "Completed") stdout.Write(await api.GetTextAsync($"/api/laps/{id}/report", ct));
                else stdout.WriteLine($"lap {id} {rs.ToLowerInvariant()}: {(lap.TryGetProperty("failure", out var f) ? f.GetString() : "")}\n  ops: ./mathv2 instances rewind {id}, or ./mathv2 lap restart {id} --from-phase P");
                return rs == "Completed" ? 0 : 1;
            }
            await Task.Delay(1000, ct);
        }
    }

    async Task<int> WaitForFlywheelAsync(ApiClient api, string id, Args a, CancellationToken ct)
    {
        var progress = Progress(a);
        progress.WriteLine($"flywheel {id} started");
        string lastLap = "";
        var lines = new ProgressLines(progress);
        while (true)
        {
            await HealAsync(api, progress, ct);
            var fw = await api.GetAsync($"/api/flywheels/{id}", ct);
            string rs = fw.GetProperty("runtimeStatus").GetString()!;
            if (fw.TryGetProperty("status", out var st) && st.ValueKind == JsonValueKind.Object && st.TryGetProperty("lapId", out var lapIdEl) && lapIdEl.GetString() is { } lapId)
            {
                if (lapId != lastLap) { lines.Write($"lap {st.GetProperty("lap").GetInt32()} of {st.GetProperty("of").GetInt32()}: {lapId}"); lastLap = lapId; }
                try { lines.Write(LapLine(await api.GetAsync($"/api/laps/{lapId}", ct))); }
                catch (CliException) { }   // the lap is not scheduled yet
            }
            if (rs is "Completed" or "Failed" or "Terminated")
            {
                if (a.Json) { WriteJson(fw); return rs == "Completed" ? 0 : 1; }
                if (rs != "Completed") { stdout.WriteLine($"flywheel {id} {rs.ToLowerInvariant()}: {(fw.TryGetProperty("failure", out var f) ? f.GetString() : "")}"); return 1; }
                var output = fw.GetProperty("output");
                foreach (var lap in output.GetProperty("laps").EnumerateArray())
                {
                    stdout.Write(await api.GetTextAsync($"/api/laps/{lap.GetProperty("lapId").GetString()}/report", ct));
                    stdout.WriteLine();
                }
                stdout.WriteLine($"flywheel {id}: {output.GetProperty("stopped").GetString()}; verifier accuracy by lap: " +
                    string.Join(" → ", output.GetProperty("laps").EnumerateArray().Select(l => l.TryGetProperty("verifierAccuracy", out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble().ToString("0.###") : "n/a")));
                return 0;
            }
            await Task.Delay(2000, ct);
        }
    }

    async Task<int> FlywheelAsync(Args a, CancellationToken ct)
    {
        string verb = a.Positional(0, "flywheel command (start|show)");
        using var api = ApiClient.FromEnvironment(layout);
        switch (verb)
        {
            case "start":
            {
                a.Allow("--spec", "--laps", "--wait");
                var spec = ReadSpec(a.Get("--spec"));
                if (a.Get("--laps") != null) spec["laps"] = a.Int("--laps", 3, 1, 100);
                var started = await api.PostAsync("/api/flywheels", spec, ct);
                string id = started.GetProperty("id").GetString()!;
                if (a.Has("--wait")) return await WaitForFlywheelAsync(api, id, a, ct);
                if (a.Json) WriteJson(started); else stdout.WriteLine($"flywheel {id} started; ./mathv2 flywheel show {id}");
                return 0;
            }
            case "show":
            {
                a.Allow();
                var fw = await api.GetAsync($"/api/flywheels/{a.Positional(1, "flywheel id")}", ct);
                if (a.Json) { WriteJson(fw); return 0; }
                stdout.WriteLine($"{fw.GetProperty("id").GetString()} {fw.GetProperty("runtimeStatus").GetString()}");
                var src = fw.TryGetProperty("output", out var o) && o.ValueKind == JsonValueKind.Object ? o : fw.TryGetProperty("status", out var st) ? st : default;
                if (src.ValueKind == JsonValueKind.Object && src.TryGetProperty("laps", out var laps))
                    foreach (var l in laps.EnumerateArray())
                        stdout.WriteLine($"  lap {l.GetProperty("number").GetInt32()} {l.GetProperty("lapId").GetString()} verifier accuracy " +
                            (l.TryGetProperty("verifierAccuracy", out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble().ToString("0.###") : "n/a") +
                            (l.TryGetProperty("bestVerifier", out var b) && b.ValueKind == JsonValueKind.String ? $", next lap's verifier from {b.GetString()}" : ""));
                if (src.ValueKind == JsonValueKind.Object && src.TryGetProperty("stopped", out var stopped)) stdout.WriteLine($"  stopped: {stopped.GetString()}");
                if (fw.TryGetProperty("failure", out var f) && f.ValueKind == JsonValueKind.String) stdout.WriteLine($"  failure: {f.GetString()}");
                return 0;
            }
            default: throw new CliException("flywheel commands: start, show");
        }
    }

    void PrintProbe(JsonElement status)
    {
        string rs = status.GetProperty("runtimeStatus").GetString()!;
        stdout.WriteLine($"probe {status.GetProperty("instanceId").GetString()}: {rs}");
        if (rs != "Completed")
        {
            if (status.TryGetProperty("failureDetails", out var f)) stdout.WriteLine($"  {f.GetProperty("errorMessage").GetString()}");
            stdout.WriteLine($"  ops: ./mathv2 instances rewind {status.GetProperty("instanceId").GetString()}   (after fixing the cause)");
            return;
        }
        stdout.WriteLine($"  {"job",-34} {"worker",-16} {"device",-6} {"threads",7} {"GFLOP/s",9} {"attempt",7}  artifact");
        foreach (var j in status.GetProperty("output").GetProperty("jobs").EnumerateArray())
        {
            var s = j.GetProperty("summary");
            stdout.WriteLine($"  {j.GetProperty("jobId").GetString(),-34} {s.GetProperty("worker").GetString(),-16} {s.GetProperty("device").GetString(),-6} " +
                $"{s.GetProperty("threads").GetInt32(),7} {s.GetProperty("gflops").GetDouble(),9:F1} {j.GetProperty("attempt").GetInt32(),7}  {j.GetProperty("resultArtifactId").GetString()}");
        }
        var first = status.GetProperty("output").GetProperty("jobs")[0].GetProperty("summary");
        stdout.WriteLine($"  TorchSharp {first.GetProperty("torchSharpVersion").GetString()}, libtorch {first.GetProperty("libTorchVersion").GetString()}; " +
            $"total {status.GetProperty("output").GetProperty("totalGflops").GetDouble():F1} GFLOP/s");
    }

    /// <summary>Polls the instance and its jobs, printing a line whenever a job's state, attempt or progress changes.</summary>
    internal static async Task<JsonElement> WatchAsync(ApiClient api, string id, TextWriter progress, CancellationToken ct)
    {
        var last = new Dictionary<string, string>();
        while (true)
        {
            var st = await api.GetAsync($"/api/instances/{id}?showInput=false", ct);
            string rs = st.GetProperty("runtimeStatus").GetString()!;
            if (st.TryGetProperty("customStatus", out var cs) && cs.ValueKind == JsonValueKind.Object && cs.TryGetProperty("jobs", out var jobs))
                foreach (var j in jobs.EnumerateArray())
                {
                    string jobId = j.GetString()!;
                    JsonElement rec;
                    try { rec = await api.GetAsync($"/api/jobs/{jobId}", ct); }
                    catch (CliException) { continue; }
                    string line = DescribeJob(rec);
                    if (last.GetValueOrDefault(jobId) != line)
                    {
                        string beat = rec.TryGetProperty("heartbeatAt", out var hb) && rec.GetProperty("status").GetString() == "running"
                            ? $" (heartbeat {(DateTimeOffset.UtcNow - hb.GetDateTimeOffset()).TotalSeconds:F1} s ago)" : "";
                        progress.WriteLine($"  {jobId}: {line}{beat}");
                        last[jobId] = line;
                    }
                }
            if (rs is "Completed" or "Failed" or "Terminated") return st;
            await Task.Delay(500, ct);
        }
    }

    static string DescribeJob(JsonElement rec)
    {
        string s = rec.GetProperty("status").GetString()!;
        string line = $"{s}, attempt {rec.GetProperty("attempt").GetInt32()}/{rec.GetProperty("maxAttempts").GetInt32()}";
        if (rec.TryGetProperty("workerId", out var w)) line += $" on {w.GetString()}";
        if (rec.TryGetProperty("progress", out var p)) line += $" {p.GetRawText()}";
        if (rec.TryGetProperty("error", out var e) && s is "failed" or "queued") line += $" (error: {e.GetString()})";
        return line;
    }

    async Task<int> InstancesAsync(Args a, CancellationToken ct)
    {
        a.Allow("--reason", "--history");
        string verb = a.Positional(0, "action (show|rewind|terminate|suspend|resume|restart|purge)");
        string id = Uri.EscapeDataString(a.Positional(1, "instance id"));
        using var api = ApiClient.FromEnvironment(layout);
        string reason = Uri.EscapeDataString(a.Get("--reason") ?? $"{verb} from the mathv2 CLI");
        JsonElement result = verb switch
        {
            "show" => await api.GetAsync($"/api/instances/{id}?showHistory={(a.Has("--history") ? "true" : "false")}", ct),
            "rewind" or "terminate" or "suspend" or "resume" or "restart" => await api.PostAsync($"/api/instances/{id}/{verb}?reason={reason}", null, ct),
            "purge" => await api.DeleteAsync($"/api/instances/{id}", ct),
            _ => throw new CliException($"unknown instances action '{verb}'"),
        };
        if (a.Json) WriteJson(result);
        else if (verb == "show") stdout.WriteLine(JsonSerializer.Serialize(result, Json.Indented));
        else stdout.WriteLine(verb switch
        {
            "restart" => $"restarted as {result.GetProperty("id").GetString()}",
            "terminate" when result.Deserialize<Core.Http.TerminateResult>(Json.Options) is { } t =>
                $"terminate: accepted for {t.InstanceId}" + (t.CancelledJobs.Count > 0 ? $"; cancelled GPU jobs: {string.Join(", ", t.CancelledJobs)}" : ""),
            "purge" when result.Deserialize<Core.Http.PurgeResult>(Json.Options) is { } p => $"purge: deleted {p.InstancesDeleted} instance histories",
            _ => $"{verb}: accepted for {a.Positional(1, "id")}",
        });
        return 0;
    }

    async Task<int> ShowAsync(Args a, string resource, string[] verbs, CancellationToken ct)
    {
        a.Allow();
        string verb = a.Positional(0, $"action ({string.Join("|", verbs)})");
        if (!verbs.Contains(verb)) throw new CliException($"unknown {resource} action '{verb}'");
        string id = Uri.EscapeDataString(a.Positional(1, $"{resource[..^1]} id"));
        using var api = ApiClient.FromEnvironment(layout);
        var result = await api.GetAsync(verb == "lineage" ? $"/api/{resource}/{id}/lineage" : $"/api/{resource}/{id}", ct);
        if (a.Json) WriteJson(result);
        else stdout.WriteLine(JsonSerializer.Serialize(result, Json.Indented));
        return 0;
    }

    /// <summary>artifacts get ID PATH [--out FILE]: one file of an artifact (samples, reports, datasets).</summary>
    async Task<int> ArtifactFileAsync(Args a, CancellationToken ct)
    {
        a.Allow("--out");
        string id = Uri.EscapeDataString(a.Positional(1, "artifact id")), path = a.Positional(2, "file path inside the artifact");
        using var api = ApiClient.FromEnvironment(layout);
        string text = await api.GetTextAsync($"/api/artifacts/{id}/files/{string.Join('/', path.Split('/').Select(Uri.EscapeDataString))}", ct);
        if (a.Get("--out") is { } file) { File.WriteAllText(file, text); stdout.WriteLine($"{path} of {a.Positional(1, "artifact id")} written to {file}"); }
        else stdout.Write(text);
        return 0;
    }

    async Task<int> DatasetsAsync(Args a, CancellationToken ct)
    {
        string verb = a.Positional(0, "datasets action (import|demo)");
        if (verb == "import")
        {
            a.Allow("--in", "--problem-field", "--proof-field", "--score-field", "--analysis-field", "--id-field", "--out", "--skip-invalid", "--artifact");
            string input = a.Get("--in") ?? throw new CliException("--in FILE is required");
            if (!File.Exists(input)) throw new CliException($"{input}: no such file");
            var map = new Core.Datasets.FieldMapping
            {
                ProblemField = a.Get("--problem-field") ?? throw new CliException("--problem-field is required"),
                ProofField = a.Get("--proof-field"), ScoreField = a.Get("--score-field"), AnalysisField = a.Get("--analysis-field"), IdField = a.Get("--id-field"),
            };
            string jsonl;
            Core.Datasets.DatasetKind kind;
            int rejected;
            try
            {
                var (j, k, r) = Core.Datasets.DatasetImporter.Import(await File.ReadAllTextAsync(input, ct), input, map, a.Has("--skip-invalid"));
                (jsonl, kind, rejected) = (j, k, r.RejectedLines.Count);
                foreach (var e in r.Errors) stderr.WriteLine($"skipped: {e}");
                if (rejected > 0 && a.Get("--out") is { } o) await File.WriteAllLinesAsync(o + ".rejected", r.RejectedLines, ct);
            }
            catch (Core.Datasets.DatasetException e) { throw new CliException(string.Join("\n", e.Errors.Take(20)) + (e.Errors.Count > 20 ? $"\n… {e.Errors.Count - 20} more" : "") + "\nnothing was imported (use --skip-invalid to set bad rows aside)"); }
            catch (ArgumentException e) { throw new CliException(e.Message); }
            int rows = jsonl.Count(c => c == '\n');
            string? outPath = a.Get("--out");
            if (outPath != null) await File.WriteAllTextAsync(outPath, jsonl, ct);
            string? artifact = a.Get("--artifact") is { } id ? await UploadDatasetAsync(id, kind.ToString(), [("data.jsonl", jsonl)], ct) : null;
            if (a.Json) WriteJson(new { kind, rows, rejected, @out = outPath, artifact });
            else stdout.WriteLine($"imported {rows} {kind} row(s){(rejected > 0 ? $", {rejected} set aside" + (outPath != null ? $" in {outPath}.rejected" : " (listed above)") : "")}{(outPath != null ? $" → {outPath}" : "")}{(artifact != null ? $" (artifact {artifact})" : "")}");
            if (outPath == null && artifact == null && !a.Json) stdout.Write(jsonl);
            return 0;
        }
        if (verb == "demo")
        {
            a.Allow("--seed", "--problems-per-difficulty", "--max-difficulty", "--out", "--artifact-prefix", "--prompts");
            var o = new Core.Demo.DemoDatasetOptions
            {
                Seed = a.Int("--seed", 1, int.MinValue, int.MaxValue),
                ProblemsPerDifficulty = a.Int("--problems-per-difficulty", 50, 1, 100000),
                MaxDifficulty = a.Int("--max-difficulty", 2, 1, 4),
                Prompts = a.Get("--prompts") is { } ps && ps is "standard" or "compact" ? ps : a.Get("--prompts") is null ? "standard"
                    : throw new CliException("--prompts must be standard or compact"),
            };
            string dir = a.Get("--out") ?? throw new CliException("--out DIR is required");
            Directory.CreateDirectory(dir);
            var files = new (string Name, string Text)[]
            {
                ("problems.jsonl", Core.Datasets.Jsonl.Write(Core.Demo.DemoDatasets.ProblemRows(o))),
                ("graded-proofs.jsonl", Core.Datasets.Jsonl.Write(Core.Demo.DemoDatasets.GradedProofs(o))),
                ("graded-analyses.jsonl", Core.Datasets.Jsonl.Write(Core.Demo.DemoDatasets.GradedAnalyses(o))),
                ("demonstrations.jsonl", Core.Datasets.Jsonl.Write(Core.Demo.DemoDatasets.Demonstrations(o))),
            };
            foreach (var (name, text) in files) await File.WriteAllTextAsync(Path.Combine(dir, name), text, ct);
            string? artifact = a.Get("--artifact-prefix") is { } prefix ? await UploadDatasetAsync($"{prefix}-demo-seed{o.Seed}", "demo-datasets", files, ct) : null;
            var counts = files.ToDictionary(f => f.Name, f => f.Text.Count(c => c == '\n'));
            if (a.Json) WriteJson(new { dir, options = o, rows = counts, artifact });
            else stdout.WriteLine($"demo datasets in {dir}: " + string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}")) + (artifact != null ? $" (artifact {artifact})" : ""));
            return 0;
        }
        throw new CliException($"unknown datasets action '{verb}'; available: import, demo");
    }

    /// <summary>Stores files as an immutable artifact in the datasets container of the local stack.</summary>
    async Task<string> UploadDatasetAsync(string id, string kind, IEnumerable<(string Name, string Text)> files, CancellationToken ct)
    {
        if (!Ids.IsValid(id)) throw new CliException($"invalid artifact id '{id}': use letters, digits, '-', '_' or '.'");
        if (!File.Exists(layout.PidFile)) throw new CliException("storing an artifact needs the local stack: run ./mathv2 up");
        var store = new Core.Artifacts.ArtifactStore(new MathV2Storage(layout.StorageConnectionString));
        if (await store.GetAsync(id, ct) != null) throw new CliException($"artifact {id} already exists (artifacts are immutable)");
        var w = store.Create(id, kind, StorageNames.DatasetsContainer, id, new Core.Artifacts.ArtifactProducer { Worker = "mathv2 cli" });
        foreach (var (name, text) in files) await w.AddTextAsync(name, text, ct);
        await w.CommitAsync(ct);
        return id;
    }

    /// <summary>What the parsers extract from a model output read from stdin (for debugging prompts).</summary>
    int MethodCommand(Args a)
    {
        a.Allow("--kind", "--finish-reason");
        if (a.Positional(0, "method action (parse)") != "parse") throw new CliException("unknown method action; available: parse");
        string kind = a.Get("--kind") ?? throw new CliException("--kind is required: verification, meta or generation");
        string finish = a.Get("--finish-reason") ?? "stop";
        if (finish is not ("stop" or "length")) throw new CliException("--finish-reason must be stop or length");
        string text = stdin.ReadToEnd();
        object result = kind switch
        {
            "verification" => Core.Method.Parsers.Verification(text, finish),
            "meta" => Core.Method.Parsers.MetaVerification(text, finish),
            "generation" => Core.Method.Parsers.Generation(text, finish),
            _ => throw new CliException($"unknown --kind '{kind}': use verification, meta or generation"),
        };
        var doc = JsonSerializer.SerializeToElement(result, result.GetType(), Json.Options);
        if (a.Json) WriteJson(doc);
        else foreach (var p in doc.EnumerateObject()) stdout.WriteLine($"{p.Name,-15} {(p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : p.Value.GetRawText())}");
        return doc.TryGetProperty("formatOk", out var ok) && ok.GetBoolean() ? 0 : 2;
    }

    int BenchConsensus(Args a)
    {
        a.Allow("--proofs", "--verifier-accuracy", "--meta-accuracy", "--n", "--m", "--k", "--seed");
        var sim = new Core.Method.ConsensusSimulationOptions
        {
            Proofs = a.Int("--proofs", 2000, 1, 1_000_000),
            VerifierAccuracy = a.Double("--verifier-accuracy", 0.8),
            MetaAccuracy = a.Double("--meta-accuracy", 0.85),
            Seed = a.Int("--seed", 7, int.MinValue, int.MaxValue),
        };
        var o = new Core.Method.ConsensusOptions { N = a.Int("--n", 8, 1, 64), M = a.Int("--m", 4, 1, 64), K = a.Int("--k", 2, 1, 64) };
        var invalid = o.Validate().ToList();
        if (invalid.Count > 0) throw new CliException(string.Join("; ", invalid.Select(e => $"--{e.Field} {e.Message}")));
        var sw = Stopwatch.StartNew();
        var (f, ad) = Core.Method.ConsensusSimulation.Run(sim, o);
        double saved = f.Samples == 0 ? 0 : 1 - (double)ad.Samples / f.Samples;
        var report = new
        {
            benchmark = "consensus",
            simulation = sim,
            options = o,
            @fixed = new { f.Samples, f.SamplesPerProof, f.Agreement, f.DiscardRate },
            adaptive = new { ad.Samples, ad.SamplesPerProof, ad.Agreement, ad.DiscardRate },
            samplesSaved = saved,
            agreementDifferencePoints = (ad.Agreement - f.Agreement) * 100,
            target = "adaptive uses at least 30% fewer samples with agreement within 1 point of fixed",
            meetsTarget = saved >= 0.30 && Math.Abs(ad.Agreement - f.Agreement) * 100 <= 1,
            seconds = sw.Elapsed.TotalSeconds,
        };
        if (a.Json) WriteJson(report);
        else stdout.WriteLine($"consensus over {sim.Proofs} simulated proofs (verifier acc {sim.VerifierAccuracy}, meta acc {sim.MetaAccuracy}, n={o.N} m={o.M} k={o.K}):\n" +
            $"  fixed:    {f.SamplesPerProof,6:F2} samples/proof, agreement {f.Agreement:P2}, discarded {f.DiscardRate:P1}\n" +
            $"  adaptive: {ad.SamplesPerProof,6:F2} samples/proof, agreement {ad.Agreement:P2}, discarded {ad.DiscardRate:P1}\n" +
            $"  samples saved {saved:P1}; target (>= 30% saved, agreement within 1 point): {(report.meetsTarget ? "met" : "NOT met")}");
        return 0;
    }

    async Task<int> BenchAsync(Args a, CancellationToken ct)
    {
        if (a.Positionals.FirstOrDefault() == "consensus") return BenchConsensus(a);
        if (a.Positionals.FirstOrDefault() == "worker") return await BenchWorkerAsync(a, ct);
        if (a.Positionals.FirstOrDefault() == "bootstrap") return await BenchBootstrapAsync(a, ct);
        if (a.Positionals.FirstOrDefault() == "api") return await BenchApiAsync(a, ct);
        a.Allow("--jobs");
        if (a.Positional(0, "benchmark name (protocol|consensus|worker|bootstrap|api)") != "protocol") throw new CliException("unknown benchmark; available: protocol, consensus, worker, bootstrap, api");
        int n = a.Int("--jobs", 30, 1, 1000);
        using var api = ApiClient.FromEnvironment(layout);
        var progress = Progress(a);
        var rows = new List<BenchRow>();
        for (int i = 0; i < n; i++)
        {
            var started = await api.PostAsync("/api/probes", new { size = 64, repeats = 1, jobs = 1 }, ct);
            string id = started.GetProperty("id").GetString()!;
            JsonElement st;
            while (true)
            {
                st = await api.GetAsync($"/api/instances/{id}?showInput=false", ct);
                if (st.GetProperty("runtimeStatus").GetString() is "Completed" or "Failed" or "Terminated") break;
                await Task.Delay(50, ct);
            }
            if (st.GetProperty("runtimeStatus").GetString() != "Completed") throw new CliException($"bench probe {id} did not complete");
            string jobId = $"{id}-probe-0";
            var job = await api.GetAsync($"/api/jobs/{jobId}", ct);
            var sub = await api.GetAsync($"/api/instances/{jobId}?showInput=false", ct);
            var attempt = job.GetProperty("attempts")[0];
            var submitted = job.GetProperty("createdAt").GetDateTimeOffset();
            var claimed = attempt.GetProperty("startedAt").GetDateTimeOffset();
            var finished = job.GetProperty("finishedAt").GetDateTimeOffset();
            var resumed = sub.GetProperty("lastUpdatedTime").GetDateTimeOffset();
            var row = new BenchRow(jobId, (claimed - submitted).TotalMilliseconds, (resumed - finished).TotalMilliseconds, (finished - claimed).TotalMilliseconds);
            rows.Add(row);
            progress.WriteLine($"  {i + 1,3}/{n} submit→claim {row.SubmitToClaimMs,7:F0} ms  finish→resumed {row.FinishToResumedMs,7:F0} ms  run {row.RunMs,6:F0} ms");
        }
        var report = new
        {
            benchmark = "protocol",
            jobs = n,
            submitToClaimMs = Stats(rows.Select(r => r.SubmitToClaimMs)),
            finishToResumedMs = Stats(rows.Select(r => r.FinishToResumedMs)),
            overheadMs = Stats(rows.Select(r => r.SubmitToClaimMs + r.FinishToResumedMs)),
            jobRunMs = Stats(rows.Select(r => r.RunMs)),
            targetP50OverheadMs = 1000,
            meetsTarget = Percentile(rows.Select(r => r.SubmitToClaimMs + r.FinishToResumedMs).ToList(), 50) < 1000,
            perJob = rows,
        };
        if (a.Json) WriteJson(report);
        else
        {
            stdout.WriteLine($"protocol overhead over {n} sequential jobs (ms): p50 {report.overheadMs.P50:F0}, p95 {report.overheadMs.P95:F0} " +
                $"(submit→claim p50 {report.submitToClaimMs.P50:F0}, finish→resumed p50 {report.finishToResumedMs.P50:F0}); " +
                $"job run time p50 {report.jobRunMs.P50:F0}. Target p50 < 1000: {(report.meetsTarget ? "met" : "NOT met")}");
        }
        return 0;
    }

    /// <summary>`bench api`: N clients for S seconds of mixed GETs against the API; throughput, latency, status codes.</summary>
    async Task<int> BenchApiAsync(Args a, CancellationToken ct)
    {
        a.Allow("--clients", "--seconds", "--requests");
        var o = new ApiLoadOptions
        {
            Clients = a.Int("--clients", 16, 1, 512),
            Seconds = a.Int("--seconds", 30, 1, 3600),
            Requests = a.Int("--requests", 0, 0, 10_000_000),
        };
        using var api = ApiClient.FromEnvironment(layout);
        Progress(a).WriteLine(o.Requests > 0 ? $"bench api: {o.Clients} clients, {o.Requests} requests against {api.BaseUrl}..."
            : $"bench api: {o.Clients} clients for {o.Seconds} s against {api.BaseUrl}...");
        var r = await ApiLoadBench.RunAsync(api.BaseUrl, api.Key, o, ct);
        if (a.Json) WriteJson(new { benchmark = "api", result = r, target = "no 5xx", meetsTarget = r.ServerErrors == 0 });
        else
        {
            stdout.WriteLine($"api load: {r.Requests} requests from {r.Clients} clients in {r.Seconds:F1} s = {r.RequestsPerSecond:F0} requests/s; " +
                $"latency ms p50 {r.P50Ms:F1}, p95 {r.P95Ms:F1}, p99 {r.P99Ms:F1}, max {r.MaxMs:F0}");
            stdout.WriteLine("  status codes: " + string.Join(", ", r.StatusCodes.Select(c => $"{c.Key} × {c.Value}")));
            foreach (var route in r.Routes)
                stdout.WriteLine($"  {route.Route,-40} {route.Requests,7} requests  p50 {route.P50Ms,6:F1} ms  p99 {route.P99Ms,6:F1} ms  " +
                    string.Join(", ", route.StatusCodes.Select(c => $"{c.Key} × {c.Value}")));
            stdout.WriteLine($"  target (no 5xx): {(r.ServerErrors == 0 ? "met" : $"NOT met ({r.ServerErrors} server errors)")}");
        }
        return r.ServerErrors == 0 ? 0 : 1;
    }

    async Task<int> LapAsync(Args a, CancellationToken ct)
    {
        string verb = a.Positional(0, "lap command (start|show|list|restart|report)");
        using var api = ApiClient.FromEnvironment(layout);
        switch (verb)
        {
            case "start":
            {
                a.Allow("--spec", "--annotator", "--wait");
                var spec = ReadSpec(a.Get("--spec"));
                if (a.Get("--annotator") is { } annotator)
                {
                    var ann = spec["annotation"] as System.Text.Json.Nodes.JsonObject ?? new System.Text.Json.Nodes.JsonObject();
                    ann["annotator"] = annotator;
                    spec["annotation"] = ann;
                }
                var started = await api.PostAsync("/api/laps", spec, ct);
                string id = started.GetProperty("id").GetString()!;
                if (a.Has("--wait")) return await WaitForLapAsync(api, id, a, ct);
                if (a.Json) WriteJson(started); else stdout.WriteLine($"lap {id} started; ./mathv2 lap show {id}");
                return 0;
            }
            case "restart":
            {
                a.Allow("--from-phase", "--spec", "--wait");
                string id = a.Positional(1, "lap id");
                string phase = a.Get("--from-phase") ?? throw new CliException("--from-phase is required (1a, 1b, 1c, 1d, 2, 3 or 4)");
                var body = a.Get("--spec") is { } file ? ReadSpec(file) : null;
                var started = await api.PostAsync($"/api/laps/{id}/restart?fromPhase={Uri.EscapeDataString(phase)}", body, ct);
                string newId = started.GetProperty("id").GetString()!;
                if (a.Has("--wait")) return await WaitForLapAsync(api, newId, a, ct);
                if (a.Json) WriteJson(started); else stdout.WriteLine($"lap {newId} started from phase {phase}, reusing the earlier phases of {id}; ./mathv2 lap show {newId}");
                return 0;
            }
            case "report":
            {
                a.Allow();
                string id = a.Positional(1, "lap id");
                stdout.Write(await api.GetTextAsync($"/api/laps/{id}/report{(a.Json ? "?format=json" : "")}", ct));
                return 0;
            }
            case "show":
            {
                a.Allow();
                var lap = await api.GetAsync($"/api/laps/{a.Positional(1, "lap id")}", ct);
                if (a.Json) { WriteJson(lap); return 0; }
                stdout.WriteLine(LapLine(lap));
                if (lap.TryGetProperty("status", out var st) && st.TryGetProperty("artifacts", out var arts))
                    foreach (var p in arts.EnumerateObject()) stdout.WriteLine($"  {p.Name,-16} {p.Value.GetString()}");
                if (lap.TryGetProperty("failure", out var f) && f.ValueKind == JsonValueKind.String) stdout.WriteLine($"  failure: {f.GetString()}");
                if (lap.GetProperty("runtimeStatus").GetString() == "Completed") { stdout.WriteLine(); stdout.Write(await api.GetTextAsync($"/api/laps/{lap.GetProperty("id").GetString()}/report", ct)); }
                return 0;
            }
            case "list":
            {
                a.Allow();
                var laps = await api.GetAsync("/api/laps", ct);
                if (a.Json) { WriteJson(laps); return 0; }
                foreach (var l in laps.EnumerateArray())
                    stdout.WriteLine($"{l.GetProperty("id").GetString(),-18} {l.GetProperty("runtimeStatus").GetString(),-10} {l.GetProperty("createdAt").GetDateTimeOffset():u} " +
                        (l.TryGetProperty("status", out var s) && s.TryGetProperty("phase", out var ph) ? $"phase {ph.GetString()}" : ""));
                return 0;
            }
            default: throw new CliException("lap commands: start, show, list, restart, report");
        }
    }

    /// <summary>
    /// Progress lines with the elapsed time: a new line when the phase or step changes (the text before " ("),
    /// progress within a step at most every 15 s.
    /// </summary>
    sealed class ProgressLines(TextWriter progress)
    {
        readonly Stopwatch sw = Stopwatch.StartNew();
        TimeSpan printed;
        string last = "";

        public void Write(string line)
        {
            if (line.Split(" (")[0] == last.Split(" (")[0] && (line == last || sw.Elapsed - printed < TimeSpan.FromSeconds(15))) return;
            progress.WriteLine($"[{sw.Elapsed:hh\\:mm\\:ss}] {line}");
            last = line;
            printed = sw.Elapsed;
        }
    }

    /// <summary>A job's progress in a few words: training steps, samples done, refinement iterations.</summary>
    static string? Progress(JsonElement p)
    {
        int? I(string name) => p.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : null;
        if (I("step") is { } step && I("steps") is { } steps) return $"step {step}/{steps}";
        if (I("done") is { } done && I("total") is { } total) return $"{done}/{total} samples";
        if (I("iteration") is { } it) return $"iteration {it}, {I("stillRefining")} still refining";
        return null;
    }

    /// <summary>One line: status, phase, what the running phase is doing (job step and progress, annotation wait).</summary>
    static string LapLine(JsonElement lap)
    {
        var sb = new System.Text.StringBuilder($"{lap.GetProperty("id").GetString()} {lap.GetProperty("runtimeStatus").GetString()}");
        if (lap.TryGetProperty("status", out var st) && st.TryGetProperty("phase", out var phase)) sb.Append($", phase {phase.GetString()}");
        if (lap.TryGetProperty("phaseStatus", out var ps) && ps.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Object
            && s.Deserialize<Core.Laps.PhaseStatus>(Json.Options) is { } running)
        {
            if (running.Step != null) sb.Append($": {running.Step}");
            if (ps.TryGetProperty("jobs", out var jobs) && jobs.ValueKind == JsonValueKind.Array)
            {
                var parts = jobs.EnumerateArray().Select(j => j.TryGetProperty("progress", out var p) && p.ValueKind == JsonValueKind.Object ? Progress(p) : null).OfType<string>().ToList();
                if (parts.Count > 0) sb.Append($" ({string.Join("; ", parts)})");
            }
            if (running.Status == Core.Laps.PhaseStatus.AwaitingAnnotation)
                sb.Append($": awaiting annotation of {running.BatchId} ({running.Items} items; ./mathv2 annotations pull)");
        }
        return sb.ToString();
    }

    async Task<int> AnnotationsAsync(Args a, CancellationToken ct)
    {
        string verb = a.Positional(0, "annotations command (pull|submit)");
        string lap = a.Positional(1, "lap id"), batch = a.Positional(2, "batch id");
        using var api = ApiClient.FromEnvironment(layout);
        switch (verb)
        {
            case "pull":
            {
                a.Allow("--out");
                string items = await api.GetTextAsync($"/api/laps/{lap}/annotations/{batch}", ct);
                if (a.Get("--out") is { } path)
                {
                    File.WriteAllText(path, items);
                    int n = items.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
                    if (a.Json) WriteJson(new { batch, items = n, path }); else stdout.WriteLine($"{n} items written to {path}; label each with {{\"itemId\", \"score\"}} and submit");
                }
                else stdout.Write(items);
                return 0;
            }
            case "submit":
            {
                a.Allow("--in");
                string path = a.Get("--in") ?? throw new CliException("--in FILE (labels JSONL) is required");
                if (!File.Exists(path)) throw new CliException($"no such file: {path}");
                var result = await api.PostTextAsync($"/api/laps/{lap}/annotations/{batch}", File.ReadAllText(path), "application/x-ndjson", ct);
                if (a.Json) WriteJson(result); else stdout.WriteLine($"{result.GetProperty("labels").GetInt32()} labels stored for {batch}; the lap continues");
                return 0;
            }
            default: throw new CliException("annotations commands: pull, submit");
        }
    }

    /// <summary>
    /// `bench bootstrap`: what the demo lap's bootstrap can do before any RL (held-out verification accuracy by
    /// defect kind, oracle pass rate of its proofs by difficulty), once per tokenizer with the same seeds.
    /// </summary>
    async Task<int> BenchBootstrapAsync(Args a, CancellationToken ct)
    {
        a.Allow("--quick", "--steps", "--tokenizers", "--heldout", "--seed");
        var args = new List<string> { "bench", "bootstrap" };
        if (a.Has("--quick")) args.Add("--quick");
        if (a.Get("--seed") is { }) { args.Add("--seed"); args.Add(a.Int("--seed", 0, 0, int.MaxValue).ToString()); }
        foreach (string o in new[] { "--steps", "--heldout" })
            if (a.Get(o) is { } v) { args.Add(o); args.Add(a.Int(o, 1, 1, 100_000).ToString()); }
        if (a.Get("--tokenizers") is { } t)
        {
            if (t.Split(',').Any(x => x is not ("char" or "words"))) throw new CliException("--tokenizers: a comma-separated list of char, words");
            args.Add("--tokenizers"); args.Add(t);
        }
        string json = await RunWorkerBenchAsync(a, args, ct);
        if (a.Json) { stdout.WriteLine(json.Trim()); return 0; }
        using var doc = JsonDocument.Parse(json);
        var r = doc.RootElement;
        stdout.WriteLine($"bootstrap benchmark on {r.GetProperty("device").GetString()} ({r.GetProperty("threads").GetInt32()} threads): " +
            $"{r.GetProperty("heldOutProblems").GetInt32()} held-out problems, {r.GetProperty("heldOutProofs").GetInt32()} held-out graded proofs");
        foreach (var x in r.GetProperty("results").EnumerateArray())
        {
            var g = x.GetProperty("generation");
            stdout.WriteLine($"  {x.GetProperty("tokenizer").GetString(),-6} vocab {x.GetProperty("vocab").GetInt32(),5}, {x.GetProperty("trainTokens").GetInt32(),8:N0} training tokens, " +
                $"{x.GetProperty("steps").GetInt32()} steps in {x.GetProperty("trainSeconds").GetDouble():F0} s: verifier accuracy {x.GetProperty("verifierAccuracy").GetDouble():F2}, " +
                $"oracle pass rate {g.GetProperty("greedy").GetProperty("oraclePassRate").GetDouble():F2} greedy / {g.GetProperty("sampled").GetProperty("oraclePassRate").GetDouble():F2} sampled");
        }
        return 0;
    }

    /// <summary>Runs `dotnet Gpu.Worker.dll bench …`, relaying its progress (stderr); returns its JSON (stdout).</summary>
    async Task<string> RunWorkerBenchAsync(Args a, IEnumerable<string> args, CancellationToken ct)
    {
        if (!File.Exists(layout.WorkerDll)) throw new CliException($"worker not built: {layout.WorkerDll} is missing (run ./mathv2 once to build)");
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(layout.WorkerDll);
        foreach (string x in args) psi.ArgumentList.Add(x);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var progress = Progress(a);
        var errTask = Task.Run(async () =>
        {
            var err = new System.Text.StringBuilder();
            while (await p.StandardError.ReadLineAsync(ct) is { } line) { progress.WriteLine(line); err.AppendLine(line); }
            return err.ToString();
        }, ct);
        string json = await p.StandardOutput.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        string err = await errTask;
        if (p.ExitCode != 0) throw new CliException($"worker benchmark failed (exit {p.ExitCode}): {err.Trim()}");
        return json;
    }

    /// <summary>Runs the worker's benchmark in a worker process (TorchSharp lives there, not in the CLI).</summary>
    async Task<int> BenchWorkerAsync(Args a, CancellationToken ct)
    {
        a.Allow("--quick", "--steps", "--new-tokens");
        var args = new List<string> { "bench" };
        if (a.Has("--quick")) args.Add("--quick");
        foreach (string o in new[] { "--steps", "--new-tokens" })
            if (a.Get(o) is { } v) { args.Add(o); args.Add(a.Int(o, 1, 1, 100_000).ToString()); }
        string json = await RunWorkerBenchAsync(a, args, ct);
        using var doc = JsonDocument.Parse(json);
        var r = doc.RootElement;
        if (a.Json) { stdout.WriteLine(json.Trim()); return 0; }
        stdout.WriteLine($"worker benchmark on {r.GetProperty("device").GetString()} ({r.GetProperty("threads").GetInt32()} threads), matmul {r.GetProperty("matmulGflops").GetDouble():F1} GFLOP/s");
        foreach (var t in r.GetProperty("training").EnumerateArray())
            stdout.WriteLine($"  training {t.GetProperty("config").GetString(),-6} {t.GetProperty("parameters").GetInt64(),10:N0} params: {t.GetProperty("tokensPerSecond").GetDouble(),9:F0} tokens/s, " +
                $"{t.GetProperty("modelGflops").GetDouble():F1} GFLOP/s = {t.GetProperty("mfu").GetDouble():P0} of matmul");
        var s = r.GetProperty("sampling");
        stdout.WriteLine($"  sampling {s.GetProperty("newTokens").GetInt32()} new tokens after a {s.GetProperty("promptTokens").GetInt32()}-token prompt: KV cache {s.GetProperty("cachedTokensPerSecond").GetDouble():F0} vs. " +
            $"{s.GetProperty("uncachedTokensPerSecond").GetDouble():F0} tokens/s without ({s.GetProperty("cacheSpeedup").GetDouble():F1}x; {s.GetProperty("shortPromptCacheSpeedup").GetDouble():F1}x after a {s.GetProperty("shortPromptTokens").GetInt32()}-token prompt)");
        stdout.WriteLine($"  batched ({s.GetProperty("batch").GetInt32()}) {s.GetProperty("batchedTokensPerSecond").GetDouble():F0} vs. one by one {s.GetProperty("oneByOneTokensPerSecond").GetDouble():F0} tokens/s ({s.GetProperty("batchSpeedup").GetDouble():F1}x)");
        var g = r.GetProperty("targets");
        stdout.WriteLine($"  targets: training >= 35% of matmul (larger): {(g.GetProperty("trainingMfuLargerMet").GetBoolean() ? "met" : "NOT met")}; KV cache >= 5x: {(g.GetProperty("cacheSpeedupMet").GetBoolean() ? "met" : "NOT met")}");
        return 0;
    }

    public sealed record BenchRow(string JobId, double SubmitToClaimMs, double FinishToResumedMs, double RunMs);

    public sealed record Summary(double P50, double P95, double Mean, double Max);

    static Summary Stats(IEnumerable<double> values)
    {
        var l = values.ToList();
        return new Summary(Percentile(l, 50), Percentile(l, 95), l.Count == 0 ? 0 : l.Average(), l.Count == 0 ? 0 : l.Max());
    }

    internal static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0) return 0;
        var s = values.OrderBy(v => v).ToList();
        double rank = p / 100 * (s.Count - 1);
        int lo = (int)Math.Floor(rank), hi = (int)Math.Ceiling(rank);
        return s[lo] + (s[hi] - s[lo]) * (rank - lo);
    }

    void WriteJson<T>(T value) => stdout.WriteLine(JsonSerializer.Serialize(value, Json.Indented));
}
