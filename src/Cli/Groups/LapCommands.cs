using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using MathV2.Core.Http;
using MathV2.Core.Laps;
using static MathV2.Cli.Groups.CliOptions;

namespace MathV2.Cli.Groups;

/// <summary>lap, flywheel and annotations: start and follow laps, read their reports, label what they wait for.</summary>
public static class LapCommands
{
    public static IEnumerable<Command> Build(CliContext c)
    {
        yield return Lap(c);
        yield return Flywheel(c);
        yield return Annotations(c);
    }

    static Command Lap(CliContext c)
    {
        var lapId = Id("lap", "The lap's id (lap-…)");
        var wait = Flag("--wait", "Follow the lap to its end and print its report");

        var spec = ExistingFile("--spec", "A LapSpec JSON file (docs/laps.md); the defaults otherwise");
        var annotator = Choice("--annotator", "Who labels the lap's annotation batches (sets annotation.annotator)", null, "oracle", "http");
        var prompts = PromptSetOption("--prompts", "The lap's prompt set (sets prompts): standard, compact, or a file from 'prompts import'");
        var start = Command("start", "Start a lap (202; its id is printed)", async (pr, ct) =>
        {
            var body = ReadSpec(pr.GetValue(spec));
            if (pr.GetValue(annotator) is { } who)
            {
                var ann = body["annotation"] as JsonObject ?? new JsonObject();
                ann["annotator"] = who;
                body["annotation"] = ann;
            }
            if (pr.GetValue(prompts) is { } set) body["prompts"] = JsonSerializer.SerializeToNode(set, Core.Json.Options);
            using var api = c.Api();
            var started = await api.PostAsync<CheckStatusPayload>("/api/laps", body, ct);
            if (pr.GetValue(wait)) return await new RunFollower(c, api, pr).LapAsync(started.Id, ct);
            if (c.IsJson(pr)) c.WriteJson(started); else c.Out.WriteLine($"lap {started.Id} started; ./mathv2 lap show {started.Id}");
            return 0;
        }, spec, annotator, prompts, wait);

        var show = Command("show", "The lap's status, its artifacts so far, and its report once done", async (pr, ct) =>
        {
            using var api = c.Api();
            var lap = await api.GetAsync<LapView>($"/api/laps/{Escape(pr.GetValue(lapId))}", ct);
            if (c.IsJson(pr)) { c.WriteJson(lap); return 0; }
            c.Out.WriteLine(RunFollower.LapLine(lap));
            foreach (var (name, artifact) in lap.Status?.Artifacts.Named() ?? []) c.Out.WriteLine($"  {name,-16} {artifact}");
            if (lap.Failure != null) c.Out.WriteLine($"  failure: {lap.Failure}");
            if (lap.RuntimeStatus == RuntimeStates.Completed) { c.Out.WriteLine(); c.Out.Write(await api.GetTextAsync($"/api/laps/{Escape(lap.Id)}/report", ct)); }
            return 0;
        }, lapId);

        var laps = new Argument<string[]>("laps") { Description = "Lap ids (lap-…); the first is the baseline", Arity = ArgumentArity.OneOrMore };
        var measures = new Option<string[]>("--measures")
        {
            Description = "Only these measures: keys, or prefixes ending in '.' or '*' (verifierV2.accuracy, consensus.*); comma or space separated",
            AllowMultipleArgumentsPerToken = true, HelpName = "KEYS",
        };
        List<string> Keys(ParseResult pr) => (pr.GetValue(measures) ?? []).SelectMany(k => k.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        var csv = Flag("--csv", "Comma-separated values: measure, each lap's value and its difference to the first");
        var list = Command("list", "The laps, newest first (with --measures, those measures of the finished ones)", async (pr, ct) =>
        {
            using var api = c.Api();
            var all = await api.GetAsync<List<RunSummary<LapStatus>>>("/api/laps", ct);
            var keys = Keys(pr);
            var values = new Dictionary<string, Dictionary<string, double?>>();
            if (keys.Count > 0)
                foreach (var l in all.Where(l => l.RuntimeStatus == RuntimeStates.Completed))
                {
                    var one = LapComparison.Of([await api.GetAsync<LapReport>($"/api/laps/{Escape(l.Id)}/report?format=json", ct)], keys);
                    values[l.Id] = one.Measures.ToDictionary(m => m.Key, m => m.Values[0]);
                }
            var columns = values.Values.SelectMany(v => v.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
            if (c.IsJson(pr))
            {
                if (keys.Count == 0) c.WriteJson(all);
                else c.WriteJson(all.Select(l => new { lap = l, measures = values.GetValueOrDefault(l.Id) }).ToList());
                return 0;
            }
            if (columns.Count > 0) c.Out.WriteLine($"{"lap",-18} {"status",-10} {"created",-20} {string.Join(" ", columns.Select(k => k.PadLeft(Math.Max(k.Length, 8))))}");
            foreach (var l in all)
                c.Out.WriteLine($"{l.Id,-18} {l.RuntimeStatus,-10} {l.CreatedAt:u} " + (columns.Count > 0
                    ? string.Join(" ", columns.Select(k => (values.GetValueOrDefault(l.Id)?.GetValueOrDefault(k) is { } v ? v.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture) : "–").PadLeft(Math.Max(k.Length, 8))))
                    : l.Status is { } s ? $"phase {s.Phase}" : ""));
            return 0;
        }, measures);

        var compare = Command("compare", "Finished laps' measures side by side, with differences to the first lap", async (pr, ct) =>
        {
            using var api = c.Api();
            var reports = new List<LapReport>();
            foreach (string id in pr.GetValue(laps)!)
                reports.Add(await api.GetAsync<LapReport>($"/api/laps/{Escape(id)}/report?format=json", ct));
            var keys = Keys(pr);
            var comparison = LapComparison.Of(reports, keys);
            if (keys.Count > 0 && comparison.Measures.Count == 0) throw new CliException($"no measure of these laps matches {string.Join(", ", keys)}");
            if (c.IsJson(pr)) c.WriteJson(new
            {
                laps = comparison.Laps,
                measures = comparison.Measures.Select(m => new { key = m.Key, values = m.Values, differences = m.Differences }),
            });
            else c.Out.Write(pr.GetValue(csv) ? comparison.ToCsv() : comparison.ToTable());
            return 0;
        }, laps, measures, csv);

        var outDir = new Option<string>("--out") { Description = "The folder to write the curves to (one folder per job: phase/job)", HelpName = "DIR", Required = true };
        var curves = Command("curves", "A finished lap's training curves: each job's TensorBoard event file and metrics.jsonl, for tensorboard --logdir DIR", async (pr, ct) =>
        {
            using var api = c.Api();
            var lap = await api.GetAsync<LapView>($"/api/laps/{Escape(pr.GetValue(lapId))}", ct);
            if (lap.Output is null) throw new CliException($"lap {lap.Id} is {lap.RuntimeStatus.ToLowerInvariant()}: curves come from a finished lap's jobs (a running job's: GET /api/jobs/ID/metrics)");
            string dir = Path.GetFullPath(pr.GetValue(outDir)!);
            var written = await WriteCurvesAsync(api, lap, dir, "", ct);
            if (c.IsJson(pr)) c.WriteJson(new { lap = lap.Id, dir, runs = written });
            else c.Out.WriteLine(written.Count == 0 ? $"lap {lap.Id}: no training job with curves (reused phases are the earlier lap's)"
                : $"{written.Count} runs of lap {lap.Id} in {dir}:\n  {string.Join("\n  ", written)}\nview them: tensorboard --logdir {dir}");
            return 0;
        }, lapId, outDir);

        var report = Command("report", "The finished lap's report (Markdown; JSON with --json)", async (pr, ct) =>
        {
            using var api = c.Api();
            c.Out.Write(await api.GetTextAsync($"/api/laps/{Escape(pr.GetValue(lapId))}/report{(c.IsJson(pr) ? "?format=json" : "")}", ct));
            return 0;
        }, lapId);

        var fromPhase = Choice("--from-phase", "The first phase to run again; the earlier ones are reused", null, LapPhases.Names);
        fromPhase.Required = true;
        var restartSpec = ExistingFile("--spec", "A new LapSpec JSON file; the lap's own spec otherwise");
        var restart = Command("restart", "A new lap that reuses the lap's phases before --from-phase and runs the rest", async (pr, ct) =>
        {
            string id = pr.GetValue(lapId)!, phase = pr.GetValue(fromPhase)!;
            var body = pr.GetValue(restartSpec) is { } file ? ReadSpec(file) : null;
            using var api = c.Api();
            var started = await api.PostAsync<CheckStatusPayload>($"/api/laps/{Escape(id)}/restart?fromPhase={Uri.EscapeDataString(phase)}", body, ct);
            if (pr.GetValue(wait)) return await new RunFollower(c, api, pr).LapAsync(started.Id, ct);
            if (c.IsJson(pr)) c.WriteJson(started);
            else c.Out.WriteLine($"lap {started.Id} started from phase {phase}, reusing the earlier phases of {id}; ./mathv2 lap show {started.Id}");
            return 0;
        }, lapId, fromPhase, restartSpec, wait);

        return Group("lap", "Laps: one turn of the flywheel (phases 1a, 1b, 1c, 1d, 2, 3, 4)", start, show, list, report, compare, curves, restart);
    }

    /// <summary>A finished lap's training runs ({prefix}{phase}/{job}: event file and metrics.jsonl) under dir; the runs written.</summary>
    static async Task<List<string>> WriteCurvesAsync(ApiClient api, LapView lap, string dir, string prefix, CancellationToken ct)
    {
        var written = new List<string>();
        foreach (var phase in lap.Output!.Phases.Where(p => p.ReusedFrom == null))
            foreach (var job in phase.Jobs.Where(j => j.ResultArtifactId != null))
            {
                var manifest = await api.GetAsync<Core.Artifacts.ArtifactManifest>($"/api/artifacts/{Escape(job.ResultArtifactId!)}", ct);
                var files = manifest.Files.Where(f => f.Path.StartsWith("events.out.tfevents.") || f.Path == "metrics.jsonl").ToList();
                if (!files.Any(f => f.Path.StartsWith("events.out.tfevents."))) continue;
                // One run per job: {phase}/{the job's step}, as TensorBoard names runs by folder.
                string run = Path.Combine(dir, prefix, phase.Phase, job.JobId.StartsWith($"{lap.Id}-{phase.Phase}-") ? job.JobId[$"{lap.Id}-{phase.Phase}-".Length..] : job.JobId);
                Directory.CreateDirectory(run);
                foreach (var f in files)
                {
                    await using var target = File.Create(Path.Combine(run, f.Path));
                    await api.DownloadAsync($"/api/artifacts/{Escape(manifest.Id)}/files/{f.Path}", target, ct);
                }
                written.Add(Path.GetRelativePath(dir, run));
            }
        return written;
    }

    static Command Flywheel(CliContext c)
    {
        var spec = ExistingFile("--spec", "A FlywheelSpec JSON file (laps, humanFreeFromLap, gates, lap: a LapSpec)");
        var laps = OptionalInt("--laps", "How many laps (overrides the spec's laps)", 1, 100);
        var wait = Flag("--wait", "Follow the flywheel to its end and print each lap's report");
        var start = Command("start", "Start a flywheel: laps one after another, each from the last one's models", async (pr, ct) =>
        {
            var body = ReadSpec(pr.GetValue(spec));
            if (pr.GetValue(laps) is { } n) body["laps"] = n;
            using var api = c.Api();
            var started = await api.PostAsync<CheckStatusPayload>("/api/flywheels", body, ct);
            if (pr.GetValue(wait)) return await new RunFollower(c, api, pr).FlywheelAsync(started.Id, ct);
            if (c.IsJson(pr)) c.WriteJson(started); else c.Out.WriteLine($"flywheel {started.Id} started; ./mathv2 flywheel show {started.Id}");
            return 0;
        }, spec, laps, wait);

        var flywheelId = Id("flywheel", "The flywheel's id (fly-…)");
        var show = Command("show", "The flywheel's laps so far, the best verifier of each, why it stopped", async (pr, ct) =>
        {
            using var api = c.Api();
            var fw = await api.GetAsync<FlywheelView>($"/api/flywheels/{Escape(pr.GetValue(flywheelId))}", ct);
            if (c.IsJson(pr)) { c.WriteJson(fw); return 0; }
            c.Out.WriteLine($"{fw.Id} {fw.RuntimeStatus}");
            var lapsSoFar = fw.Output?.Laps ?? fw.Status?.Laps ?? [];
            foreach (var l in lapsSoFar)
                c.Out.WriteLine($"  lap {l.Number} {l.LapId} verifier accuracy {l.VerifierAccuracy?.ToString("0.###") ?? "n/a"}" +
                    (l.BestVerifier is { } b ? $", next lap's verifier from {b}" : ""));
            if ((fw.Output?.Stopped ?? fw.Status?.Stopped) is { } stopped) c.Out.WriteLine($"  stopped: {stopped}");
            if (fw.Failure != null) c.Out.WriteLine($"  failure: {fw.Failure}");
            return 0;
        }, flywheelId);

        var curvesOut = new Option<string>("--out") { Description = "The folder to write the curves to (one folder per job: lapN/phase/job)", HelpName = "DIR", Required = true };
        var curves = Command("curves", "The flywheel's finished laps' training curves (TensorBoard event files and metrics.jsonl), for tensorboard --logdir DIR", async (pr, ct) =>
        {
            using var api = c.Api();
            var fw = await api.GetAsync<FlywheelView>($"/api/flywheels/{Escape(pr.GetValue(flywheelId))}", ct);
            string dir = Path.GetFullPath(pr.GetValue(curvesOut)!);
            var written = new List<string>();
            foreach (var l in fw.Output?.Laps ?? fw.Status?.Laps ?? [])
                written.AddRange(await WriteCurvesAsync(api, await api.GetAsync<LapView>($"/api/laps/{Escape(l.LapId)}", ct), dir, $"lap{l.Number}", ct));
            if (c.IsJson(pr)) c.WriteJson(new { flywheel = fw.Id, dir, runs = written });
            else c.Out.WriteLine(written.Count == 0 ? $"flywheel {fw.Id}: no finished lap with training curves yet"
                : $"{written.Count} runs of flywheel {fw.Id} in {dir}:\n  {string.Join("\n  ", written)}\nview them: tensorboard --logdir {dir}");
            return 0;
        }, flywheelId, curvesOut);

        return Group("flywheel", "Flywheels: several laps, human-free from a chosen lap", start, show, curves);
    }

    static Command Annotations(CliContext c)
    {
        var lap = Id("lap", "The lap waiting for the labels");
        var batch = Id("batch", "The annotation batch (its id is in `lap show`)");
        var outFile = Text("--out", "Write the items (JSONL) to this file instead of stdout", "FILE");
        var pull = Command("pull", "The batch's items (JSONL): label each with {\"itemId\", \"score\"}", async (pr, ct) =>
        {
            string lapId = pr.GetValue(lap)!, batchId = pr.GetValue(batch)!;
            using var api = c.Api();
            string items = await api.GetTextAsync($"/api/laps/{Escape(lapId)}/annotations/{Escape(batchId)}", ct);
            if (pr.GetValue(outFile) is not { } path) { c.Out.Write(items); return 0; }
            await File.WriteAllTextAsync(path, items, ct);
            int n = items.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
            if (c.IsJson(pr)) c.WriteJson(new AnnotationsPulled(batchId, n, path));
            else c.Out.WriteLine($"{n} items written to {path}; label each with {{\"itemId\", \"score\"}} and submit");
            return 0;
        }, lap, batch, outFile);

        var inFile = ExistingFile("--in", "The labels: JSONL, one {\"itemId\", \"score\"} per item (score 0, 0.5 or 1)", required: true);
        var submit = Command("submit", "Submit the batch's labels; the lap continues", async (pr, ct) =>
        {
            using var api = c.Api();
            var result = await api.PostTextAsync<AnnotationsAccepted>($"/api/laps/{Escape(pr.GetValue(lap))}/annotations/{Escape(pr.GetValue(batch))}",
                await File.ReadAllTextAsync(pr.GetValue(inFile)!, ct), "application/x-ndjson", ct);
            if (c.IsJson(pr)) c.WriteJson(result); else c.Out.WriteLine($"{result.Labels} labels stored for {result.BatchId}; the lap continues");
            return 0;
        }, lap, batch, inFile);

        return Group("annotations", "Annotation batches a lap waits for (annotator \"http\")", pull, submit);
    }

    /// <summary>A spec file as JSON; the API checks its fields (strictly, with paths) when it is posted.</summary>
    public static JsonObject ReadSpec(string? file)
    {
        if (file is null) return new JsonObject();
        try
        {
            return JsonNode.Parse(File.ReadAllText(file)) as JsonObject ?? throw new CliException($"{file}: a JSON object is expected");
        }
        catch (JsonException e) { throw new CliException($"{file}: not valid JSON: {e.Message}"); }
    }

    internal static string Escape(string? id) => Uri.EscapeDataString(id ?? "");
}

public sealed record AnnotationsPulled(string Batch, int Items, string Path);
