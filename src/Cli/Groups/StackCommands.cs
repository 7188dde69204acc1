using System.CommandLine;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using MathV2.Core.Storage;
using static MathV2.Cli.Groups.CliOptions;

namespace MathV2.Cli.Groups;

/// <summary>up, down, status: the local stack; demo: the main job; test: the suite (run by ./mathv2 itself).</summary>
public static class StackCommands
{
    public static IEnumerable<Command> Build(CliContext c)
    {
        var workers = Int("--workers", "How many worker processes to start", c.Layout.Workers, 1, 16);
        yield return Command("up", "Start Azurite, the local host and the workers; print the API's URL and key", async (pr, ct) =>
        {
            var l = c.Layout with { Workers = pr.GetValue(workers) };
            var stack = new LocalStack(l, c.Progress(pr));
            await stack.UpAsync(ct);
            if (c.IsJson(pr)) c.WriteJson(new StackUp(l.Url, stack.Key, l.EnvFile, stack.Pids));
            else c.Out.WriteLine($"MathV2 is up.\n  MATHV2_URL={l.Url}\n  MATHV2_KEY={stack.Key}\n  (also in {l.EnvFile}; logs in {l.LogDir})");
            return 0;
        }, workers);

        yield return Command("down", "Stop exactly what `up` started (the data is kept)", async (pr, ct) =>
        {
            var stopped = await new LocalStack(c.Layout, c.Progress(pr)).DownAsync();
            if (c.IsJson(pr)) c.WriteJson(new StackDown(stopped));
            else c.Out.WriteLine(stopped.Count == 0 ? "nothing was running" : "stopped: " + string.Join(", ", stopped));
            return 0;
        });

        yield return Command("status", "What runs, the queue depths, the workers seen in the last hour", async (pr, ct) =>
        {
            var status = await StatusAsync(c.Layout, ct);
            if (c.IsJson(pr)) { c.WriteJson(status); return 0; }
            foreach (var p in status.Processes) c.Out.WriteLine($"{p.Name,-8} pid {p.Pid?.ToString() ?? "-",-8} {(p.Running ? "running" : "stopped")}");
            if (status.Queues.Count > 0)
            {
                c.Out.WriteLine("queues:  " + string.Join(", ", status.Queues.Select(q => $"{q.Key}={q.Value?.ToString() ?? "?"}")));
                c.Out.WriteLine(status.Workers.Count == 0 ? "workers: none seen in the last hour" : "workers seen in the last hour:");
                foreach (var w in status.Workers) c.Out.WriteLine($"  {w.Id} {w.State}{(w.Job != null ? " " + w.Job : "")} on {w.Device}, last seen {w.SecondsAgo} s ago");
            }
            return 0;
        });

        var laps = Int("--laps", "Laps to run: 1 is one lap, more is a flywheel (human-free from lap 2)", 1, 1, 100);
        var spec = ExistingFile("--spec", "A LapSpec JSON file (docs/laps.md); the defaults otherwise");
        yield return Command("demo", "The main job: bring the stack up and run a full lap on the demo domain (oracle annotator), with progress, ending with the lap report", async (pr, ct) =>
        {
            var stack = new LocalStack(c.Layout, c.Progress(pr));
            await stack.UpAsync(ct);
            var lapSpec = LapCommands.ReadSpec(pr.GetValue(spec));
            using var api = c.Api();
            int n = pr.GetValue(laps);
            if (n == 1)
            {
                c.Progress(pr).WriteLine($"stack up at {c.Layout.Url}; running one lap on the demo domain (oracle annotator; about 15 minutes on 2 cores)");
                var started = await api.PostAsync<Core.Http.CheckStatusPayload>("/api/laps", lapSpec, ct);
                return await new RunFollower(c, api, pr).LapAsync(started.Id, ct);
            }
            c.Progress(pr).WriteLine($"stack up at {c.Layout.Url}; running a flywheel of {n} laps on the demo domain (human-free from lap 2)");
            var fw = await api.PostAsync<Core.Http.CheckStatusPayload>("/api/flywheels", new JsonObject { ["laps"] = n, ["lap"] = lapSpec }, ct);
            return await new RunFollower(c, api, pr).FlywheelAsync(fw.Id, ct);
        }, laps, spec);

        yield return Command("test", "Start what the tests need and run the whole test suite (./mathv2 test [--fast]; run by the script, not here)", (pr, ct) =>
        {
            c.Err.WriteLine("mathv2: run the tests with ./mathv2 test [--fast] (the script installs Azurite and builds first)");
            return Task.FromResult(Commands.UsageError);
        });
    }

    static async Task<StackStatus> StatusAsync(StackLayout layout, CancellationToken ct)
    {
        var pids = StackPids.Load(layout.PidFile);
        var procs = new List<ProcessState>
        {
            new("azurite", pids.Azurite, LocalStack.IsAlive(pids.Azurite, "azurite")),
            new("host", pids.Host, LocalStack.IsAlive(pids.Host, "MathV2.Host.dll")),
        };
        procs.AddRange(pids.Workers.Select(w => new ProcessState("worker", w, LocalStack.IsAlive(w, "MathV2.Gpu.Worker.dll"))));
        var queues = new Dictionary<string, int?>();
        var workers = new List<WorkerState>();
        if (LocalStack.IsAlive(pids.Azurite, "azurite"))
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
                    workers.Add(new WorkerState(e.RowKey, state, e.GetString("JobId"), e.GetString("Device"), e.GetInt32("Pid"), seen, Math.Round(age.TotalSeconds, 1)));
                }
            }
            catch (Azure.RequestFailedException) { }
        }
        return new StackStatus(layout.Url, procs, queues, workers);
    }
}

public sealed record StackUp(string Url, string Key, string EnvFile, StackPids Pids);
public sealed record StackDown(IReadOnlyList<string> Stopped);
public sealed record StackStatus(string Url, IReadOnlyList<ProcessState> Processes, IReadOnlyDictionary<string, int?> Queues, IReadOnlyList<WorkerState> Workers);
public sealed record ProcessState(string Name, int? Pid, bool Running);
public sealed record WorkerState(string Id, string State, string? Job, string? Device, int? Pid, DateTimeOffset LastSeen, double SecondsAgo);
