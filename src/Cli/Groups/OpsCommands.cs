using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Http;
using MathV2.Core.Jobs;
using MathV2.Core.Probes;
using static MathV2.Cli.Groups.CliOptions;

namespace MathV2.Cli.Groups;

/// <summary>probe, instances, jobs, artifacts: what operators look at and act on.</summary>
public static class OpsCommands
{
    public static IEnumerable<Command> Build(CliContext c)
    {
        yield return Probe(c);
        yield return Instances(c);
        yield return Jobs(c);
        yield return Artifacts(c);
        yield return Chaos(c);
    }

    static Command Chaos(CliContext c)
    {
        var laps = Int("--laps", "Laps to run under faults", 3, 1, 1000);
        var spec = ExistingFile("--spec", "A lap spec (JSON) instead of the reduced default lap");
        var seed = Int("--seed", "Seeds the faults' kinds, moments and durations", 1, 0, int.MaxValue);
        var concurrent = Int("--concurrent", "Laps running at once", 2, 1, 16);
        var workers = Int("--workers", "Workers of the chaos stack", 2, 1, 16);
        var minGap = Double("--min-gap", "Fewest seconds between two faults", 8, 1, 3600);
        var maxGap = Double("--max-gap", "Most seconds between two faults", 30, 1, 3600);
        var maxOutage = Double("--max-outage", "Longest Azurite outage (pause or stop), seconds", 60, 5, 600);
        var kinds = Text("--faults", $"Comma-separated kinds of fault to draw from (default all: {string.Join(", ", ChaosFaults.All)})", "KIND,...");
        var keep = Flag("--keep", "Keep the chaos stack's state (logs, Azurite data) after a run that passed");
        return Command("chaos", "Laps on a stack of their own while hosts, workers and Azurite are killed and stopped at seeded moments; " +
            "checks every lap against the same lap run undisturbed (exit 1 if anything was lost)", async (pr, ct) =>
        {
            if (pr.GetValue(minGap) > pr.GetValue(maxGap)) throw new CliException("--min-gap must not be greater than --max-gap");
            var faultKinds = (pr.GetValue(kinds) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
            if (faultKinds.FirstOrDefault(k => !ChaosFaults.All.Contains(k)) is { } unknown)
                throw new CliException($"--faults: no fault '{unknown}'; the faults are {string.Join(", ", ChaosFaults.All)}");
            JsonObject? lapSpec = null;
            if (pr.GetValue(spec) is { } file)
            {
                try { lapSpec = JsonNode.Parse(File.ReadAllText(file)) as JsonObject ?? throw new CliException($"{file}: a lap spec is a JSON object"); }
                catch (JsonException e) { throw new CliException($"{file}: not JSON: {e.Message}"); }
            }
            int basePort = LoopbackPorts.FreeRange(5);
            var layout = c.Layout with
            {
                StateDir = Path.Combine(c.Layout.StateDir, "chaos"),
                AzuritePort = basePort, ApiPort = basePort + 3, GrpcPort = basePort + 4, Workers = pr.GetValue(workers),
                // Short leases and heartbeats: a killed worker's job is noticed in seconds.
                Environment = new Dictionary<string, string>(c.Layout.Environment)
                {
                    ["MATHV2_WORKER_LEASE_S"] = "6", ["MATHV2_WORKER_HEARTBEAT_S"] = "1", ["MATHV2_WORKER_MAX_POLL_S"] = "0.5",
                },
            };
            var progress = c.Progress(pr);
            var stack = new LocalStack(layout, TextWriter.Null);
            await stack.DownAsync();   // a chaos stack left by an interrupted run
            if (Directory.Exists(layout.StateDir)) Directory.Delete(layout.StateDir, recursive: true);
            ChaosReport report;
            try
            {
                report = await new ChaosRun(stack, progress).RunAsync(new ChaosOptions
                {
                    Laps = pr.GetValue(laps), Seed = pr.GetValue(seed), Concurrent = pr.GetValue(concurrent), Spec = lapSpec, Kinds = faultKinds,
                    MinGapSeconds = pr.GetValue(minGap), MaxGapSeconds = pr.GetValue(maxGap), MaxOutageSeconds = pr.GetValue(maxOutage),
                }, ct);
            }
            finally { await stack.DownAsync(); }
            if (c.IsJson(pr)) c.WriteJson(report);
            else ChaosRun.Print(report, c.Out);
            // Kept for a look when anything was lost or a process died on its own.
            if (report.Passed && report.UnplannedRestarts.Count == 0 && !pr.GetValue(keep)) Directory.Delete(layout.StateDir, recursive: true);
            else progress.WriteLine($"chaos: the stack's logs and data are in {layout.StateDir}");
            return report.Passed ? 0 : 1;
        }, laps, spec, seed, concurrent, workers, minGap, maxGap, maxOutage, kinds, keep);
    }

    static Command Probe(CliContext c)
    {
        var size = Int("--size", "Matrix size of the matmul", 1024, 1, 16384);
        var jobs = Int("--jobs", "Probe jobs (one per worker that claims one)", 1, 1, 256);
        var repeats = Int("--repeats", "Matmul repeats per job", 10, 1, 10000);
        var minSeconds = Double("--min-seconds", "Keep each job running at least this long", 0, 0, 3600);
        return Command("probe", "A fleet health check: GPU jobs that time a matmul on the workers", async (pr, ct) =>
        {
            using var api = c.Api();
            var request = new ProbeRequest { Size = pr.GetValue(size), Jobs = pr.GetValue(jobs), Repeats = pr.GetValue(repeats), MinSeconds = pr.GetValue(minSeconds) };
            var started = await api.PostAsync<CheckStatusPayload>("/api/probes", request, ct);
            var status = await new RunFollower(c, api, pr).InstanceAsync(started.Id, ct);
            if (c.IsJson(pr)) c.WriteJson(status);
            else PrintProbe(c.Out, status);
            return status.RuntimeStatus == RuntimeStates.Completed ? 0 : 1;
        }, size, jobs, repeats, minSeconds);
    }

    static void PrintProbe(TextWriter o, InstanceView status)
    {
        o.WriteLine($"probe {status.InstanceId}: {status.RuntimeStatus}");
        if (status.RuntimeStatus != RuntimeStates.Completed || status.OutputAs<ProbeReport>() is not { } report)
        {
            if (status.FailureDetails is { } f) o.WriteLine($"  {f.ErrorMessage}");
            o.WriteLine($"  ops: ./mathv2 instances rewind {status.InstanceId}   (after fixing the cause)");
            return;
        }
        o.WriteLine($"  {"job",-34} {"worker",-16} {"device",-6} {"threads",7} {"GFLOP/s",9} {"attempt",7}  artifact");
        foreach (var j in report.Jobs)
        {
            var r = ProbeReport.ResultOf(j);
            o.WriteLine($"  {j.JobId,-34} {r?.Worker,-16} {r?.Device,-6} {r?.Threads,7} {r?.Gflops,9:F1} {j.Attempt,7}  {j.ResultArtifactId}");
        }
        if (report.Jobs.Count > 0 && ProbeReport.ResultOf(report.Jobs[0]) is { } first)
            o.WriteLine($"  TorchSharp {first.TorchSharpVersion}, libtorch {first.LibTorchVersion}; total {report.TotalGflops:F1} GFLOP/s");
    }

    static Command Instances(CliContext c)
    {
        var id = Id("id", "The instance id (a lap, phase, flywheel, probe or job orchestration)");
        var reason = Text("--reason", "Why (kept in the instance's history)");
        var history = Flag("--history", "Include the instance's history events");
        string Reason(ParseResult pr, string verb) => Uri.EscapeDataString(pr.GetValue(reason) ?? $"{verb} from the mathv2 CLI");

        var show = Command("show", "The instance's status, custom status, output and failure", async (pr, ct) =>
        {
            using var api = c.Api();
            var view = await api.GetAsync<InstanceView>($"/api/instances/{LapCommands.Escape(pr.GetValue(id))}?showHistory={(pr.GetValue(history) ? "true" : "false")}", ct);
            c.WriteJson(view);
            return 0;
        }, id, history);

        Command Action(string verb, string description) => Command(verb, description, async (pr, ct) =>
        {
            string instance = pr.GetValue(id)!;
            using var api = c.Api();
            await api.PostAsync($"/api/instances/{LapCommands.Escape(instance)}/{verb}?reason={Reason(pr, verb)}", ct);
            if (c.IsJson(pr)) c.WriteJson(new InstanceActionAccepted(instance, verb));
            else c.Out.WriteLine($"{verb}: accepted for {instance}");
            return 0;
        }, id, reason);

        var terminate = Command("terminate", "Stop the instance, its sub-orchestrations and their GPU jobs (cancelled on the workers)", async (pr, ct) =>
        {
            using var api = c.Api();
            var t = await api.PostAsync<TerminateResult>($"/api/instances/{LapCommands.Escape(pr.GetValue(id))}/terminate?reason={Reason(pr, "terminate")}", null, ct);
            if (c.IsJson(pr)) c.WriteJson(t);
            else c.Out.WriteLine($"terminate: accepted for {t.InstanceId}" + (t.CancelledJobs.Count > 0 ? $"; cancelled GPU jobs: {string.Join(", ", t.CancelledJobs)}" : ""));
            return 0;
        }, id, reason);

        var restart = Command("restart", "Run a finished instance again from its input, as a new instance", async (pr, ct) =>
        {
            using var api = c.Api();
            var started = await api.PostAsync<CheckStatusPayload>($"/api/instances/{LapCommands.Escape(pr.GetValue(id))}/restart?reason={Reason(pr, "restart")}", null, ct);
            if (c.IsJson(pr)) c.WriteJson(started); else c.Out.WriteLine($"restarted as {started.Id}");
            return 0;
        }, id, reason);

        var purge = Command("purge", "Delete a finished instance's history, with its sub-orchestrations'", async (pr, ct) =>
        {
            using var api = c.Api();
            var p = await api.DeleteAsync<PurgeResult>($"/api/instances/{LapCommands.Escape(pr.GetValue(id))}", ct);
            if (c.IsJson(pr)) c.WriteJson(p); else c.Out.WriteLine($"purge: deleted {p.InstancesDeleted} instance histories");
            return 0;
        }, id);

        return Group("instances", "Orchestration instances: show, and the ops actions of the Durable HTTP API",
            show, Action("rewind", "Run a Failed instance again from its failed step (after fixing the cause)"), terminate,
            Action("suspend", "Pause a running instance"), Action("resume", "Continue a suspended instance"), restart, purge);
    }

    static Command Jobs(CliContext c)
    {
        var id = Id("id", "The GPU job's id");
        var show = Command("show", "The job's record: status, attempts, worker, progress, result artifact", async (pr, ct) =>
        {
            using var api = c.Api();
            c.WriteJson(await api.GetAsync<GpuJobRecord>($"/api/jobs/{LapCommands.Escape(pr.GetValue(id))}", ct));
            return 0;
        }, id);
        return Group("jobs", "GPU jobs", show);
    }

    static Command Artifacts(CliContext c)
    {
        var id = Id("id", "The artifact's id");
        var show = Command("show", "The artifact's manifest: files (sha256, size), producer, parents", async (pr, ct) =>
        {
            using var api = c.Api();
            c.WriteJson(await api.GetAsync<ArtifactManifest>($"/api/artifacts/{LapCommands.Escape(pr.GetValue(id))}", ct));
            return 0;
        }, id);
        var lineage = Command("lineage", "The artifact's ancestors, edges and children", async (pr, ct) =>
        {
            using var api = c.Api();
            c.WriteJson(await api.GetAsync<ArtifactLineage>($"/api/artifacts/{LapCommands.Escape(pr.GetValue(id))}/lineage", ct));
            return 0;
        }, id);
        var path = new Argument<string>("path") { Description = "The file's path inside the artifact" };
        var outFile = Text("--out", "Write the file here (byte for byte, sha256-checked) instead of stdout", "FILE");
        var get = Command("get", "One file of an artifact (samples, reports, datasets); binary files need --out", async (pr, ct) =>
        {
            string artifact = pr.GetValue(id)!, file = pr.GetValue(path)!;
            using var api = c.Api();
            var manifest = await api.GetAsync<ArtifactManifest>($"/api/artifacts/{LapCommands.Escape(artifact)}", ct);
            var entry = manifest.Files.FirstOrDefault(f => f.Path == file)
                ?? throw new CliException($"artifact {artifact} has no file {file}{Core.Names.Hint(file, manifest.Files.Select(f => f.Path).ToList())}");
            if (pr.GetValue(outFile) is { } target)
            {
                await new ArtifactTransfer(api, c.Err).DownloadFileAsync(manifest, entry, Path.GetFullPath(target), ct);
                c.Out.WriteLine($"{file} of {artifact} written to {target} ({entry.Size} bytes, sha256 ok)");
                return 0;
            }
            using var buffer = new MemoryStream();
            await api.DownloadAsync($"/api/artifacts/{LapCommands.Escape(artifact)}/files/{ArtifactTransfer.UrlPath(file)}", buffer, ct);
            try { c.Out.Write(new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer.GetBuffer(), 0, (int)buffer.Length)); }
            catch (System.Text.DecoderFallbackException) { throw new CliException($"{file} is binary: write it to a file with --out FILE"); }
            return 0;
        }, id, path, outFile);

        var paths = new Argument<string[]>("paths") { Description = "Files or folders (a folder's files keep their paths inside it)", Arity = ArgumentArity.OneOrMore };
        var kind = Choice("--kind", "What the files are: a dataset (JSONL of a known schema) or a checkpoint (config, safetensors, tokenizer)", null, UploadValidation.Kinds);
        kind.Required = true;
        var name = Text("--name", "The artifact's id (a generated one otherwise)", "ID");
        var schema = Choice("--schema", "Datasets: the schema of the one file given (it is stored as SCHEMA.jsonl)", null, [.. UploadValidation.DatasetFiles.Keys.Select(k => k[..^".jsonl".Length])]);
        var skip = Flag("--skip-invalid", "Datasets: set bad rows aside (in FILE.rejected beside each file) and upload the rest");
        var resume = Text("--resume", "Continue an interrupted upload (its id was printed when it started)", "UPLOAD");
        var put = Command("put", "Upload files or folders as one immutable artifact, checked before anything is committed", async (pr, ct) =>
        {
            string k = pr.GetValue(kind)!;
            var files = ArtifactTransfer.Collect(pr.GetValue(paths)!);
            if (pr.GetValue(schema) is { } sc)
            {
                if (k != UploadValidation.Dataset || files.Count != 1) throw new CliException("--schema names the schema of one dataset file");
                files = new() { [$"{sc}.jsonl"] = files.Values.Single() };
            }
            string? temp = null;
            try
            {
                if (pr.GetValue(skip))
                {
                    if (k != UploadValidation.Dataset) throw new CliException("--skip-invalid is for datasets");
                    temp = Directory.CreateTempSubdirectory("mathv2-put-").FullName;
                    files = await SetAsideAsync(c, files, temp, ct);
                }
                await ArtifactTransfer.CheckAsync(k, files, ct);
                using var api = c.Api();
                var done = await new ArtifactTransfer(api, c.Err).PutAsync(k, pr.GetValue(name), files, pr.GetValue(resume), ct);
                if (c.IsJson(pr)) c.WriteJson(done);
                else c.Out.WriteLine($"artifact {done.Artifact} ({done.Kind}, {done.Files} file(s), {done.Bytes} bytes) committed");
                return 0;
            }
            finally { if (temp != null) Directory.Delete(temp, true); }
        }, paths, kind, name, schema, skip, resume);

        var dir = Text("--out", "The folder to write the artifact's files to", "DIR", required: true);
        var download = Command("download", "Every file of an artifact into a folder, byte for byte, each sha256-checked", async (pr, ct) =>
        {
            using var api = c.Api();
            var done = await new ArtifactTransfer(api, c.Err).DownloadAsync(pr.GetValue(id)!, pr.GetValue(dir)!, ct);
            if (c.IsJson(pr)) c.WriteJson(done);
            else c.Out.WriteLine($"artifact {done.Artifact}: {done.Files} file(s), {done.Bytes} bytes in {done.Dir}");
            return 0;
        }, id, dir);
        return Group("artifacts", "Artifacts (checkpoints, datasets, samples, reports): upload, download, lineage", show, lineage, get, put, download);
    }

    /// <summary>--skip-invalid: each dataset file's good rows to a temporary copy, its bad lines to FILE.rejected beside it.</summary>
    static async Task<Dictionary<string, string>> SetAsideAsync(CliContext c, Dictionary<string, string> files, string temp, CancellationToken ct)
    {
        var kept = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, local) in files)
        {
            if (!UploadValidation.DatasetFiles.TryGetValue(name, out var schema)) { kept[name] = local; continue; }
            string copy = Path.Combine(temp, name.Replace('/', '_')), aside = copy + ".rejected";
            Core.Datasets.DatasetValidation r;
            await using (var input = File.OpenRead(local))
            await using (var good = File.Create(copy))
            await using (var rejected = File.Create(aside))
                r = await Core.Datasets.Jsonl.FilterAsync(input, name, schema, good, rejected, ct);
            foreach (var e in r.Errors.Take(20)) c.Err.WriteLine($"skipped: {e}");
            if (r.ErrorCount > 0)
            {
                File.Move(aside, local + ".rejected", overwrite: true);
                c.Err.WriteLine($"{name}: {r.Rows} row(s) kept, {r.ErrorCount} set aside in {local}.rejected");
            }
            kept[name] = copy;
        }
        return kept;
    }
}

public sealed record InstanceActionAccepted(string InstanceId, string Action);
