using System.Diagnostics;
using System.Reflection;
using MathV2.Core.Storage;

namespace MathV2.Tests;

/// <summary>Paths of the repository and the build configuration the tests were built with.</summary>
public static class Repo
{
    static string Meta(string key) => typeof(Repo).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == key).Value!;
    public static string Root => Meta("RepoRoot");
    public static string Configuration => Meta("Configuration");

    /// <summary>A base port with <paramref name="count"/> free consecutive ports on loopback.</summary>
    public static int FreePorts(int count) => MathV2.Core.LoopbackPorts.FreeRange(count);
}

/// <summary>A real Azurite process from the repo's node_modules, on free ports, with its data in a temp folder.</summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    Process? _process;
    string _dir = "";

    public int Port { get; private set; }
    public MathV2Storage Storage { get; private set; } = null!;

    public string ConnectionString =>
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
        $"BlobEndpoint=http://127.0.0.1:{Port}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{Port + 1}/devstoreaccount1;TableEndpoint=http://127.0.0.1:{Port + 2}/devstoreaccount1;";

    public async Task InitializeAsync()
    {
        string script = Path.Combine(Repo.Root, "node_modules", "azurite", "dist", "src", "azurite.js");
        if (!File.Exists(script)) throw new InvalidOperationException($"Azurite is not installed ({script}); run ./mathv2 test, which installs it");
        Port = Repo.FreePorts(3);
        _dir = Directory.CreateTempSubdirectory("mathv2-azurite-").FullName;
        var psi = new ProcessStartInfo("node") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { script, "--location", _dir, "--silent", "--skipApiVersionCheck", "--loose",
                     "--blobPort", $"{Port}", "--queuePort", $"{Port + 1}", "--tablePort", $"{Port + 2}" })
            psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Storage = new MathV2Storage(ConnectionString);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try { await Storage.EnsureCreatedAsync(); return; }
            catch (Exception) when (DateTime.UtcNow < deadline && !_process.HasExited) { await Task.Delay(200); }
            catch (Exception e) { throw new InvalidOperationException($"Azurite did not start on port {Port} (exited: {_process.HasExited})", e); }
        }
    }

    public Task DisposeAsync()
    {
        try { _process?.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _process?.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }
}

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;
    public override DateTimeOffset GetUtcNow() => Now;
    public void Advance(TimeSpan by) => Now += by;
}
