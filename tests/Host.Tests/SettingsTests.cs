using System.Diagnostics;
using MathV2.Tests;

namespace MathV2.Host.Tests;

/// <summary>A mistyped MATHV2_* setting stops the host or the worker at start with the variable named.</summary>
public sealed class SettingsTests
{
    static async Task<(int Code, string Err)> RunAsync(string project, string dll, Dictionary<string, string> env)
    {
        var psi = new ProcessStartInfo("dotnet", Path.Combine(Repo.Root, "src", project, "bin", Repo.Configuration, "net10.0", dll))
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
        };
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
    [InlineData("MATHV2_TASKHUB", "my-hub", "MATHV2_TASKHUB='my-hub' must be 3-45 letters and digits")]
    public async Task The_host_refuses_a_mistyped_setting(string name, string value, string message)
    {
        var (code, err) = await RunAsync("Host", "MathV2.Host.dll", new() { ["MATHV2_KEY"] = "k", [name] = value });
        Assert.Equal(2, code);
        Assert.Contains(message, err);
    }

    [Fact]
    public async Task The_worker_refuses_a_mistyped_setting()
    {
        var (code, err) = await RunAsync("Gpu.Worker", "MathV2.Gpu.Worker.dll", new() { ["MATHV2_WORKER_HEARTBEAT_S"] = "5s" });
        Assert.Equal(2, code);
        Assert.Contains("MATHV2_WORKER_HEARTBEAT_S='5s' is not a number", err);
    }
}
