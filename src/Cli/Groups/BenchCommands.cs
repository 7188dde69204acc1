using System.CommandLine;
using System.Diagnostics;
using MathV2.Core;
using MathV2.Core.Bench;
using MathV2.Core.Http;
using MathV2.Core.Jobs;
using MathV2.Core.Method;
using MathV2.Core.Probes;
using static MathV2.Cli.Groups.CliOptions;

namespace MathV2.Cli.Groups;

/// <summary>bench: numbers with their baseline measured in the same run (protocol, consensus, worker, bootstrap, api).</summary>
public static class BenchCommands
{
    public static IEnumerable<Command> Build(CliContext c)
    {
        yield return Group("bench", "Benchmarks that print numbers, each with its target",
            Protocol(c), Consensus(c), Worker(c), Memory(c), Bootstrap(c), Api(c), Scale(c));
    }

    public sealed record BenchRow(string JobId, double SubmitToClaimMs, double FinishToResumedMs, double RunMs);

    public sealed record Summary(double P50, double P95, double Mean, double Max);

    static Command Protocol(CliContext c)
    {
        var jobs = Int("--jobs", "Sequential probe jobs to time", 30, 1, 1000);
        return Command("protocol", "Dispatch overhead per GPU job: submit → claim and finish → orchestration resumed (p50/p95)", async (pr, ct) =>
        {
            int n = pr.GetValue(jobs);
            using var api = c.Api();
            var progress = c.Progress(pr);
            var rows = new List<BenchRow>();
            for (int i = 0; i < n; i++)
            {
                var started = await api.PostAsync<CheckStatusPayload>("/api/probes", new ProbeRequest { Size = 64, Repeats = 1, Jobs = 1 }, ct);
                InstanceView st;
                while (!(st = await api.GetAsync<InstanceView>($"/api/instances/{started.Id}?showInput=false", ct)).IsFinished) await Task.Delay(50, ct);
                if (st.RuntimeStatus != RuntimeStates.Completed) throw new CliException($"bench probe {started.Id} did not complete");
                string jobId = $"{started.Id}-probe-0";
                var job = await api.GetAsync<GpuJobRecord>($"/api/jobs/{jobId}", ct);
                var sub = await api.GetAsync<InstanceView>($"/api/instances/{jobId}?showInput=false", ct);
                var claimed = job.Attempts[0].StartedAt;
                var finished = job.FinishedAt ?? throw new CliException($"job {jobId} has no finish time");
                var row = new BenchRow(jobId, (claimed - job.CreatedAt).TotalMilliseconds, (sub.LastUpdatedTime - finished).TotalMilliseconds, (finished - claimed).TotalMilliseconds);
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
            if (c.IsJson(pr)) c.WriteJson(report);
            else c.Out.WriteLine($"protocol overhead over {n} sequential jobs (ms): p50 {report.overheadMs.P50:F0}, p95 {report.overheadMs.P95:F0} " +
                $"(submit→claim p50 {report.submitToClaimMs.P50:F0}, finish→resumed p50 {report.finishToResumedMs.P50:F0}); " +
                $"job run time p50 {report.jobRunMs.P50:F0}. Target p50 < 1000: {(report.meetsTarget ? "met" : "NOT met")}");
            return 0;
        }, jobs);
    }

    static Command Consensus(CliContext c)
    {
        var proofs = Int("--proofs", "Simulated proofs", 2000, 1, 1_000_000);
        var verifierAccuracy = Double("--verifier-accuracy", "How often one verification is right", 0.8, 0, 1);
        var metaAccuracy = Double("--meta-accuracy", "How often one meta-verification is right", 0.85, 0, 1);
        var n = Int("--n", "Verifications per proof (fixed budget)", 8, 1, 64);
        var m = Int("--m", "Meta-verifications per issue", 4, 1, 64);
        var k = Int("--k", "Issues that must agree", 2, 1, 64);
        var seed = Int("--seed", "Simulation seed", 7, int.MinValue, int.MaxValue);
        var waves = Int("--waves", "Waves of verification jobs at most for the adaptive rule drawn as phase 4 draws it", 6, 2, 32);
        ConsensusOptions Options(Func<Option<int>, int> get) => new() { N = get(n), M = get(m), K = get(k) };
        var command = Command("consensus", "Scaled-verification labeling, fixed vs. adaptive sampling, on simulated verifiers", (pr, ct) =>
        {
            var sim = new ConsensusSimulationOptions
            {
                Proofs = pr.GetValue(proofs), VerifierAccuracy = pr.GetValue(verifierAccuracy), MetaAccuracy = pr.GetValue(metaAccuracy), Seed = pr.GetValue(seed),
            };
            var o = Options(pr.GetValue);
            // The cross-field rules (k <= n, ...) are the consensus options' own.
            var invalid = o.Validate().ToList();
            foreach (var (field, message) in invalid) c.Err.WriteLine($"mathv2: --{field.ToLowerInvariant()} {message}");
            if (invalid.Count > 0) return Task.FromResult(Commands.UsageError);
            var sw = Stopwatch.StartNew();
            var (f, ad) = ConsensusSimulation.Run(sim, o);
            var (wv, meanWaves, maxWaves) = ConsensusSimulation.RunInWaves(sim, o, pr.GetValue(waves));
            double saved = f.Samples == 0 ? 0 : 1 - (double)ad.Samples / f.Samples;
            double savedInWaves = f.Samples == 0 ? 0 : 1 - (double)wv.Samples / f.Samples;
            var report = new
            {
                benchmark = "consensus",
                simulation = sim,
                options = o,
                @fixed = new { f.Samples, f.SamplesPerProof, f.Agreement, f.DiscardRate },
                adaptive = new { ad.Samples, ad.SamplesPerProof, ad.Agreement, ad.DiscardRate },
                inWaves = new { waves = pr.GetValue(waves), wv.Samples, wv.SamplesPerProof, wv.Agreement, wv.DiscardRate, meanWaves, maxWaves, samplesSaved = savedInWaves },
                samplesSaved = saved,
                agreementDifferencePoints = (ad.Agreement - f.Agreement) * 100,
                target = "adaptive uses at least 30% fewer samples with agreement within 1 point of fixed",
                meetsTarget = saved >= 0.30 && Math.Abs(ad.Agreement - f.Agreement) * 100 <= 1,
                seconds = sw.Elapsed.TotalSeconds,
            };
            if (c.IsJson(pr)) c.WriteJson(report);
            else c.Out.WriteLine($"consensus over {sim.Proofs} simulated proofs (verifier acc {sim.VerifierAccuracy}, meta acc {sim.MetaAccuracy}, n={o.N} m={o.M} k={o.K}):\n" +
                $"  fixed:    {f.SamplesPerProof,6:F2} samples/proof, agreement {f.Agreement:P2}, discarded {f.DiscardRate:P1}\n" +
                $"  adaptive: {ad.SamplesPerProof,6:F2} samples/proof, agreement {ad.Agreement:P2}, discarded {ad.DiscardRate:P1}\n" +
                $"  in waves: {wv.SamplesPerProof,6:F2} samples/proof drawn ({savedInWaves:P1} fewer than fixed) in {meanWaves:F2} waves on average, {maxWaves} at most (of {pr.GetValue(waves)})\n" +
                $"  samples saved {saved:P1}; target (>= 30% saved, agreement within 1 point): {(report.meetsTarget ? "met" : "NOT met")}");
            return Task.FromResult(0);
        }, proofs, verifierAccuracy, metaAccuracy, n, m, k, seed, waves);
        return command;
    }

    static Command Worker(CliContext c)
    {
        var quick = Flag("--quick", "Tiny models and few steps: checks that it runs, measures nothing");
        var steps = OptionalInt("--steps", "Training steps per configuration", 1, 100_000);
        var newTokens = OptionalInt("--new-tokens", "Tokens to sample", 1, 100_000);
        return Command("worker", "Training MFU against the matmul baseline, KV cache and batching ratios (in a worker process)", async (pr, ct) =>
        {
            var args = new List<string> { "bench" };
            if (pr.GetValue(quick)) args.Add("--quick");
            if (pr.GetValue(steps) is { } s) args.AddRange(["--steps", s.ToString()]);
            if (pr.GetValue(newTokens) is { } t) args.AddRange(["--new-tokens", t.ToString()]);
            string json = await RunWorkerBenchAsync(c, pr, args, ct);
            if (c.IsJson(pr)) { c.Out.WriteLine(json.Trim()); return 0; }
            var r = Read<WorkerBenchResult>(json);
            c.Out.WriteLine($"worker benchmark on {r.Device} ({r.Threads} threads), matmul {r.MatmulGflops:F1} GFLOP/s");
            foreach (var x in r.Training)
                c.Out.WriteLine($"  training {x.Config,-6} {x.Parameters,10:N0} params: {x.TokensPerSecond,9:F0} tokens/s, {x.ModelGflops:F1} GFLOP/s = {x.Mfu:P0} of matmul ({x.MatmulGflops:F0} around it)");
            var sm = r.Sampling;
            c.Out.WriteLine($"  sampling {sm.NewTokens} new tokens after a {sm.PromptTokens}-token prompt: KV cache {sm.CachedTokensPerSecond:F0} vs. " +
                $"{sm.UncachedTokensPerSecond:F0} tokens/s without ({sm.CacheSpeedup:F1}x; {sm.ShortPromptCacheSpeedup:F1}x after a {sm.ShortPromptTokens}-token prompt)");
            c.Out.WriteLine($"  batched ({sm.Batch}) {sm.BatchedTokensPerSecond:F0} vs. one by one {sm.OneByOneTokensPerSecond:F0} tokens/s ({sm.BatchSpeedup:F1}x)");
            if (r.GroupSampling is { } g)
                c.Out.WriteLine($"  GRPO group of {g.Group}, {g.PromptTokens}-token prompt, {g.NewTokens} new tokens each: prefill shared {g.SharedSeconds:F2} s vs. " +
                    $"each row prefilling {g.SeparateSeconds:F2} s ({g.Speedup:F2}x; the prefill and first token alone {g.FirstTokenSpeedup:F1}x)");
            if (r.ContinuousBatching is { } cb)
                c.Out.WriteLine($"  {cb.Prompts} demo completions ({cb.MeanNewTokens} tokens on average, up to {cb.MaxNewTokens}), {cb.BatchSize} rows at once: continuous batching " +
                    $"{cb.ContinuousTokensPerSecond:F0} vs. static batches {cb.StaticTokensPerSecond:F0} tokens/s ({cb.Speedup:F2}x)");
            if (r.SftPacking is { } sp)
                c.Out.WriteLine($"  sft on the demo demonstrations, batch {sp.BatchSize}, {sp.Steps} steps: packed {sp.PackedTokensPerSecond:F0} vs. padded {sp.PaddedTokensPerSecond:F0} useful tokens/s " +
                    $"({sp.Speedup:F2}x; padding was {sp.PaddedShare:P0} of the padded rows: removing it alone gives at most {1 / (1 - sp.PaddedShare):F2}x)");
            c.Out.WriteLine($"  targets: training >= 35% of matmul (larger): {(r.Targets.TrainingMfuLargerMet ? "met" : "NOT met")}; " +
                $"training >= 55% of matmul (demo): {(r.Targets.TrainingMfuDemoMet ? "met" : "NOT met")}; KV cache >= 5x: {(r.Targets.CacheSpeedupMet ? "met" : "NOT met")}; " +
                $"shared prefill >= 2x: {(r.Targets.SharedPrefillSpeedupMet ? "met" : "NOT met")}; continuous batching >= 1.5x: {(r.Targets.ContinuousBatchingSpeedupMet ? "met" : "NOT met")}; " +
                $"sft packing >= 1.5x: {(r.Targets.SftPackingSpeedupMet ? "met" : "NOT met")}");
            return 0;
        }, quick, steps, newTokens);
    }

    static Command Memory(CliContext c)
    {
        var quick = Flag("--quick", "Two model shapes instead of four");
        return Command("memory", "A training step's memory plan (what the worker refuses jobs by) against the peak it reaches on CPU", async (pr, ct) =>
        {
            var args = new List<string> { "bench", "memory" };
            if (pr.GetValue(quick)) args.Add("--quick");
            // Freed tensors go back to the system at once, so the peak resident memory is the peak of live tensors.
            string json = await RunWorkerBenchAsync(c, pr, args, ct, new Dictionary<string, string> { ["MALLOC_MMAP_THRESHOLD_"] = "65536" });
            if (c.IsJson(pr)) { c.Out.WriteLine(json.Trim()); return 0; }
            var r = Read<MemoryBenchResult>(json);
            c.Out.WriteLine($"memory benchmark on {r.Device}: an sft step (model, AdamW, two steps) planned vs. its measured peak");
            foreach (var x in r.Rows)
                c.Out.WriteLine($"  {x.Config,-24} {x.Parameters,12:N0} params, batch {x.BatchSize} × {x.SeqLen}: planned {x.PredictedBytes / 1e6,8:F0} MB, measured {x.MeasuredBytes / 1e6,8:F0} MB ({x.Ratio:F2})");
            c.Out.WriteLine($"  target (within {r.Tolerance:P0}): {(r.Met ? "met" : "NOT met")}");
            return 0;
        }, quick);
    }

    static Command Bootstrap(CliContext c)
    {
        var quick = Flag("--quick", "Tiny sizes: checks that it runs, measures nothing");
        var steps = OptionalInt("--steps", "Bootstrap training steps (the lap's otherwise)", 1, 100_000);
        var heldOut = OptionalInt("--heldout", "Held-out problems per difficulty", 1, 100_000);
        var seed = OptionalInt("--seed", "Training seed", 0, int.MaxValue);
        var tokenizers = new Option<string[]>("--tokenizers") { Description = "Tokenizers to compare, comma-separated (char, words)", HelpName = "LIST", CustomParser = r => r.Tokens.SelectMany(t => t.Value.Split(',')).ToArray() };
        tokenizers.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string[]>() is { } names && names.FirstOrDefault(t => t is not ("char" or "words")) is { } bad)
                r.AddError($"--tokenizers: '{bad}' is not one of char, words");
        });
        return Command("bootstrap", "The demo lap's bootstrap before RL, per tokenizer: held-out verification accuracy by defect, oracle pass rate by difficulty", async (pr, ct) =>
        {
            var args = new List<string> { "bench", "bootstrap" };
            if (pr.GetValue(quick)) args.Add("--quick");
            if (pr.GetValue(seed) is { } sd) args.AddRange(["--seed", sd.ToString()]);
            if (pr.GetValue(steps) is { } s) args.AddRange(["--steps", s.ToString()]);
            if (pr.GetValue(heldOut) is { } h) args.AddRange(["--heldout", h.ToString()]);
            if (pr.GetValue(tokenizers) is { Length: > 0 } t) args.AddRange(["--tokenizers", string.Join(",", t)]);
            string json = await RunWorkerBenchAsync(c, pr, args, ct);
            if (c.IsJson(pr)) { c.Out.WriteLine(json.Trim()); return 0; }
            var r = Read<BootstrapBenchResult>(json);
            c.Out.WriteLine($"bootstrap benchmark on {r.Device} ({r.Threads} threads): {r.HeldOutProblems} held-out problems, {r.HeldOutProofs} held-out graded proofs");
            foreach (var x in r.Results)
                c.Out.WriteLine($"  {x.Tokenizer,-6} vocab {x.Vocab,5}, {x.TrainTokens,8:N0} training tokens, {x.Steps} steps in {x.TrainSeconds:F0} s: verifier accuracy {x.VerifierAccuracy:F2}, " +
                    $"oracle pass rate {x.Generation.GetValueOrDefault("greedy")?.OraclePassRate:F2} greedy / {x.Generation.GetValueOrDefault("sampled")?.OraclePassRate:F2} sampled");
            return 0;
        }, quick, steps, heldOut, seed, tokenizers);
    }

    static Command Scale(CliContext c)
    {
        var jobs = Int("--jobs", "Probe jobs submitted together", 8, 2, 256);
        var size = Int("--size", "Matmul size of each job", 512, 16, 8192);
        var repeats = Int("--repeats", "Matmuls per job", 60, 1, 100_000);
        return Command("scale", "Scale-out on the local stack: one sharded probe with 1 worker, then with 2; wall times and the speed-up", async (pr, ct) =>
        {
            var probe = new ProbeRequest { Jobs = pr.GetValue(jobs), Size = pr.GetValue(size), Repeats = pr.GetValue(repeats) };
            using var api = c.Api();
            c.Progress(pr).WriteLine($"bench scale: {probe.Jobs} jobs of {probe.Repeats} {probe.Size}×{probe.Size} matmuls, on 1 worker then 2...");
            var r = await ScaleBench.RunAsync(new LocalStack(c.Layout, TextWriter.Null), api, probe, c.Progress(pr), ct);
            if (c.IsJson(pr)) c.WriteJson(new { benchmark = "scale", result = r });
            else
            {
                foreach (var run in new[] { r.One, r.Two })
                    c.Out.WriteLine($"{run.Workers} worker(s): {run.Jobs} jobs in {run.Seconds:F1} s, {run.MeanJobSeconds:F2} s per job; jobs per worker: " +
                        string.Join(", ", run.JobsPerWorker.Select(w => $"{w.Key} × {w.Value}")));
                c.Out.WriteLine($"speed-up with 2 workers: {r.SpeedUp:F2}× on {r.Cores} cores");
            }
            return 0;
        }, jobs, size, repeats);
    }

    static Command Api(CliContext c)
    {
        var clients = Int("--clients", "Concurrent clients", 16, 1, 512);
        var seconds = Int("--seconds", "How long to run", 30, 1, 3600);
        var requests = Int("--requests", "Stop after this many requests in all (0: run for --seconds)", 0, 0, 10_000_000);
        var rate = Int("--rate", "Requests per second in all, paced (0: as fast as the clients go)", 0, 0, 100_000);
        var startEvery = Int("--start-every", "Every Nth request starts a one-job probe (0: no starts)", 0, 0, 10_000_000);
        return Command("api", "HTTP load (GETs, bad inputs, starts): requests/s, p50/p95/p99 latency and status codes per route; exit 1 on any 5xx", async (pr, ct) =>
        {
            var o = new ApiLoadOptions { Clients = pr.GetValue(clients), Seconds = pr.GetValue(seconds), Requests = pr.GetValue(requests), Rate = pr.GetValue(rate), StartEvery = pr.GetValue(startEvery) };
            using var api = c.Api();
            string paced = o.Rate > 0 ? $" at {o.Rate} requests/s" : "";
            c.Progress(pr).WriteLine(o.Requests > 0 ? $"bench api: {o.Clients} clients, {o.Requests} requests{paced} against {api.BaseUrl}..."
                : $"bench api: {o.Clients} clients for {o.Seconds} s{paced} against {api.BaseUrl}...");
            var r = await ApiLoadBench.RunAsync(api.BaseUrl, api.Key, o, ct);
            if (c.IsJson(pr)) c.WriteJson(new { benchmark = "api", result = r, target = "no 5xx", meetsTarget = r.ServerErrors == 0 });
            else
            {
                c.Out.WriteLine($"api load: {r.Requests} requests from {r.Clients} clients in {r.Seconds:F1} s = {r.RequestsPerSecond:F0} requests/s{(r.TargetRate > 0 ? $" (paced at {r.TargetRate:F0})" : "")}; " +
                    $"latency ms p50 {r.P50Ms:F1}, p95 {r.P95Ms:F1}, p99 {r.P99Ms:F1}, max {r.MaxMs:F0}");
                c.Out.WriteLine("  status codes: " + string.Join(", ", r.StatusCodes.Select(x => $"{x.Key} × {x.Value}")));
                foreach (var route in r.Routes)
                    c.Out.WriteLine($"  {route.Route,-40} {route.Requests,7} requests  p50 {route.P50Ms,6:F1} ms  p99 {route.P99Ms,6:F1} ms  " +
                        string.Join(", ", route.StatusCodes.Select(x => $"{x.Key} × {x.Value}")));
                c.Out.WriteLine($"  target (no 5xx): {(r.ServerErrors == 0 ? "met" : $"NOT met ({r.ServerErrors} server errors)")}");
            }
            return r.ServerErrors == 0 ? 0 : 1;
        }, clients, seconds, requests, rate, startEvery);
    }

    static T Read<T>(string json)
    {
        try { return Json.Deserialize<T>(json); }
        catch (System.Text.Json.JsonException e) { throw new CliException($"the worker's benchmark answered unreadable JSON: {e.Message}"); }
    }

    /// <summary>Runs `dotnet Gpu.Worker.dll bench …` (TorchSharp lives there, not in the CLI), relaying its progress (stderr); returns its JSON (stdout).</summary>
    static async Task<string> RunWorkerBenchAsync(CliContext c, ParseResult pr, IEnumerable<string> args, CancellationToken ct, IReadOnlyDictionary<string, string>? env = null)
    {
        if (!File.Exists(c.Layout.WorkerDll)) throw new CliException($"worker not built: {c.Layout.WorkerDll} is missing (run ./mathv2 once to build)");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        psi.ArgumentList.Add(c.Layout.WorkerDll);
        foreach (string x in args) psi.ArgumentList.Add(x);
        using var p = Process.Start(psi)!;
        var progress = c.Progress(pr);
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
}
