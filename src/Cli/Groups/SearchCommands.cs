using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MathV2.Core.Datasets;
using MathV2.Core.Http;
using MathV2.Core.Laps;
using MathV2.Core.Search;
using static MathV2.Cli.Groups.CliOptions;

namespace MathV2.Cli.Groups;

/// <summary>prove and search: the test-time search over new problems with a trained generator and verifier.</summary>
public static class SearchCommands
{
    public static IEnumerable<Command> Build(CliContext c)
    {
        yield return Prove(c);
        yield return Search(c);
    }

    static Command Prove(CliContext c)
    {
        var problems = ExistingFile("--problems", "Problems to prove: JSONL, one {\"id\", \"problem\"} per line (sent inline, at most 1000)");
        var artifact = Text("--artifact", "A dataset artifact holding the problems (its problems.jsonl, or --file)", "ID");
        var file = Text("--file", "The artifact's file of problems (default problems.jsonl)", "NAME");
        var generator = Text("--generator", "The checkpoint artifact that writes the proofs", "ID");
        var verifier = Text("--verifier", "The checkpoint artifact that verifies them", "ID");
        var spec = ExistingFile("--spec", "A SearchSpec JSON file (docs/search.md): options, prompts, limits; the flags here override it");
        var pool = OptionalInt("--pool", "Proofs per problem in round 1 (options.pool)", 1, 4096);
        var verifications = OptionalInt("--verifications", "Verifications per proof (options.verifications)", 1, 1024);
        var keep = OptionalInt("--keep", "Best proofs refined each round (options.keep)", 1, 4096);
        var rounds = OptionalInt("--rounds", "Rounds at most (options.rounds)", 1, 256);
        var shards = OptionalInt("--shards", "Sample jobs per step, for several workers (options.shards)", 1, 256);
        var metaVerifications = OptionalInt("--meta-verifications", "Meta-verifications of each issue report; bogus reports leave the mean (options.metaVerifications; 0: none)", 0, 64);
        var prompts = PromptSetOption("--prompts", "Prompt set: standard, compact, or a file from 'prompts import'");
        var chat = Flag("--chat-template", "Prompts go to both models as one user turn of their chat template (chatTemplate)");
        var wait = Flag("--wait", "Follow the search to its end and print each problem's best mean score and the result artifact");
        var demo = Flag("--demo", "Prove the demo's held-out problems with a lap's generator and best verifier, a budget sized for a CPU, and report against pass@1 (follows it)");
        var lap = Text("--lap", "With --demo: the lap whose models search (the newest completed demo lap by default; one is run when there is none)", "ID");
        return Command("prove", "Prove new problems: the test-time search (pool, verifications, refinement rounds) as a durable run", async (pr, ct) =>
        {
            var body = LapCommands.ReadSpec(pr.GetValue(spec));
            if (pr.GetValue(demo))
            {
                // The budget flags apply to the demo's search as well.
                var given = body["options"] as JsonObject ?? new JsonObject();
                foreach (var (name, option) in new[] { ("pool", pool), ("verifications", verifications), ("keep", keep), ("rounds", rounds), ("shards", shards), ("metaVerifications", metaVerifications) })
                    if (pr.GetValue(option) is { } v) given[name] = v;
                body["options"] = given;
                return await DemoAsync(c, pr, body, pr.GetValue(lap), ct);
            }
            string? problemsFile = pr.GetValue(problems), artifactId = pr.GetValue(artifact);
            if ((problemsFile == null) == (artifactId == null)) throw new CliException("give the problems as --problems FILE or --artifact ID (one of them)");
            if (problemsFile != null)
            {
                List<ProblemRow> rows;
                try { rows = [.. Jsonl.Read<ProblemRow>(await File.ReadAllTextAsync(problemsFile, ct), Path.GetFileName(problemsFile)).Rows]; }
                catch (DatasetException e) { throw new CliException($"{problemsFile}: {e.Message}"); }
                if (rows.Count > SearchSpec.MaxInlineProblems)
                    throw new CliException($"{problemsFile} holds {rows.Count} problems; at most {SearchSpec.MaxInlineProblems} go inline: upload it (./mathv2 artifacts put --kind dataset) and pass --artifact");
                body["problems"] = JsonSerializer.SerializeToNode(rows.Select(r => new { id = r.Id, problem = r.Problem }), Core.Json.Options);
            }
            else
            {
                body["problemsArtifact"] = artifactId;
                if (pr.GetValue(file) is { } f) body["problemsFile"] = f;
            }
            body["generator"] = pr.GetValue(generator) ?? throw new CliException("--generator is required (the checkpoint that writes the proofs)");
            body["verifier"] = pr.GetValue(verifier) ?? throw new CliException("--verifier is required (the checkpoint that verifies them)");
            var options = body["options"] as JsonObject ?? new JsonObject();
            foreach (var (name, option) in new[] { ("pool", pool), ("verifications", verifications), ("keep", keep), ("rounds", rounds), ("shards", shards), ("metaVerifications", metaVerifications) })
                if (pr.GetValue(option) is { } v) options[name] = v;
            body["options"] = options;
            if (pr.GetValue(prompts) is { } set) body["prompts"] = JsonSerializer.SerializeToNode(set, Core.Json.Options);
            if (pr.GetValue(chat)) body["chatTemplate"] = true;
            using var api = c.Api();
            var started = await api.PostAsync<CheckStatusPayload>("/api/searches", body, ct);
            if (pr.GetValue(wait)) return await FollowAsync(c, api, pr, started.Id, ct);
            if (c.IsJson(pr)) c.WriteJson(started); else c.Out.WriteLine($"search {started.Id} started; ./mathv2 search show {started.Id}");
            return 0;
        }, problems, artifact, file, generator, verifier, spec, pool, verifications, keep, rounds, shards, metaVerifications, prompts, chat, wait, demo, lap);
    }

    /// <summary>The demo's budget on this CPU (docs/search.md): about 1.5 minutes, and the selection reaches the pool's ceiling.</summary>
    public static SearchOptions DemoOptions(LapSpec lap) => new()
    {
        Pool = 16, Verifications = 4, Keep = 4, AnalysesPerPrompt = 1, SamplesPerPrompt = 2, Rounds = 3, TopP = 1.0, Temperature = 1.0,
        MaxNewTokens = lap.ColdStart.MaxNewTokens, VerificationMaxNewTokens = lap.Consensus.MaxNewTokens, Shards = 2, BatchSize = 32, Seed = lap.Demo.Seed,
    };

    /// <summary>prove --demo: the held-out problems of a demo lap, its generator and best verifier; the report against pass@1.</summary>
    static async Task<int> DemoAsync(CliContext c, ParseResult pr, JsonObject body, string? lapId, CancellationToken ct)
    {
        using var api = c.Api();
        var progress = c.Progress(pr);
        LapView? lap = null;
        if (lapId != null) lap = await api.GetAsync<LapView>($"/api/laps/{LapCommands.Escape(lapId)}", ct);
        else
            foreach (var summary in await api.GetAsync<List<RunSummary<LapStatus>>>("/api/laps", ct))
                if (summary.RuntimeStatus == RuntimeStates.Completed && await api.GetAsync<LapView>($"/api/laps/{LapCommands.Escape(summary.Id)}", ct) is { Output.Artifacts.HeldOut: not null } v
                    && (await LapSpecAsync(api, v.Id, ct)).IsDemo) { lap = v; break; }
        if (lap == null)
        {
            progress.WriteLine("no completed demo lap: running one first (./mathv2 lap start --wait)");
            var started = await api.PostAsync<CheckStatusPayload>("/api/laps", new JsonObject(), ct);
            if (await new RunFollower(c, api, pr).LapAsync(started.Id, ct) != 0) return 1;
            lap = await api.GetAsync<LapView>($"/api/laps/{LapCommands.Escape(started.Id)}", ct);
        }
        if (lap.RuntimeStatus != RuntimeStates.Completed || lap.Output is not { } result) throw new CliException($"lap {lap.Id} is {lap.RuntimeStatus.ToLowerInvariant()}: --demo needs a completed demo lap");
        var spec = await LapSpecAsync(api, lap.Id, ct);
        if (!spec.IsDemo) throw new CliException($"lap {lap.Id} is not a demo lap: its problems have no oracle");
        var a = result.Artifacts;
        var metrics = result.Phases.SelectMany(p => p.Metrics).GroupBy(x => x.Key).ToDictionary(g => g.Key, g => g.Last().Value);
        string generator = a.SelfVerifyingGenerator ?? a.Generator ?? throw new CliException($"lap {lap.Id} has no generator");
        var best = BestVerifier.Choose(metrics, a) ?? throw new CliException($"lap {lap.Id} has no verifier");
        body["problemsArtifact"] = a.HeldOut;
        body["problemsFile"] = LapFiles.HeldOutProblems;
        body["generator"] = generator;
        body["verifier"] = best.Id;
        body["name"] ??= $"demo search with {lap.Id}";
        body["prompts"] ??= JsonSerializer.SerializeToNode(spec.PromptSet, Core.Json.Options);
        // The demo budget under the spec file's own options.
        var options = JsonSerializer.SerializeToNode(DemoOptions(spec), Core.Json.Options)!.AsObject();
        if (body["options"] is JsonObject given) foreach (var (k, v) in given) options[k] = v?.DeepClone();
        body["options"] = options;
        progress.WriteLine($"proving the held-out problems of {lap.Id} with its generator {generator} and {best.Name} {best.Id}");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var search = await api.PostAsync<CheckStatusPayload>("/api/searches", body, ct);
        int rc = await FollowAsync(c, api, pr, search.Id, ct, printResult: false);
        var view = await api.GetAsync<SearchView>($"/api/searches/{LapCommands.Escape(search.Id)}", ct);
        if (rc != 0 || view.Output?.Report is not { } report) { if (!c.IsJson(pr)) c.Out.WriteLine($"search {search.Id} {view.RuntimeStatus.ToLowerInvariant()}: {view.Failure}"); return 1; }
        var demoReport = new DemoSearchReport(search.Id, lap.Id, generator, best.Id, sw.Elapsed.TotalSeconds, report,
            report.OracleGain is { } gain && gain >= 0.15, sw.Elapsed.TotalMinutes <= 5);
        if (c.IsJson(pr)) { c.WriteJson(demoReport); return 0; }
        c.Out.WriteLine($"search {search.Id}: {report.Problems} held-out problems of {lap.Id}, {sw.Elapsed:m\\:ss}");
        c.Out.WriteLine($"  {"round",5} {"searching",9} {"proofs",7} {"verifications",13} {"adaptive",8} {"mean best",9} {"oracle pass",11}");
        foreach (var r in report.Rounds)
            c.Out.WriteLine($"  {r.Round,5} {r.Searching,9} {r.Proofs,7} {r.Verifications,13} {r.AdaptiveVerifications,8} {r.MeanBestScore,9:0.###} {r.OraclePassRate,11:0.###}");
        c.Out.WriteLine($"  generator pass@1 (round 1's proofs): {report.OraclePass1:0.###}; selected after the last round: {report.Rounds[^1].OraclePassRate:0.###} " +
            $"({report.OracleGain:+0.###;-0.###}; target +0.15: {(demoReport.GainMet ? "met" : "not met")}); a passing proof was in the pool for {report.OracleAnyPass:0.###}");
        c.Out.WriteLine(report.VerificationWaves > 1
            ? $"  samples: {report.Proofs} proofs; verification in {report.VerificationWaves} waves drew {report.Verifications} of the full budget's {report.VerificationBudget} ({report.AdaptiveSaving:P0} fewer)"
            : $"  samples: {report.Proofs} proofs, {report.Verifications} verifications; adaptive verification would have drawn {report.AdaptiveVerifications} " +
              $"({report.AdaptiveSaving:P0} fewer) for the same selection");
        if (report.MetaVerifications > 0) c.Out.WriteLine($"  meta-verifications of issue reports: {report.MetaVerifications}; proofs refuted by a confirmed fatal issue: {report.Refuted}");
        c.Out.WriteLine($"  wall time {sw.Elapsed:m\\:ss} (target 5:00: {(demoReport.TimeMet ? "met" : "not met")})");
        return 0;
    }

    static async Task<LapSpec> LapSpecAsync(ApiClient api, string lapId, CancellationToken ct)
    {
        var instance = await api.GetAsync<InstanceView>($"/api/instances/{LapCommands.Escape(lapId)}?showInput=true", ct);
        return instance.Input is { } input ? input.Deserialize<LapInput>(Core.Json.Options)!.Spec : new LapSpec();
    }

    static Command Search(CliContext c)
    {
        var id = Id("search", "The search's id (search-…)");
        var show = Command("show", "The search's round, each problem's best mean score, proofs and verifications so far", async (pr, ct) =>
        {
            using var api = c.Api();
            var view = await api.GetAsync<SearchView>($"/api/searches/{LapCommands.Escape(pr.GetValue(id))}", ct);
            if (c.IsJson(pr)) { c.WriteJson(view); return 0; }
            Print(c.Out, view);
            return 0;
        }, id);
        var outFile = Text("--out", "Write the result (JSONL) to this file instead of stdout", "FILE");
        var proofs = Command("proofs", "The finished search's best proof per problem with its analyses (JSONL)", async (pr, ct) =>
        {
            using var api = c.Api();
            string text = await api.GetTextAsync($"/api/searches/{LapCommands.Escape(pr.GetValue(id))}/proofs", ct);
            if (pr.GetValue(outFile) is { } path) { await File.WriteAllTextAsync(path, text, ct); c.Progress(pr).WriteLine($"{text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length} problems written to {path}"); }
            else c.Out.Write(text);
            return 0;
        }, id, outFile);
        var wait = Command("wait", "Follow a search to its end", async (pr, ct) =>
        {
            using var api = c.Api();
            return await FollowAsync(c, api, pr, pr.GetValue(id)!, ct);
        }, id);
        return Group("search", "Test-time searches started by 'prove'", show, proofs, wait);
    }

    static async Task<int> FollowAsync(CliContext c, ApiClient api, ParseResult pr, string id, CancellationToken ct, bool printResult = true)
    {
        var progress = c.Progress(pr);
        progress.WriteLine($"search {id} started");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        string last = "";
        while (true)
        {
            var view = await api.GetAsync<SearchView>($"/api/searches/{LapCommands.Escape(id)}", ct);
            string line = Line(view);
            if (line != last) { progress.WriteLine($"[{sw.Elapsed:hh\\:mm\\:ss}] {line}"); last = line; }
            if (RuntimeStates.IsFinished(view.RuntimeStatus))
            {
                bool completed = view.RuntimeStatus == RuntimeStates.Completed;
                if (!printResult) return completed ? 0 : 1;
                if (c.IsJson(pr)) c.WriteJson(view);
                else if (completed) Print(c.Out, view);
                else c.Out.WriteLine($"search {id} {view.RuntimeStatus.ToLowerInvariant()}: {view.Failure}\n  ops: ./mathv2 instances rewind {id}");
                return completed ? 0 : 1;
            }
            await Task.Delay(1000, ct);
        }
    }

    /// <summary>One progress line: round, step, the running jobs' progress, the problems' standing.</summary>
    public static string Line(SearchView v)
    {
        var sb = new StringBuilder($"{v.Id} {v.RuntimeStatus}");
        if (v.Status is { } s)
        {
            sb.Append($", round {s.Round} of at most {s.Rounds}: {s.Step}");
            var parts = v.Jobs.Select(j => j.Progress?.Describe()).OfType<string>().ToList();
            if (parts.Count > 0) sb.Append($" ({string.Join("; ", parts)})");
        }
        if (v.Problems.Count > 0)
            sb.Append($"; {v.Problems.Count(p => p.Stopped)}/{v.Problems.Count} problems stopped, {v.Problems.Sum(p => p.Proofs)} proofs, " +
                $"{v.Problems.Sum(p => p.Verifications)} verifications, best mean {v.Problems.Average(p => p.BestMeanScore ?? 0):0.###} on average");
        return sb.ToString();
    }

    static void Print(TextWriter o, SearchView v)
    {
        o.WriteLine(Line(v));
        if (v.Failure != null) o.WriteLine($"  failure: {v.Failure}");
        if (v.Problems.Count == 0) return;
        o.WriteLine($"  {"problem",-24} {"round",5} {"best mean",9} {"proofs",7} {"verifications",13}  stopped");
        foreach (var p in v.Problems)
            o.WriteLine($"  {p.ProblemId,-24} {p.Round,5} {p.BestMeanScore?.ToString("0.###") ?? "-",9} {p.Proofs,7} {p.Verifications,13}  {(p.Stopped ? p.StopReason : "no")}");
        if (v.Output is { } r) o.WriteLine($"  result: artifact {r.Result}; ./mathv2 search proofs {v.Id}");
    }
}

public sealed record DemoSearchReport(string Search, string Lap, string Generator, string Verifier, double Seconds, SearchReport Report, bool GainMet, bool TimeMet);
