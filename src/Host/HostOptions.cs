namespace MathV2.Host;

/// <summary>Settings of the local host, from MATHV2_* environment variables.</summary>
public sealed record LocalHostOptions
{
    public required string StorageConnectionString { get; init; }
    public int ApiPort { get; init; } = 7071;
    public int GrpcPort { get; init; } = 7072;
    public required string Key { get; init; }
    public string TaskHub { get; init; } = "mathv2";
    /// <summary>Longest back-off of the Azure Storage provider's queue polling (30 s by default there).</summary>
    public TimeSpan MaxQueuePollingInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    public static LocalHostOptions FromEnvironment()
    {
        string? key = Environment.GetEnvironmentVariable("MATHV2_KEY");
        if (string.IsNullOrEmpty(key))
            throw new InvalidOperationException("MATHV2_KEY is not set: the local host needs an API key (./mathv2 up makes one).");
        return new LocalHostOptions
        {
            StorageConnectionString = Environment.GetEnvironmentVariable("MATHV2_STORAGE") is { Length: > 0 } s ? s : "UseDevelopmentStorage=true",
            ApiPort = int.TryParse(Environment.GetEnvironmentVariable("MATHV2_PORT"), out int p) ? p : 7071,
            GrpcPort = int.TryParse(Environment.GetEnvironmentVariable("MATHV2_GRPC_PORT"), out int g) ? g : 7072,
            Key = key,
            TaskHub = Environment.GetEnvironmentVariable("MATHV2_TASKHUB") is { Length: > 0 } h ? h : "mathv2",
        };
    }
}
