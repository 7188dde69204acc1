using MathV2.Core;
using MathV2.Core.Storage;

namespace MathV2.Host;

/// <summary>Settings of the local host, from MATHV2_* environment variables.</summary>
public sealed record LocalHostOptions
{
    /// <summary>MATHV2_STORAGE (a connection string) or MATHV2_STORAGE__accountName (an identity); Azurite when neither is set and the host listens on loopback only.</summary>
    public required MathV2Storage Storage { get; init; }
    public int ApiPort { get; init; } = 7071;
    public int GrpcPort { get; init; } = 7072;
    public required string Key { get; init; }
    /// <summary>MATHV2_KEY_NEXT: a second key valid at the same time, while clients move to it (then it becomes MATHV2_KEY).</summary>
    public string? NextKey { get; init; }
    public IReadOnlyList<string> Keys => NextKey is { } next ? [Key, next] : [Key];
    public string TaskHub { get; init; } = "mathv2";
    /// <summary>MATHV2_BIND: the addresses the API and gRPC ports listen on (loopback by default; any in a container).</summary>
    public HostBind Bind { get; init; } = HostBind.Loopback;
    /// <summary>Longest back-off of the Azure Storage provider's queue polling (30 s by default there).</summary>
    public TimeSpan MaxQueuePollingInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    public static LocalHostOptions FromEnvironment(Settings? settings = null)
    {
        var env = settings ?? Settings.Environment;
        string key = env.String("MATHV2_KEY")
            ?? throw new SettingsException("MATHV2_KEY is not set: the local host needs an API key (./mathv2 up makes one).");
        int api = env.Int("MATHV2_PORT", 7071, 1, 65535);
        string hub = env.TaskHub("mathv2");
        return new LocalHostOptions
        {
            // Listening beyond loopback (a container), the host needs its account named: no fallback to the emulator.
            Storage = MathV2Storage.FromSettings(env, emulatorWhenUnset: env.Enum("MATHV2_BIND", HostBind.Loopback) == HostBind.Loopback),
            ApiPort = api,
            GrpcPort = env.Int("MATHV2_GRPC_PORT", 7072, 1, 65535),
            Key = key,
            NextKey = env.String("MATHV2_KEY_NEXT"),
            TaskHub = hub,
            Bind = env.Enum("MATHV2_BIND", HostBind.Loopback),
        };
    }
}

public enum HostBind { Loopback, Any }
