using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Http;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using MathV2.Core.Storage;

namespace MathV2.Cli;

/// <summary>The faults `mathv2 chaos` injects.</summary>
public static class ChaosFaults
{
    /// <summary>SIGKILL the host; started again after 0–5 s.</summary>
    public const string Host = "kill-host";
    /// <summary>SIGKILL one worker; started again after 0–5 s.</summary>
    public const string Worker = "kill-worker";
    /// <summary>Azurite stopped (SIGTERM: it saves its data) and started again after 0–5 s.</summary>
    public const string AzuriteRestart = "restart-azurite";
    /// <summary>Azurite frozen (SIGSTOP) for 5 s up to --max-outage: requests hang, then go on (SIGCONT).</summary>
    public const string AzuritePause = "pause-azurite";
    /// <summary>Azurite down (stopped) for 5 s up to --max-outage: connections refused, then it is started again.</summary>
    public const string AzuriteDown = "stop-azurite";
    /// <summary>Every worker SIGKILLed and kept down until the running laps fail (a job exhausted: no worker claims it), then back and the laps rewound.</summary>
    public const string WorkersOut = "workers-out";

    public static readonly string[] All = [Host, Worker, AzuriteRestart, AzuritePause, AzuriteDown, WorkersOut];

    /// <summary>
    /// The faults to inject, in rounds: each round is every kind of <paramref name="kinds"/> (all when empty) once, in
    /// an order drawn from <paramref name="random"/>; so every kind comes early, and one seed draws one sequence.
    /// </summary>
    public static IEnumerable<string> Draw(Random random, IReadOnlyList<string>? kinds = null)
    {
        string[] pool = kinds is { Count: > 0 } ? [.. kinds.Distinct()] : All;
        while (true)
        {
            string[] round = [.. pool];
            random.Shuffle(round);
            foreach (string kind in round) yield return kind;
        }
    }
}

public sealed record ChaosOptions
{
    public int Laps { get; init; } = 3;
    public int Seed { get; init; } = 1;
    /// <summary>Laps running at once (faults hit every lap that runs).</summary>
    public int Concurrent { get; init; } = 2;
    /// <summary>Seconds between faults: drawn from [MinGap, MaxGap].</summary>
    public double MinGapSeconds { get; init; } = 8;
    public double MaxGapSeconds { get; init; } = 30;
    /// <summary>The longest Azurite outage (pause or down), seconds.</summary>
    public double MaxOutageSeconds { get; init; } = 60;
    /// <summary>Rewinds of one lap before it counts as lost.</summary>
    public int MaxRewinds { get; init; } = 4;
    /// <summary>The kinds of fault to draw from (<see cref="ChaosFaults"/>); empty for all.</summary>
    public IReadOnlyList<string> Kinds { get; init; } = [];
    /// <summary>The lap spec (JSON); null for <see cref="ChaosRun.DefaultSpec"/>.</summary>
    public JsonObject? Spec { get; init; }
}

public sealed record ChaosFault(string Kind, double AtSeconds, double DownSeconds, string Target);

public sealed record ChaosLapResult
{
    public required int Number { get; init; }
    public required string LapId { get; init; }
    public required string Status { get; init; }
    public double Minutes { get; init; }
    /// <summary>Faults injected while the lap ran.</summary>
    public int Faults { get; init; }
    public int Rewinds { get; init; }
    public int Jobs { get; init; }
    /// <summary>Jobs that needed more than one attempt.</summary>
    public int Retried { get; init; }
    public int FilesCompared { get; init; }
    /// <summary>The largest orchestration history (rows) among the lap's instances.</summary>
    public int MaxHistoryRows { get; init; }
    /// <summary>The most it may be (<see cref="ChaosRun.HistoryBound"/>).</summary>
    public int HistoryBound { get; init; }
    /// <summary>What the checks found wrong (empty: recovered, nothing lost).</summary>
    public List<string> Problems { get; init; } = [];
    public bool Recovered => Status == RuntimeStates.Completed && Problems.Count == 0;
}

public sealed record ChaosReport
{
    public required int Seed { get; init; }
    public required string ReferenceLap { get; init; }
    public double ReferenceMinutes { get; init; }
    public int ReferenceJobs { get; init; }
    public int ReferenceFiles { get; init; }
    public int ReferenceMaxHistoryRows { get; init; }
    public required List<ChaosFault> Faults { get; init; }
    public required List<ChaosLapResult> Laps { get; init; }
    /// <summary>Processes that died on their own (not killed by chaos) and were started again.</summary>
    public List<string> UnplannedRestarts { get; init; } = [];
    /// <summary>Stack-wide problems found at the end (a job left queued or running, messages left on gpu-jobs).</summary>
    public List<string> Problems { get; init; } = [];
    public double Minutes { get; init; }
    public int Recovered => Laps.Count(l => l.Recovered);
    public int Lost => Laps.Count - Recovered;
    public bool Passed => Lost == 0 && Problems.Count == 0;
}

/// <summary>
/// `mathv2 chaos`: small laps on a local stack of their own while faults are injected at seeded random moments (hosts,
/// workers and Azurite killed or stopped, every worker out until laps fail and are rewound). Afterwards each lap is
/// checked: completed; every job succeeded exactly once with its attempts recorded; every job's and phase's artifact
/// files identical (sha256) to the same lap run undisturbed first; no job left queued or running; history bounded.
/// </summary>
public sealed class ChaosRun(LocalStack stack, TextWriter progress)
{
    /// <summary>The reduced lap: every phase, one-layer models, a few steps (about a minute here); jobs give up quickly without workers.</summary>
    public static JsonObject DefaultSpec() => JsonNode.Parse("""
        {
          "name": "chaos lap",
          "demo": { "seed": 2, "problemsPerDifficulty": 3, "maxDifficulty": 1, "prompts": "compact" },
          "bootstrap": {
            "config": { "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 64, "max_position_embeddings": 1024 },
            "options": { "steps": 40, "batchSize": 4, "maxSeqLen": 512 }
          },
          "coldStart": { "proofsPerProblem": 2, "maxNewTokens": 30 },
          "annotation": { "annotator": "oracle" },
          "verifier": { "steps": 10, "groupSize": 2, "promptsPerStep": 2, "maxNewTokens": 16, "batchSize": 4, "maxSeqLen": 512 },
          "metaVerifier": { "steps": 2, "groupSize": 2, "promptsPerStep": 2, "maxNewTokens": 16, "batchSize": 4, "maxSeqLen": 768 },
          "generator": { "steps": 16, "groupSize": 2, "promptsPerStep": 2, "maxNewTokens": 24, "batchSize": 4, "maxSeqLen": 512 },
          "analyses": { "perProof": 1, "maxNewTokens": 24 },
          "selfVerification": { "steps": 6, "groupSize": 2, "promptsPerStep": 2, "maxNewTokens": 24, "batchSize": 4, "maxSeqLen": 512 },
          "refinement": { "maxIterations": 2, "samples": 2, "maxNewTokens": 24 },
          "consensus": { "n": 2, "m": 2, "k": 1, "proofs": 3, "maxNewTokens": 16, "shards": 2 },
          "evaluation": { "heldOutPerDifficulty": 1, "maxNewTokens": 16, "analysisSamples": 2 },
          "limits": { "pollSeconds": 1, "heartbeatStaleSeconds": 10, "claimTimeoutSeconds": 40, "maxAttempts": 3 }
        }
        """)!.AsObject();

    /// <summary>
    /// Files that hold wall-clock times, so they differ between any two runs: a training job's metrics.jsonl (each
    /// step's time and speed) and its TensorBoard file (named by its first time). Left out of the comparison.
    /// </summary>
    public static bool IsTimed(string path) =>
        Path.GetFileName(path) is "metrics.jsonl" || Path.GetFileName(path).StartsWith("events.out.tfevents.", StringComparison.Ordinal);

    readonly List<string> _unplanned = [];

    MathV2Storage Storage => new(stack.Layout.StorageConnectionString);

    public async Task<ChaosReport> RunAsync(ChaosOptions options, CancellationToken ct)
    {
        var total = Stopwatch.StartNew();
        var spec = options.Spec ?? DefaultSpec();
        await stack.UpAsync(ct);
        using var api = new ApiClient(stack.Layout.Url, stack.Key);

        progress.WriteLine("chaos: the reference lap, undisturbed...");
        var refWatch = Stopwatch.StartNew();
        string refId = await StartLapAsync(api, spec, ct);
        var refView = await WaitUndisturbedAsync(api, refId, ct);
        double refMinutes = refWatch.Elapsed.TotalMinutes;
        if (refView.RuntimeStatus != RuntimeStates.Completed)
            throw new CliException($"the reference lap {refId} did not complete ({refView.RuntimeStatus}: {refView.Failure}); chaos needs a spec that completes undisturbed");
        var reference = await FingerprintAsync(refView, ct);
        int refHistory = await MaxHistoryRowsAsync(refId, ct);
        progress.WriteLine($"chaos: reference lap {refId} completed in {refMinutes:F1} min: {reference.Count} files, largest history {refHistory} rows");

        var faults = new List<ChaosFault>();
        var random = new Random(options.Seed);
        using var draw = ChaosFaults.Draw(new Random(options.Seed), options.Kinds).GetEnumerator();
        var running = new Dictionary<string, LapRun>();
        var finished = new List<LapRun>();
        int started = 0;
        var clock = Stopwatch.StartNew();
        double nextFault = Gap(random, options);
        while (started < options.Laps || running.Count > 0)
        {
            ct.ThrowIfCancellationRequested();
            while (started < options.Laps && running.Count < options.Concurrent)
            {
                string id = await RetryAsync(() => StartLapAsync(api, spec, ct), ct);
                running[id] = new LapRun(++started, id, Stopwatch.StartNew());
                progress.WriteLine($"chaos: lap {started}/{options.Laps} started: {id}");
            }
            if (clock.Elapsed.TotalSeconds >= nextFault)
            {
                draw.MoveNext();
                var fault = await InjectAsync(draw.Current, random, options, clock, running, api, ct);
                faults.Add(fault);
                foreach (var r in running.Values) r.Faults++;
                progress.WriteLine($"chaos: {clock.Elapsed.TotalSeconds,6:F0} s  {fault.Kind} {fault.Target} (down {fault.DownSeconds:F0} s); {running.Count} lap(s) running");
                nextFault = clock.Elapsed.TotalSeconds + Gap(random, options);
            }
            await SuperviseAsync(ct);
            foreach (var run in running.Values.ToList())
            {
                var view = await TryGetLapAsync(api, run.Id, ct);
                if (view == null) continue;
                if (view.RuntimeStatus == RuntimeStates.Failed && run.Rewinds < options.MaxRewinds)
                {
                    await RewindAsync(api, run, view.Failure, ct);
                    continue;
                }
                if (!view.IsFinished) continue;
                run.Final = view;
                run.Minutes = run.Watch.Elapsed.TotalMinutes;
                running.Remove(run.Id);
                finished.Add(run);
                progress.WriteLine($"chaos: lap {run.Number} {run.Id} {view.RuntimeStatus.ToLowerInvariant()} after {run.Minutes:F1} min, {run.Faults} fault(s), {run.Rewinds} rewind(s)");
            }
            await Task.Delay(1000, ct);
        }

        // Everything back up, then the checks.
        await UpAsync(ct);
        var laps = new List<ChaosLapResult>();
        foreach (var run in finished.OrderBy(r => r.Number))
            laps.Add(await CheckLapAsync(run, reference, refHistory, ct));
        var problems = await CheckStackAsync([.. finished.Select(r => r.Id)], ct);
        var report = new ChaosReport
        {
            Seed = options.Seed, ReferenceLap = refId, ReferenceMinutes = refMinutes, ReferenceJobs = refView.Output!.Phases.Sum(p => p.Jobs.Count),
            ReferenceFiles = reference.Count, ReferenceMaxHistoryRows = refHistory,
            Faults = faults, Laps = laps, UnplannedRestarts = [.. _unplanned], Problems = problems, Minutes = total.Elapsed.TotalMinutes,
        };
        return report;
    }

    sealed class LapRun(int number, string id, Stopwatch watch)
    {
        public int Number => number;
        public string Id => id;
        public Stopwatch Watch => watch;
        public int Faults;
        public int Rewinds;
        public double Minutes;
        public LapView? Final;
    }

    static double Gap(Random random, ChaosOptions o) => o.MinGapSeconds + random.NextDouble() * (o.MaxGapSeconds - o.MinGapSeconds);

    static async Task<string> StartLapAsync(ApiClient api, JsonObject spec, CancellationToken ct) =>
        (await api.PostAsync<CheckStatusPayload>("/api/laps", spec, ct)).Id;

    async Task<LapView> WaitUndisturbedAsync(ApiClient api, string id, CancellationToken ct)
    {
        while (true)
        {
            var view = await api.GetAsync<LapView>($"/api/laps/{id}", ct);
            if (view.IsFinished) return view;
            await Task.Delay(1000, ct);
        }
    }

    /// <summary>The lap's view, or null while the API cannot answer (the host or its storage is down).</summary>
    static async Task<LapView?> TryGetLapAsync(ApiClient api, string id, CancellationToken ct)
    {
        try { return await api.GetAsync<LapView>($"/api/laps/{id}", ct); }
        catch (Exception e) when (e is CliException or HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested) { return null; }
    }

    static async Task<T> RetryAsync<T>(Func<Task<T>> call, CancellationToken ct)
    {
        for (int i = 0; ; i++)
        {
            try { return await call(); }
            catch (Exception e) when (i < 120 && (e is CliException { Message: not ['4', ..] } or HttpRequestException or TaskCanceledException) && !ct.IsCancellationRequested)
            {
                await Task.Delay(1000, ct);
            }
        }
    }

    async Task RewindAsync(ApiClient api, LapRun run, string? failure, CancellationToken ct)
    {
        await UpAsync(ct);
        await RetryAsync(async () => { await api.PostAsync($"/api/instances/{run.Id}/rewind?reason=chaos", ct); return 0; }, ct);
        run.Rewinds++;
        progress.WriteLine($"chaos: lap {run.Number} {run.Id} failed ({failure}); rewound");
    }

    /// <summary>
    /// Brings up whatever is down. A process that exits while starting (the host when storage is not back yet) is
    /// started again, as a container platform does; the stack's own waits bound each try.
    /// </summary>
    async Task UpAsync(CancellationToken ct)
    {
        for (int attempt = 1; ; attempt++)
        {
            try { await stack.UpAsync(ct); return; }
            catch (CliException e) when (attempt < 10)
            {
                string line = $"starting the stack failed ({e.Message.Split('\n')[0]}); trying again";
                _unplanned.Add(line);
                progress.WriteLine($"chaos: {line}");
                await Task.Delay(TimeSpan.FromSeconds(2), ct);
            }
        }
    }

    /// <summary>Starts again what died on its own (what a container platform does), recording it.</summary>
    async Task SuperviseAsync(CancellationToken ct)
    {
        List<string> lines;
        try { lines = await stack.HealAsync(ct); }
        catch (CliException e) { lines = [$"a restart failed ({e.Message.Split('\n')[0]})"]; await UpAsync(ct); }
        foreach (string line in lines)
        {
            _unplanned.Add(line.Split('\n')[0]);
            progress.WriteLine($"chaos: {line}");   // with the last lines of its log
        }
    }

    async Task<ChaosFault> InjectAsync(string kind, Random random, ChaosOptions o, Stopwatch clock, Dictionary<string, LapRun> running,
        ApiClient api, CancellationToken ct)
    {
        double at = clock.Elapsed.TotalSeconds;
        double shortDown = random.NextDouble() * 5, outage = 5 + random.NextDouble() * Math.Max(0, o.MaxOutageSeconds - 5);
        int pick = random.Next(1000);
        var pids = stack.Pids;
        switch (kind)
        {
            case ChaosFaults.Host:
                await KillAsync(pids.Host, "MathV2.Host.dll");
                await Task.Delay(TimeSpan.FromSeconds(shortDown), ct);
                await UpAsync(ct);
                return new ChaosFault(kind, at, shortDown, $"host {pids.Host}");
            case ChaosFaults.Worker:
                int worker = pids.Workers[pick % pids.Workers.Count];
                await KillAsync(worker, "MathV2.Gpu.Worker.dll");
                await Task.Delay(TimeSpan.FromSeconds(shortDown), ct);
                await UpAsync(ct);
                return new ChaosFault(kind, at, shortDown, $"worker {worker}");
            case ChaosFaults.AzuriteRestart:
                await LocalStack.StopAsync(pids.Azurite, "azurite");
                await Task.Delay(TimeSpan.FromSeconds(shortDown), ct);
                await UpAsync(ct);
                return new ChaosFault(kind, at, shortDown, $"azurite {pids.Azurite}");
            case ChaosFaults.AzuritePause:
                LocalStack.Signal(pids.Azurite!.Value, LocalStack.SigStop);
                try { await Task.Delay(TimeSpan.FromSeconds(outage), ct); }
                finally { LocalStack.Signal(pids.Azurite!.Value, LocalStack.SigCont); }
                return new ChaosFault(kind, at, outage, $"azurite {pids.Azurite}");
            case ChaosFaults.AzuriteDown:
                await LocalStack.StopAsync(pids.Azurite, "azurite");
                await Task.Delay(TimeSpan.FromSeconds(outage), ct);
                await UpAsync(ct);
                return new ChaosFault(kind, at, outage, $"azurite {pids.Azurite}");
            case ChaosFaults.WorkersOut:
                foreach (int w in pids.Workers) await KillAsync(w, "MathV2.Gpu.Worker.dll");
                var down = Stopwatch.StartNew();
                // Until every running lap has failed (its jobs unclaimed past the limit), or long enough that they must have.
                while (down.Elapsed < TimeSpan.FromSeconds(240) && running.Count > 0)
                {
                    bool allFailed = true;
                    foreach (var id in running.Keys)
                        if (await TryGetLapAsync(api, id, ct) is not { RuntimeStatus: RuntimeStates.Failed } and not { IsFinished: true }) allFailed = false;
                    if (allFailed) break;
                    await Task.Delay(1000, ct);
                }
                await UpAsync(ct);
                return new ChaosFault(kind, at, down.Elapsed.TotalSeconds, $"{pids.Workers.Count} worker(s)");
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    static async Task KillAsync(int? pid, string marker)
    {
        if (!LocalStack.IsAlive(pid, marker)) return;
        LocalStack.Kill(pid!.Value, force: true);
        for (int i = 0; i < 100 && LocalStack.IsAlive(pid, marker); i++) await Task.Delay(100);
    }

    /// <summary>The sha256 of every file of every job result and phase artifact of a lap, keyed without the lap's id.</summary>
    async Task<Dictionary<string, string>> FingerprintAsync(LapView view, CancellationToken ct)
    {
        var store = new ArtifactStore(Storage);
        var files = new Dictionary<string, string>();
        async Task AddAsync(string key, string? artifactId)
        {
            if (artifactId == null) return;
            var m = await store.GetAsync(artifactId, ct);
            if (m == null) { files[$"{key} (missing artifact {artifactId})"] = ""; return; }
            foreach (var f in m.Files.Where(f => !IsTimed(f.Path))) files[$"{key} {f.Path}"] = f.Sha256;
        }
        var result = view.Output ?? throw new CliException($"lap {view.Id} has no output");
        foreach (var phase in result.Phases)
        {
            foreach (var job in phase.Jobs) await AddAsync($"job {job.JobId[view.Id.Length..]}", job.ResultArtifactId);
            foreach (var (name, id) in phase.Artifacts.Named().Where(a => a.Name != "report" && !a.Name.StartsWith("batch", StringComparison.Ordinal))) await AddAsync($"phase {phase.Phase} {name}", id);
        }
        return files;
    }

    /// <summary>
    /// The most history rows one instance of a lap may have: faults add polls (backing off while a job waits for a
    /// claim), activity retries, and each rewind runs a wait again. Beyond this is a leak (polling every second
    /// through a 40 s wait for workers gave over 2,000 rows).
    /// </summary>
    public static int HistoryBound(int undisturbed, int rewinds) => 3 * undisturbed + 200 * (1 + rewinds);

    async Task<ChaosLapResult> CheckLapAsync(LapRun run, Dictionary<string, string> reference, int refHistory, CancellationToken ct)
    {
        var view = run.Final!;
        var problems = new List<string>();
        int jobs = 0, retried = 0, compared = 0;
        if (view.RuntimeStatus != RuntimeStates.Completed)
            problems.Add($"{view.RuntimeStatus.ToLowerInvariant()} after {run.Rewinds} rewind(s): {view.Failure}");
        else
        {
            var client = new GpuJobClient(Storage);
            var ids = view.Output!.Phases.SelectMany(p => p.Jobs).Select(j => j.JobId).ToList();
            if (ids.Distinct().Count() != ids.Count) problems.Add("a job is listed twice in the lap's output");
            foreach (string jobId in ids.Distinct())
            {
                jobs++;
                var r = await client.GetAsync(jobId, ct);
                problems.AddRange(JobProblems(jobId, r));
                if (r?.Attempts.Count > 1) retried++;
            }
            var files = await FingerprintAsync(view, ct);
            problems.AddRange(FileProblems(reference, files));
            compared = reference.Count(f => files.TryGetValue(f.Key, out string? sha) && sha == f.Value);
        }
        int history = await MaxHistoryRowsAsync(view.Id, ct);
        int bound = HistoryBound(refHistory, run.Rewinds);
        if (history > bound) problems.Add($"history of {history} rows, over the bound of {bound}");
        return new ChaosLapResult
        {
            Number = run.Number, LapId = run.Id, Status = view.RuntimeStatus, Minutes = run.Minutes, Faults = run.Faults, Rewinds = run.Rewinds,
            Jobs = jobs, Retried = retried, FilesCompared = compared, MaxHistoryRows = history, HistoryBound = bound, Problems = problems,
        };
    }

    /// <summary>What is wrong with a job of a completed lap: it must have succeeded exactly once, in its last recorded attempt, with that attempt's result.</summary>
    public static IEnumerable<string> JobProblems(string jobId, GpuJobRecord? r)
    {
        if (r == null) { yield return $"job {jobId}: no record"; yield break; }
        if (r.Status != GpuJobStatus.Succeeded) yield return $"job {jobId}: {r.Status.ToString().ToLowerInvariant()}";
        int succeeded = r.Attempts.Count(a => a.State == "succeeded");
        if (succeeded != 1) yield return $"job {jobId}: {succeeded} succeeded attempts";
        if (r.Attempts.Any(a => a.State == "running")) yield return $"job {jobId}: an attempt is still recorded running";
        if (r.Attempts.Count == 0 || r.Attempts[^1].Number != r.Attempt || r.Attempts[^1].State != "succeeded")
            yield return $"job {jobId}: its last recorded attempt is not attempt {r.Attempt} succeeding";
        if (r.ResultArtifactId != $"{jobId}.attempt-{r.Attempt}") yield return $"job {jobId}: result {r.ResultArtifactId} is not attempt {r.Attempt}'s";
    }

    /// <summary>Files missing, changed (sha256) or extra against the undisturbed lap's.</summary>
    public static IEnumerable<string> FileProblems(IReadOnlyDictionary<string, string> reference, IReadOnlyDictionary<string, string> files)
    {
        foreach (var (key, sha) in reference.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            if (!files.TryGetValue(key, out string? got)) yield return $"{key}: missing";
            else if (got != sha) yield return $"{key}: sha256 differs from the undisturbed lap's";
        }
        foreach (string key in files.Keys.Where(k => !reference.ContainsKey(k)).Order(StringComparer.Ordinal)) yield return $"{key}: not in the undisturbed lap";
    }

    string TaskHub => stack.Layout.Environment.TryGetValue("MATHV2_TASKHUB", out var hub) ? hub : "mathv2";

    /// <summary>The largest history (rows of the task hub's History table) among the instances whose id starts with the lap's.</summary>
    async Task<int> MaxHistoryRowsAsync(string lapId, CancellationToken ct)
    {
        var storage = Storage;
        var instances = storage.Table($"{TaskHub}Instances");
        var history = storage.Table($"{TaskHub}History");
        int max = 0;
        string hi = lapId + "."; // ids of the lap's instances are the lap id or start with "{lapId}-"
        await foreach (var i in instances.QueryAsync<TableEntity>(e => e.PartitionKey.CompareTo(lapId) >= 0 && e.PartitionKey.CompareTo(hi) < 0, select: ["PartitionKey"], cancellationToken: ct))
        {
            int rows = 0;
            await foreach (var _ in history.QueryAsync<TableEntity>(e => e.PartitionKey == i.PartitionKey, select: ["RowKey"], cancellationToken: ct)) rows++;
            max = Math.Max(max, rows);
        }
        return max;
    }

    /// <summary>At the end: no job of these laps queued or running, and gpu-jobs drained (within a minute).</summary>
    async Task<List<string>> CheckStackAsync(HashSet<string> laps, CancellationToken ct)
    {
        var storage = Storage;
        var problems = new List<string>();
        await foreach (var e in storage.Table(StorageNames.JobsTable).QueryAsync<TableEntity>(select: ["PartitionKey", "Status", "Lap"], cancellationToken: ct))
            if (e.GetString("Lap") is { } lap && laps.Contains(lap) && e.GetString("Status") is nameof(GpuJobStatus.Queued) or nameof(GpuJobStatus.Running))
                problems.Add($"job {e.PartitionKey} left {e.GetString("Status")!.ToLowerInvariant()}");
        var queue = storage.Queue(StorageNames.GpuJobsQueue);
        int left = 0;
        for (int i = 0; i < 60; i++)
        {
            left = (await queue.GetPropertiesAsync(ct)).Value.ApproximateMessagesCount;
            if (left == 0) break;
            await Task.Delay(1000, ct);
        }
        if (left > 0) problems.Add($"{left} message(s) left on {StorageNames.GpuJobsQueue}");
        return problems;
    }

    /// <summary>The table and the totals, for people.</summary>
    public static void Print(ChaosReport r, TextWriter o)
    {
        o.WriteLine($"chaos (seed {r.Seed}): {r.Laps.Count} lap(s) in {r.Minutes:F1} min; reference {r.ReferenceLap}: {r.ReferenceMinutes:F1} min, {r.ReferenceJobs} jobs, {r.ReferenceFiles} files");
        o.WriteLine($"  {"lap",3} {"id",-17} {"status",-10} {"min",5} {"faults",6} {"rewinds",7} {"jobs",4} {"retried",7} {"files same",10} {"history",7}  verdict");
        foreach (var l in r.Laps)
            o.WriteLine($"  {l.Number,3} {l.LapId,-17} {l.Status,-10} {l.Minutes,5:F1} {l.Faults,6} {l.Rewinds,7} {l.Jobs,4} {l.Retried,7} {l.FilesCompared,10} {l.MaxHistoryRows,7}  {(l.Recovered ? "recovered" : "LOST: " + string.Join("; ", l.Problems.Take(5)))}");
        o.WriteLine("  faults injected: " + string.Join(", ", r.Faults.GroupBy(f => f.Kind).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}")) + $" ({r.Faults.Count} in all)");
        if (r.UnplannedRestarts.Count > 0) o.WriteLine($"  restarted after dying on their own: {string.Join("; ", r.UnplannedRestarts)}");
        foreach (string p in r.Problems) o.WriteLine($"  problem: {p}");
        o.WriteLine($"  laps {r.Laps.Count}, faults {r.Faults.Count}, rewinds {r.Laps.Sum(l => l.Rewinds)}, recovered {r.Recovered}, lost {r.Lost}; " +
            $"largest history {r.Laps.Select(l => l.MaxHistoryRows).DefaultIfEmpty().Max()} rows (undisturbed {r.ReferenceMaxHistoryRows}; bound 3 × that + 200 per rewind and 200 more)");
    }
}
