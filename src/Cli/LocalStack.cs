using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Azure.Data.Tables;
using MathV2.Core;
using MathV2.Core.Storage;

namespace MathV2.Cli;

/// <summary>A clear, user-facing failure of a command (printed without a stack trace).</summary>
public sealed class CliException(string message) : Exception(message);

/// <summary>
/// Starts and stops the local stack as separate processes: Azurite (from the repo's node_modules), the local
/// host and Gpu.Worker processes. Every process is recorded by pid in pids.json; `down` stops exactly those.
/// </summary>
public sealed class LocalStack(StackLayout layout, TextWriter log)
{
    public StackLayout Layout => layout;

    public string Key => File.Exists(layout.KeyFile) ? File.ReadAllText(layout.KeyFile).Trim() : throw new CliException($"no key in {layout.KeyFile}: run ./mathv2 up");

    /// <summary>Idempotent: starts whatever is not running and waits until all of it is healthy.</summary>
    public async Task UpAsync(CancellationToken ct = default)
    {
        Directory.CreateDirectory(layout.LogDir);
        Directory.CreateDirectory(layout.AzuriteDir);
        File.Delete(StoppingFile);   // left by a `down` that did not finish
        if (!File.Exists(layout.HostDll)) throw new CliException($"the local host is not built ({layout.HostDll} is missing)");
        if (!File.Exists(layout.WorkerDll)) throw new CliException($"the worker is not built ({layout.WorkerDll} is missing)");
        if (!File.Exists(layout.KeyFile))
            File.WriteAllText(layout.KeyFile, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)));
        var pids = StackPids.Load(layout.PidFile);
        // A host or worker started before the last build runs the old code: restart it (a worker's job is retried).
        if (IsAlive(pids.Host, "MathV2.Host.dll") && IsStale(pids.Host!.Value, layout.HostDll))
        {
            log.WriteLine($"restarting the host (pid {pids.Host}): its binaries were built after it started");
            await StopAsync(pids.Host, "MathV2.Host.dll");
        }
        foreach (int w in pids.Workers.Where(w => IsAlive(w, "MathV2.Gpu.Worker.dll") && IsStale(w, layout.WorkerDll)).ToList())
        {
            log.WriteLine($"restarting worker {w}: its binaries were built after it started");
            await StopAsync(w, "MathV2.Gpu.Worker.dll");
        }
        bool startAzurite = !IsAlive(pids.Azurite, "azurite"), startHost = !IsAlive(pids.Host, "MathV2.Host.dll");
        // Check every port before starting anything, so a conflict leaves nothing half-started.
        var ports = new List<(string, int)>();
        if (startAzurite) ports.AddRange([("Azurite blob", layout.AzuritePort), ("Azurite queue", layout.AzuritePort + 1), ("Azurite table", layout.AzuritePort + 2)]);
        if (startHost) ports.AddRange([("API", layout.ApiPort), ("gRPC", layout.GrpcPort)]);
        RequireFreePorts([.. ports]);

        if (startAzurite)
        {
            EnsureAzuriteInstalled();
            pids = pids with { Azurite = StartAzurite() };
            pids.Save(layout.PidFile);
        }
        await WaitForAzuriteAsync(pids.Azurite!.Value, ct);

        if (startHost)
        {
            pids = pids with { Host = StartHost() };
            pids.Save(layout.PidFile);
        }
        await WaitForHostAsync(pids.Host!.Value, ct);

        var workers = pids.Workers.Where(p => IsAlive(p, "MathV2.Gpu.Worker.dll")).ToList();
        var started = new List<int>();
        while (workers.Count < layout.Workers)
        {
            int pid = StartWorker();
            workers.Add(pid);
            started.Add(pid);
        }
        pids = pids with { Workers = workers };
        pids.Save(layout.PidFile);
        foreach (int pid in workers) await WaitForWorkerAsync(pid, ct);

        File.WriteAllText(layout.EnvFile, $"MATHV2_URL={layout.Url}\nMATHV2_KEY={Key}\nMATHV2_STORAGE=\"{layout.StorageConnectionString}\"\n");
    }

    /// <summary>The recorded workers that are alive.</summary>
    public int AliveWorkers() => StackPids.Load(layout.PidFile).Workers.Count(w => IsAlive(w, "MathV2.Gpu.Worker.dll"));

    /// <summary>Stops exactly the processes `up` recorded; keeps the data.</summary>
    public async Task<List<string>> DownAsync()
    {
        var pids = StackPids.Load(layout.PidFile);
        if (File.Exists(layout.PidFile)) File.WriteAllText(StoppingFile, $"{Environment.ProcessId}\n");
        var stopped = new List<string>();
        foreach (int w in pids.Workers)
            if (await StopAsync(w, "MathV2.Gpu.Worker.dll")) stopped.Add($"worker {w}");
        if (await StopAsync(pids.Host, "MathV2.Host.dll")) stopped.Add($"host {pids.Host}");
        if (await StopAsync(pids.Azurite, "azurite")) stopped.Add($"azurite {pids.Azurite}");
        if (File.Exists(layout.PidFile)) File.Delete(layout.PidFile);
        if (Directory.Exists(layout.StateDir)) File.Delete(StoppingFile);
        return stopped;
    }

    public StackPids Pids => StackPids.Load(layout.PidFile);

    /// <summary>Present while `down` stops the stack.</summary>
    string StoppingFile => Path.Combine(layout.StateDir, "stopping");

    /// <summary>
    /// Starts again whatever `up` recorded that has died since (a native crash in a worker, the OOM killer): what a
    /// container platform does in the cloud. A dead worker's job is retried once its heartbeat goes stale; a dead
    /// host's orchestrations resume from their history. Returns one line per restarted process, with the last lines of
    /// its log; empty when everything runs (or the stack was never up here).
    /// </summary>
    public async Task<List<string>> HealAsync(CancellationToken ct = default)
    {
        // `down` running elsewhere stops the processes one by one: not deaths to mend.
        if (!File.Exists(layout.PidFile) || File.Exists(StoppingFile)) return [];
        var pids = StackPids.Load(layout.PidFile);
        var dead = new List<(string What, int Pid)>();
        if (pids.Azurite is { } a && !IsAlive(a, "azurite")) dead.Add(("azurite", a));
        if (pids.Host is { } h && !IsAlive(h, "MathV2.Host.dll")) dead.Add(("host", h));
        dead.AddRange(pids.Workers.Where(w => !IsAlive(w, "MathV2.Gpu.Worker.dll")).Select(w => ("worker", w)));
        if (dead.Count == 0) return [];
        var lines = dead.Select(d => $"the {d.What} (pid {d.Pid}) exited unexpectedly; restarting it. Last lines of {LogOf(d.What)}:\n{Tail(LogOf(d.What), 5)}").ToList();
        // As many workers as were recorded, even where `up --workers N` asked for more than the layout's default.
        await new LocalStack(layout with { Workers = Math.Max(layout.Workers, pids.Workers.Count) }, log).UpAsync(ct);
        return lines;
    }

    /// <summary>
    /// Whether the pid is a live process of ours (its command line names the marker). A process that is
    /// exiting has an empty command line but may still hold its ports, so it counts as alive until it is a zombie.
    /// </summary>
    /// <summary>Whether the process started before the MathV2 assemblies next to <paramref name="dll"/> were last written.</summary>
    public static bool IsStale(int pid, string dll)
    {
        DateTime started;
        try { started = Process.GetProcessById(pid).StartTime.ToUniversalTime(); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException) { return false; }
        string? dir = Path.GetDirectoryName(dll);
        if (dir is null || !Directory.Exists(dir)) return false;
        return Directory.GetFiles(dir, "MathV2.*.dll").Select(File.GetLastWriteTimeUtc).DefaultIfEmpty(DateTime.MinValue).Max() > started;
    }

    public static bool IsAlive(int? pid, string marker)
    {
        if (pid is not { } p) return false;
        try
        {
            string stat = File.ReadAllText($"/proc/{p}/stat");
            int close = stat.LastIndexOf(')');
            char state = close + 2 < stat.Length ? stat[close + 2] : '?';
            if (state is 'Z' or 'X' or 'x') return false;
            string cmdline = File.ReadAllText($"/proc/{p}/cmdline");
            return cmdline.Length == 0 || cmdline.Contains(marker, StringComparison.Ordinal);
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    // ---- processes (also used by tests to kill and restart parts of the stack) ----

    public int StartAzurite() => Spawn("azurite", "node",
        [Path.Combine(layout.Root, "node_modules", "azurite", "dist", "src", "azurite.js"),
         "--location", layout.AzuriteDir, "--silent", "--skipApiVersionCheck", "--loose",
         "--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
         "--blobPort", $"{layout.AzuritePort}", "--queuePort", $"{layout.AzuritePort + 1}", "--tablePort", $"{layout.AzuritePort + 2}"],
        new Dictionary<string, string>());

    public int StartHost() => Spawn("host", "dotnet", [layout.HostDll], new Dictionary<string, string>(layout.Environment)
    {
        ["MATHV2_KEY"] = Key,
        ["MATHV2_STORAGE"] = layout.StorageConnectionString,
        ["MATHV2_PORT"] = $"{layout.ApiPort}",
        ["MATHV2_GRPC_PORT"] = $"{layout.GrpcPort}",
    });

    public int StartWorker() => Spawn("worker", "dotnet", [layout.WorkerDll], new Dictionary<string, string>(layout.Environment)
    {
        ["MATHV2_STORAGE"] = layout.StorageConnectionString,
    });

    public async Task WaitForHostAsync(int pid, CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        http.DefaultRequestHeaders.Add("x-functions-key", Key);
        await WaitAsync("host", pid, "MathV2.Host.dll", TimeSpan.FromSeconds(90), async () =>
        {
            try { return (await http.GetAsync($"{layout.Url}/healthz", ct)).IsSuccessStatusCode; }
            catch (HttpRequestException) { return false; }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested) { return false; }
        }, ct);
    }

    public async Task WaitForWorkerAsync(int pid, CancellationToken ct)
    {
        var table = new MathV2Storage(layout.StorageConnectionString).Table(StorageNames.WorkersTable);
        await WaitAsync("worker", pid, "MathV2.Gpu.Worker.dll", TimeSpan.FromSeconds(90), async () =>
        {
            try
            {
                await foreach (var e in table.QueryAsync<TableEntity>(e => e.PartitionKey == "workers", cancellationToken: ct))
                    if (e.GetInt32("Pid") == pid && e.GetString("State") != "stopped") return true;
            }
            catch (Azure.RequestFailedException) { }
            return false;
        }, ct);
    }

    async Task WaitForAzuriteAsync(int pid, CancellationToken ct)
    {
        var storage = new MathV2Storage(layout.StorageConnectionString);
        await WaitAsync("azurite", pid, "azurite", TimeSpan.FromSeconds(60), async () =>
        {
            try { await storage.EnsureCreatedAsync(ct); return true; }
            catch (Exception e) when (e is Azure.RequestFailedException or HttpRequestException or AggregateException) { return false; }
        }, ct);
    }

    async Task WaitAsync(string what, int pid, string marker, TimeSpan limit, Func<Task<bool>> healthy, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            if (await healthy()) return;
            if (!IsAlive(pid, marker))
                throw new CliException($"the {what} process ({pid}) exited while starting; last lines of {LogOf(what)}:\n{Tail(LogOf(what), 15)}");
            if (sw.Elapsed > limit)
                throw new CliException($"the {what} did not become healthy within {limit.TotalSeconds:0} s; see {LogOf(what)}:\n{Tail(LogOf(what), 15)}");
            await Task.Delay(delay, ct);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 1.5, 1000));
        }
    }

    string LogOf(string what) => Path.Combine(layout.LogDir, $"{what}.log");

    static string Tail(string path, int lines) =>
        File.Exists(path) ? string.Join('\n', File.ReadLines(path).TakeLast(lines)) : "(no log)";

    int Spawn(string name, string program, IEnumerable<string> args, IDictionary<string, string> env)
    {
        string logPath = LogOf(name);
        // setsid + exec: the process keeps this pid, survives the CLI, and is not hit by the terminal's Ctrl-C.
        var psi = new ProcessStartInfo(File.Exists("/usr/bin/setsid") ? "/usr/bin/setsid" : "/bin/sh") { UseShellExecute = false, WorkingDirectory = layout.Root };
        if (psi.FileName.EndsWith("setsid")) psi.ArgumentList.Add("/bin/sh");
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"exec \"$0\" \"$@\" >> '{logPath}' 2>&1 < /dev/null");
        psi.ArgumentList.Add(program);
        foreach (string a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        File.AppendAllText(logPath, $"---- {DateTimeOffset.Now:u} starting {name}\n");
        using var p = Process.Start(psi) ?? throw new CliException($"could not start {program}");
        log.WriteLine($"started {name} (pid {p.Id}), log: {logPath}");
        return p.Id;
    }

    public const int SigStop = 19, SigCont = 18;

    /// <summary>Sends a signal (chaos freezes Azurite with SIGSTOP and thaws it with SIGCONT).</summary>
    public static void Signal(int pid, int signal)
    {
        if (kill(pid, signal) != 0 && Marshal.GetLastPInvokeError() != 3 /* ESRCH */)
            throw new CliException($"could not signal process {pid} (errno {Marshal.GetLastPInvokeError()})");
    }

    public static void Kill(int pid, bool force)
    {
        if (kill(pid, force ? 9 : 15) != 0 && Marshal.GetLastPInvokeError() != 3 /* ESRCH */)
            throw new CliException($"could not signal process {pid} (errno {Marshal.GetLastPInvokeError()})");
    }

    /// <summary>SIGTERM, wait up to 10 s, then SIGKILL. False if it was not running.</summary>
    public static async Task<bool> StopAsync(int? pid, string marker)
    {
        if (!IsAlive(pid, marker)) return false;
        Kill(pid!.Value, force: false);
        for (int i = 0; i < 100 && IsAlive(pid, marker); i++) await Task.Delay(100);
        if (IsAlive(pid, marker)) Kill(pid.Value, force: true);
        for (int i = 0; i < 50 && IsAlive(pid, marker); i++) await Task.Delay(100);
        return true;
    }

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int sig);

    void EnsureAzuriteInstalled()
    {
        if (File.Exists(Path.Combine(layout.Root, "node_modules", "azurite", "dist", "src", "azurite.js"))) return;
        RequireTool("node", "Node.js (node) is required to run Azurite; install Node.js 20 or newer");
        RequireTool("npm", "npm is required to install Azurite; it comes with Node.js");
        log.WriteLine("installing Azurite from package-lock.json (npm ci)...");
        var psi = new ProcessStartInfo("npm", "ci --no-audit --no-fund --loglevel=error") { WorkingDirectory = layout.Root, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        p.WaitForExit();
        if (p.ExitCode != 0) throw new CliException("npm ci failed; see the output above");
    }

    static void RequireTool(string tool, string message)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(tool, "--version") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
            p.WaitForExit();
        }
        catch (System.ComponentModel.Win32Exception) { throw new CliException(message); }
    }

    static void RequireFreePorts(params (string What, int Port)[] ports)
    {
        foreach (var (what, port) in ports)
        {
            // A process that was just killed can hold its port for a moment while it exits.
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (!LoopbackPorts.IsFree(port))
            {
                if (DateTime.UtcNow > deadline)
                    throw new CliException($"port {port} ({what}) is already in use by another program. Stop it, or choose other ports " +
                        "with MATHV2_PORT (API; gRPC uses the next port) and MATHV2_AZURITE_PORT (Azurite uses it and the next two).");
                Thread.Sleep(100);
            }
        }
    }
}
