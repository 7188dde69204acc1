using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
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
    /// <summary>Where a malformed message of a queue is set aside (as the Functions host names its poison queues).</summary>
    public static string Poison(string queue) => queue + "-poison";
    public static readonly string[] Queues = [GpuJobsQueue, JobEventsQueue, Poison(GpuJobsQueue), Poison(JobEventsQueue)];
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
        Queues = new QueueServiceClient(connectionString, QueueOptions());
        Tables = new TableServiceClient(connectionString);
    }

    /// <summary>An account reached with an identity (a managed identity in Azure): no key, no connection string.</summary>
    public MathV2Storage(StorageEndpoints endpoints, TokenCredential credential)
    {
        Endpoints = endpoints;
        Credential = credential;
        Blobs = new BlobServiceClient(endpoints.Blob, credential);
        Queues = new QueueServiceClient(endpoints.Queue, credential, QueueOptions());
        Tables = new TableServiceClient(endpoints.Table, credential);
    }

    /// <summary>
    /// Base64 messages, as the Functions queue trigger reads them. A message that is not base64 (written raw by a tool)
    /// would make every receive throw: it is set aside in the queue's poison queue instead, as it came.
    /// </summary>
    QueueClientOptions QueueOptions()
    {
        var o = new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 };
        o.MessageDecodingFailed += async args =>
        {
            if (args.ReceivedMessage is not { } m || args.Queue.Name.EndsWith("-poison", StringComparison.Ordinal)) return;
            await Queue(StorageNames.Poison(args.Queue.Name)).SendMessageAsync(m.Body.ToString(), timeToLive: TimeSpan.FromSeconds(-1), cancellationToken: args.CancellationToken);
            await args.Queue.DeleteMessageAsync(m.MessageId, m.PopReceipt, args.CancellationToken);
        };
        return o;
    }

    /// <summary>The connection string, when the account is reached with one (Azurite; keys).</summary>
    public string? ConnectionString { get; }
    /// <summary>The service endpoints, when the account is reached with an identity.</summary>
    public StorageEndpoints? Endpoints { get; }
    /// <summary>The identity's credential, with <see cref="Endpoints"/>.</summary>
    public TokenCredential? Credential { get; }
    public BlobServiceClient Blobs { get; }
    public QueueServiceClient Queues { get; }
    public TableServiceClient Tables { get; }

    public QueueClient Queue(string name) => Queues.GetQueueClient(name);

    /// <summary>Sets a message that cannot be read aside in the queue's poison queue (kept for a look), then deletes it.</summary>
    public async Task SetAsideAsync(string queue, string messageId, string popReceipt, string body, CancellationToken ct = default)
    {
        await Queue(StorageNames.Poison(queue)).SendMessageAsync(body, timeToLive: TimeSpan.FromSeconds(-1), cancellationToken: ct);
        await Queue(queue).DeleteMessageAsync(messageId, popReceipt, ct);
    }
    public TableClient Table(string name) => Tables.GetTableClient(name);
    public BlobContainerClient Container(string name) => Blobs.GetBlobContainerClient(name);

    /// <summary>The storage settings of the environment, or the Azurite emulator when none is set (local runs: workers, tools).</summary>
    public static MathV2Storage FromEnvironment() => FromSettings(Settings.Environment, emulatorWhenUnset: true);

    /// <summary>
    /// The account from settings, as the Functions host reads a connection named MATHV2_STORAGE: a connection string
    /// in MATHV2_STORAGE (Azurite, keys), or an identity-based connection — MATHV2_STORAGE__accountName (endpoints in
    /// the public cloud) or MATHV2_STORAGE__blobServiceUri, __queueServiceUri and __tableServiceUri — reached with
    /// DefaultAzureCredential (the managed identity in Azure; MATHV2_STORAGE__clientId names a user-assigned one).
    /// Neither set: required, unless <paramref name="emulatorWhenUnset"/> (a deployed app never falls back to the
    /// emulator); a bad value stops the process with the setting named.
    /// </summary>
    public static MathV2Storage FromSettings(Settings settings, bool emulatorWhenUnset = false)
    {
        // Environment variables spell the sections with "__", configuration with ":".
        string? Part(string name) => settings.String($"MATHV2_STORAGE__{name}") ?? settings.String($"MATHV2_STORAGE:{name}");
        if (settings.String("MATHV2_STORAGE") is { } cs)
        {
            try { return new MathV2Storage(cs); }
            catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
            {
                throw new SettingsException($"MATHV2_STORAGE is not a storage connection string: {e.Message}");
            }
        }
        if (Part("accountName") is { } || Part("blobServiceUri") is { } || Part("queueServiceUri") is { } || Part("tableServiceUri") is { })
        {
            var endpoints = StorageEndpoints.From(Part("accountName"), Part("blobServiceUri"), Part("queueServiceUri"), Part("tableServiceUri"));
            var options = new DefaultAzureCredentialOptions();
            if (Part("clientId") is { } clientId) options.ManagedIdentityClientId = clientId;
            return new MathV2Storage(endpoints, new DefaultAzureCredential(options));
        }
        if (emulatorWhenUnset) return new MathV2Storage(DevelopmentConnectionString);
        throw new SettingsException("MATHV2_STORAGE is not set: the storage account's connection string (UseDevelopmentStorage=true for Azurite), " +
            "or MATHV2_STORAGE__accountName for a managed identity");
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

/// <summary>The blob, queue and table endpoints of an account reached with an identity.</summary>
public sealed record StorageEndpoints(Uri Blob, Uri Queue, Uri Table)
{
    /// <summary>
    /// From an account name (https://{name}.{service}.core.windows.net) and any service URIs given (they win); a
    /// service without either, an account name that is not 3-24 lowercase letters and digits, or a URI that is not
    /// absolute https (http only for a loopback emulator) is a settings error naming MATHV2_STORAGE__*.
    /// </summary>
    public static StorageEndpoints From(string? accountName, string? blob, string? queue, string? table)
    {
        if (accountName != null && (accountName.Length is < 3 or > 24 || !accountName.All(c => char.IsAsciiDigit(c) || char.IsAsciiLetterLower(c))))
            throw new SettingsException($"MATHV2_STORAGE__accountName='{accountName}' is not a storage account name (3-24 lowercase letters and digits)");
        Uri Service(string service, string? given)
        {
            string setting = $"MATHV2_STORAGE__{service}ServiceUri";
            if (given == null)
                return accountName != null ? new Uri($"https://{accountName}.{service}.core.windows.net")
                    : throw new SettingsException($"{setting} is not set, nor MATHV2_STORAGE__accountName: the {service} service's endpoint is unknown");
            if (!Uri.TryCreate(given, UriKind.Absolute, out var uri) || !(uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback))
                throw new SettingsException($"{setting}='{given}' is not an https URI");
            return uri;
        }
        return new StorageEndpoints(Service("blob", blob), Service("queue", queue), Service("table", table));
    }
}
