using System.Text.Json;

namespace MathV2.Cli;

/// <summary>Where a local stack keeps its state and which ports it uses.</summary>
public sealed record StackLayout
{
    public required string Root { get; init; }
    public required string StateDir { get; init; }
    public required string HostDll { get; init; }
    public required string WorkerDll { get; init; }
    public int ApiPort { get; init; } = 7071;
    public int GrpcPort { get; init; } = 7072;
    /// <summary>Blob port; queue and table use the next two.</summary>
    public int AzuritePort { get; init; } = 10000;
    public int Workers { get; init; } = 1;
    /// <summary>Extra environment for the host and worker processes (tests shorten leases with it).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    public string LogDir => Path.Combine(StateDir, "logs");
    public string AzuriteDir => Path.Combine(StateDir, "azurite");
    public string PidFile => Path.Combine(StateDir, "pids.json");
    public string EnvFile => Path.Combine(StateDir, "env");
    public string KeyFile => Path.Combine(StateDir, "key");
    public string Url => $"http://127.0.0.1:{ApiPort}";

    public const string DevAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    public string StorageConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DevAccountKey};" +
        $"BlobEndpoint=http://127.0.0.1:{AzuritePort}/devstoreaccount1;" +
        $"QueueEndpoint=http://127.0.0.1:{AzuritePort + 1}/devstoreaccount1;" +
        $"TableEndpoint=http://127.0.0.1:{AzuritePort + 2}/devstoreaccount1;";

    /// <summary>The layout of the repository's own stack: .mathv2/ and the Release builds made by ./mathv2.</summary>
    public static StackLayout ForRepository(string root, string configuration = "Release") => new()
    {
        Root = root,
        StateDir = System.Environment.GetEnvironmentVariable("MATHV2_STATE_DIR") is { Length: > 0 } s ? s : Path.Combine(root, ".mathv2"),
        HostDll = Path.Combine(root, "src", "Host", "bin", configuration, "net10.0", "MathV2.Host.dll"),
        WorkerDll = Path.Combine(root, "src", "Gpu.Worker", "bin", configuration, "net10.0", "MathV2.Gpu.Worker.dll"),
        ApiPort = EnvInt("MATHV2_PORT", 7071),
        GrpcPort = EnvInt("MATHV2_GRPC_PORT", EnvInt("MATHV2_PORT", 7071) + 1),
        AzuritePort = EnvInt("MATHV2_AZURITE_PORT", 10000),
        Workers = EnvInt("MATHV2_WORKERS", 1),
    };

    static int EnvInt(string name, int fallback) => Core.Settings.Environment.Int(name, fallback, 0, 65535);
}

/// <summary>The processes `up` started, by pid (pids.json).</summary>
public sealed record StackPids
{
    public int? Azurite { get; init; }
    public int? Host { get; init; }
    public List<int> Workers { get; init; } = [];

    public static StackPids Load(string path) =>
        File.Exists(path) ? JsonSerializer.Deserialize<StackPids>(File.ReadAllText(path), Core.Json.Options) ?? new() : new();

    public void Save(string path) => File.WriteAllText(path, Core.Json.Serialize(this, indented: true));
}
