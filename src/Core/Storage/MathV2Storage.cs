using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;

namespace MathV2.Core.Storage;

/// <summary>Names of the queues, tables and containers MathV2 uses (docs/protocol.md).</summary>
public static class StorageNames
{
    public const string JobsTable = "jobs";
    public const string ArtifactsTable = "artifacts";
    public const string LineageTable = "lineage";
    public const string WorkersTable = "workers";
    public const string UploadsTable = "uploads";
    public const string GpuJobsQueue = "gpu-jobs";
    public const string JobEventsQueue = "job-events";
    public const string JobsContainer = "jobs";
    public const string DatasetsContainer = "datasets";
    public const string CheckpointsContainer = "checkpoints";
    public const string LapsContainer = "laps";
    public const string AnnotationsContainer = "annotations";

    public static readonly string[] Containers = [JobsContainer, DatasetsContainer, CheckpointsContainer, LapsContainer, AnnotationsContainer];
    public static readonly string[] Tables = [JobsTable, ArtifactsTable, LineageTable, WorkersTable, UploadsTable];
    public static readonly string[] Queues = [GpuJobsQueue, JobEventsQueue];
}

/// <summary>The storage account (Azurite locally): one set of clients for blobs, queues and tables.</summary>
public sealed class MathV2Storage
{
    /// <summary>Azurite on its default ports.</summary>
    public const string DevelopmentConnectionString = "UseDevelopmentStorage=true";

    public MathV2Storage(string connectionString)
    {
        ConnectionString = connectionString;
        Blobs = new BlobServiceClient(connectionString);
        // Base64 so that the Functions queue trigger (base64 by default) reads what we write.
        Queues = new QueueServiceClient(connectionString, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });
        Tables = new TableServiceClient(connectionString);
    }

    public string ConnectionString { get; }
    public BlobServiceClient Blobs { get; }
    public QueueServiceClient Queues { get; }
    public TableServiceClient Tables { get; }

    public QueueClient Queue(string name) => Queues.GetQueueClient(name);
    public TableClient Table(string name) => Tables.GetTableClient(name);
    public BlobContainerClient Container(string name) => Blobs.GetBlobContainerClient(name);

    /// <summary>Reads MATHV2_STORAGE, defaulting to Azurite.</summary>
    /// <summary>MATHV2_STORAGE, or the Azurite emulator when it is unset (local runs: workers, tools).</summary>
    public static MathV2Storage FromEnvironment() =>
        new(Environment.GetEnvironmentVariable("MATHV2_STORAGE") is { Length: > 0 } cs ? cs : DevelopmentConnectionString);

    /// <summary>
    /// The MATHV2_STORAGE setting, required (a deployed app never falls back to the emulator): missing or not a
    /// connection string stops the app with the setting named.
    /// </summary>
    public static MathV2Storage FromSettings(Settings settings)
    {
        string cs = settings.String("MATHV2_STORAGE")
            ?? throw new SettingsException("MATHV2_STORAGE is not set: the storage account's connection string (UseDevelopmentStorage=true for Azurite)");
        try { return new MathV2Storage(cs); }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
            throw new SettingsException($"MATHV2_STORAGE is not a storage connection string: {e.Message}");
        }
    }

    /// <summary>Creates every queue, table and container if missing (idempotent).</summary>
    public async Task EnsureCreatedAsync(CancellationToken ct = default)
    {
        foreach (string c in StorageNames.Containers)
            await Container(c).CreateIfNotExistsAsync(cancellationToken: ct);
        foreach (string t in StorageNames.Tables)
            await Table(t).CreateIfNotExistsAsync(ct);
        foreach (string q in StorageNames.Queues)
            await Queue(q).CreateIfNotExistsAsync(cancellationToken: ct);
    }
}
