using System.Diagnostics;
using MathV2.Tests;

namespace MathV2.Host.Tests;

/// <summary>A mistyped MATHV2_* setting stops the host or the worker at start with the variable named.</summary>
public sealed class SettingsTests
{
    static Task<(int Code, string Err)> RunAsync(string project, string dll, Dictionary<string, string> env) =>
        StartAsync(new ProcessStartInfo("dotnet", Path.Combine(Repo.Root, "src", project, "bin", Repo.Configuration, "net10.0", dll)), env);

    /// <summary>Runs a process to its end with only the given storage settings: its exit code and stderr.</summary>
    static async Task<(int Code, string Err)> StartAsync(ProcessStartInfo psi, Dictionary<string, string> env)
    {
        (psi.RedirectStandardError, psi.RedirectStandardOutput, psi.UseShellExecute) = (true, true, false);
        // The caller's own storage settings stay out: each case sets what it tests.
        foreach (string k in psi.Environment.Keys.Where(k => k.StartsWith("MATHV2_STORAGE")).ToList()) psi.Environment.Remove(k);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(timeout.Token);
        return (p.ExitCode, await err);
    }

    [Theory]
    [InlineData("MATHV2_PORT", "seventy", "MATHV2_PORT='seventy' is not an integer between 1 and 65535")]
    [InlineData("MATHV2_JOB_MAX_ATTEMPTS", "0", "MATHV2_JOB_MAX_ATTEMPTS must be between 1 and 20")]
    [InlineData("MATHV2_MAX_ACTIVE_RUNS", "ten", "MATHV2_MAX_ACTIVE_RUNS='ten' is not an integer between 0 and 1000000")]
    [InlineData("MATHV2_TASKHUB", "my-hub", "MATHV2_TASKHUB='my-hub' must be 3-45 letters and digits")]
    public async Task The_host_refuses_a_mistyped_setting(string name, string value, string message)
    {
        var (code, err) = await RunAsync("Host", "MathV2.Host.dll", new() { ["MATHV2_KEY"] = "k", [name] = value });
        Assert.Equal(2, code);
        Assert.Contains(message, err);
    }

    [Theory]
    [InlineData("MATHV2_BIND", "everywhere", "MATHV2_BIND='everywhere' is not one of Loopback, Any")]
    [InlineData("MATHV2_STORAGE__accountName", "Bad_Name", "MATHV2_STORAGE__accountName='Bad_Name' is not a storage account name")]
    [InlineData("MATHV2_BIND", "any", "MATHV2_STORAGE is not set")]   // listening beyond loopback: no fallback to Azurite
    public async Task The_host_refuses_a_mistyped_binding_or_identity_setting(string name, string value, string message)
    {
        var (code, err) = await RunAsync("Host", "MathV2.Host.dll", new() { ["MATHV2_KEY"] = "k", [name] = value });
        Assert.Equal(2, code);
        Assert.Contains(message, err);
    }

    [Fact]
    public async Task The_worker_refuses_a_bad_identity_setting()
    {
        var (code, err) = await RunAsync("Gpu.Worker", "MathV2.Gpu.Worker.dll", new() { ["MATHV2_STORAGE__accountName"] = "acct", ["MATHV2_STORAGE__queueServiceUri"] = "http://example.com/queues" });
        Assert.Equal(2, code);
        Assert.Contains("MATHV2_STORAGE__queueServiceUri='http://example.com/queues' is not an https URI", err);
    }

    /// <summary>
    /// Each image copies the folder its header's publish command writes and starts the app host it names: that
    /// executable is what the project builds, and it starts and reads the settings the infrastructure gives it.
    /// </summary>
    [Theory]
    [InlineData("Gpu.Worker", "worker")]
    [InlineData("Host", "host")]
    public async Task An_images_dockerfile_copies_its_publish_folder_and_its_entrypoint_starts(string project, string folder)
    {
        string[] lines = File.ReadAllLines(Path.Combine(Repo.Root, "src", project, "Dockerfile"));
        Assert.Contains(lines, l => l.StartsWith($"#   dotnet publish src/{project} ") && l.EndsWith($" -o out/{folder}"));
        Assert.Contains($"COPY out/{folder}/ ./", lines);
        Assert.Contains($"!out/{folder}/", File.ReadAllLines(Path.Combine(Repo.Root, ".dockerignore")));
        string entry = lines.Single(l => l.StartsWith("ENTRYPOINT"));
        string exe = System.Text.RegularExpressions.Regex.Match(entry, "\\[\"\\./([A-Za-z0-9.]+)\"\\]").Groups[1].Value;
        string apphost = Path.Combine(Repo.Root, "src", project, "bin", Repo.Configuration, "net10.0", exe);
        Assert.True(File.Exists(apphost), $"{entry}: {apphost} is not built");
        var (code, err) = await StartAsync(new ProcessStartInfo(apphost), new() { ["MATHV2_KEY"] = "k", ["MATHV2_STORAGE__accountName"] = "Bad_Name" });
        Assert.Equal(2, code);
        Assert.Contains("MATHV2_STORAGE__accountName='Bad_Name'", err);
    }

    [Fact]
    public async Task The_worker_refuses_a_mistyped_setting()
    {
        var (code, err) = await RunAsync("Gpu.Worker", "MathV2.Gpu.Worker.dll", new() { ["MATHV2_WORKER_HEARTBEAT_S"] = "5s" });
        Assert.Equal(2, code);
        Assert.Contains("MATHV2_WORKER_HEARTBEAT_S='5s' is not a number", err);
        (code, err) = await RunAsync("Gpu.Worker", "MathV2.Gpu.Worker.dll", new() { ["MATHV2_LOG_FORMAT"] = "yaml" });
        Assert.Equal(2, code);
        Assert.Contains("MATHV2_LOG_FORMAT='yaml' is not one of Text, Json", err);
        // The image logs JSON, a value the worker accepts.
        Assert.Contains(File.ReadAllLines(Path.Combine(Repo.Root, "src", "Gpu.Worker", "Dockerfile")), l => l.Trim() == "MATHV2_LOG_FORMAT=json");
    }
}
