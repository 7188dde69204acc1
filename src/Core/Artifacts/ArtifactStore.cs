using System.Security.Cryptography;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Blobs.Models;
using MathV2.Core.Storage;

namespace MathV2.Core.Artifacts;

/// <summary>One file of an artifact.</summary>
public sealed record ArtifactFile
{
    public required string Path { get; init; }
    public required string Sha256 { get; init; }
    public required long Size { get; init; }
}

/// <summary>Who made an artifact.</summary>
public sealed record ArtifactProducer
{
    public string? Lap { get; init; }
    public string? Phase { get; init; }
    public string? Instance { get; init; }
    public string? Job { get; init; }
    public int? Attempt { get; init; }
    public string? Worker { get; init; }
}

/// <summary>An immutable artifact: files under container/prefix, described by prefix/manifest.json (written last).</summary>
public sealed record ArtifactManifest
{
    public const int CurrentSchemaVersion = 1;
    public const string FileName = "manifest.json";

    public required string Id { get; init; }
    public required string Kind { get; init; }
    public int SchemaVersion { get; init; } = CurrentSchemaVersion;
    public required string Container { get; init; }
    public required string Prefix { get; init; }
    public required IReadOnlyList<ArtifactFile> Files { get; init; }
    public IReadOnlyList<string> Parents { get; init; } = [];
    public required ArtifactProducer Producer { get; init; }
    public required DateTimeOffset Created { get; init; }
}

/// <summary>Lineage of an artifact: every ancestor (through parents) and the direct children.</summary>
public sealed record ArtifactLineage
{
    public required string Id { get; init; }
    public required IReadOnlyList<ArtifactManifest> Ancestors { get; init; }
    public required IReadOnlyList<LineageEdge> Edges { get; init; }
    public required IReadOnlyList<string> Children { get; init; }
}

public sealed record LineageEdge(string Parent, string Child);

/// <summary>The artifact store: immutable artifacts in Blob Storage, an index (table artifacts) and lineage edges (table lineage).</summary>
public sealed class ArtifactStore(MathV2Storage storage)
{
    /// <summary>Starts writing a new artifact; nothing is visible until <see cref="ArtifactWriter.CommitAsync"/>.</summary>
    public ArtifactWriter Create(string id, string kind, string container, string prefix, ArtifactProducer producer, IReadOnlyList<string>? parents = null)
    {
        if (!Ids.IsValid(id)) throw new ArgumentException($"invalid artifact id '{id}'", nameof(id));
        return new ArtifactWriter(storage, id, kind, container, prefix.TrimEnd('/'), producer, parents ?? []);
    }

    public async Task<ArtifactManifest?> GetAsync(string id, CancellationToken ct = default)
    {
        if (!Ids.IsValid(id)) return null;
        var row = await storage.Table(StorageNames.ArtifactsTable).GetEntityIfExistsAsync<TableEntity>(id, "", cancellationToken: ct);
        if (!row.HasValue) return null;
        var blob = storage.Container(row.Value!.GetString("Container")).GetBlobClient($"{row.Value.GetString("Prefix")}/{ArtifactManifest.FileName}");
        var content = await blob.DownloadContentAsync(ct);
        return Json.Deserialize<ArtifactManifest>(content.Value.Content.ToString());
    }

    /// <summary>Reads a file of a committed artifact and checks its sha256 against the manifest.</summary>
    public async Task<byte[]> ReadFileAsync(ArtifactManifest m, string path, CancellationToken ct = default)
    {
        var file = m.Files.FirstOrDefault(f => f.Path == path) ?? throw new FileNotFoundException($"artifact {m.Id} has no file {path}");
        var content = await storage.Container(m.Container).GetBlobClient($"{m.Prefix}/{path}").DownloadContentAsync(ct);
        byte[] bytes = content.Value.Content.ToArray();
        string sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (sha != file.Sha256 || bytes.LongLength != file.Size)
            throw new InvalidDataException($"artifact {m.Id} file {path}: sha256 mismatch: the stored file ({bytes.LongLength} bytes) hashes to {sha}, which does not match the manifest's {file.Sha256} ({file.Size} bytes)");
        return bytes;
    }

    /// <summary>
    /// Copies a file of a committed artifact to a local file, streamed (files of several GiB), and checks its size and
    /// sha256 against the manifest; a mismatch deletes the copy and throws.
    /// </summary>
    public async Task DownloadFileAsync(ArtifactManifest m, string path, string localPath, CancellationToken ct = default)
    {
        var file = m.Files.FirstOrDefault(f => f.Path == path) ?? throw new FileNotFoundException($"artifact {m.Id} has no file {path}");
        string sha;
        long size;
        await using (var source = await OpenReadAsync(m, path, ct))
        await using (var target = File.Create(localPath))
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[4 << 20];
            for (int n; (n = await source.ReadAsync(buffer, ct)) > 0;)
            {
                hash.AppendData(buffer, 0, n);
                await target.WriteAsync(buffer.AsMemory(0, n), ct);
            }
            sha = Convert.ToHexStringLower(hash.GetHashAndReset());
            size = target.Length;
        }
        if (sha != file.Sha256 || size != file.Size)
        {
            File.Delete(localPath);
            throw new InvalidDataException($"artifact {m.Id} file {path}: sha256 mismatch: the stored file ({size} bytes) hashes to {sha}, which does not match the manifest's {file.Sha256} ({file.Size} bytes)");
        }
    }

    /// <summary>A file of a committed artifact as a seekable stream read from storage in ranges (no hash check: the reader checks).</summary>
    public async Task<Stream> OpenReadAsync(ArtifactManifest m, string path, CancellationToken ct = default)
    {
        if (!m.Files.Any(f => f.Path == path)) throw new FileNotFoundException($"artifact {m.Id} has no file {path}");
        return await storage.Container(m.Container).GetBlobClient($"{m.Prefix}/{path}").OpenReadAsync(new Azure.Storage.Blobs.Models.BlobOpenReadOptions(allowModifications: false), ct);
    }

    /// <summary>Whether a manifest exists under a prefix (used to show that a lost attempt left no result).</summary>
    public async Task<bool> HasManifestAsync(string container, string prefix, CancellationToken ct = default) =>
        (await storage.Container(container).GetBlobClient($"{prefix.TrimEnd('/')}/{ArtifactManifest.FileName}").ExistsAsync(ct)).Value;

    public async Task<ArtifactLineage?> GetLineageAsync(string id, int maxDepth = 64, CancellationToken ct = default)
    {
        var root = await GetAsync(id, ct);
        if (root == null) return null;
        var seen = new Dictionary<string, ArtifactManifest> { [id] = root };
        var edges = new List<LineageEdge>();
        var frontier = new List<ArtifactManifest> { root };
        for (int depth = 0; depth < maxDepth && frontier.Count > 0; depth++)
        {
            var next = new List<ArtifactManifest>();
            foreach (var m in frontier)
                foreach (string p in m.Parents)
                {
                    edges.Add(new LineageEdge(p, m.Id));
                    if (seen.ContainsKey(p)) continue;
                    var pm = await GetAsync(p, ct);
                    if (pm == null) continue;
                    seen[p] = pm;
                    next.Add(pm);
                }
            frontier = next;
        }
        var children = new List<string>();
        await foreach (var row in storage.Table(StorageNames.LineageTable).QueryAsync<TableEntity>(e => e.PartitionKey == id, cancellationToken: ct))
            children.Add(row.RowKey);
        return new ArtifactLineage
        {
            Id = id,
            Ancestors = seen.Values.Where(m => m.Id != id).OrderBy(m => m.Created).ToList(),
            Edges = edges,
            Children = children,
        };
    }
}

/// <summary>Writes the files of one artifact, hashing as it goes; the manifest is written last.</summary>
public sealed class ArtifactWriter
{
    readonly MathV2Storage _storage;
    readonly List<ArtifactFile> _files = [];
    readonly string _id, _kind, _container, _prefix;
    readonly ArtifactProducer _producer;
    readonly IReadOnlyList<string> _parents;

    internal ArtifactWriter(MathV2Storage storage, string id, string kind, string container, string prefix, ArtifactProducer producer, IReadOnlyList<string> parents)
    {
        (_storage, _id, _kind, _container, _prefix, _producer, _parents) = (storage, id, kind, container, prefix, producer, parents);
    }

    public string Prefix => _prefix;

    public async Task AddFileAsync(string path, byte[] content, CancellationToken ct = default)
    {
        CheckPath(path);
        await _storage.Container(_container).GetBlobClient($"{_prefix}/{path}").UploadAsync(BinaryData.FromBytes(content), overwrite: true, ct);
        _files.Add(new ArtifactFile { Path = path, Sha256 = Convert.ToHexStringLower(SHA256.HashData(content)), Size = content.LongLength });
    }

    /// <summary>Streams a file into the artifact, hashing it on the way (never whole in memory).</summary>
    public async Task AddStreamAsync(string path, Stream content, CancellationToken ct = default)
    {
        CheckPath(path);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var hashing = new HashingStream(content, sha);
        await _storage.Container(_container).GetBlobClient($"{_prefix}/{path}").UploadAsync(hashing, overwrite: true, ct);
        _files.Add(new ArtifactFile { Path = path, Sha256 = Convert.ToHexStringLower(sha.GetHashAndReset()), Size = hashing.BytesRead });
    }

    /// <summary>A file already stored under the artifact's prefix (an upload's), with its known hash and size.</summary>
    public void AddExisting(string path, string sha256, long size)
    {
        CheckPath(path);
        _files.Add(new ArtifactFile { Path = path, Sha256 = sha256, Size = size });
    }

    static void CheckPath(string path)
    {
        if (path == ArtifactManifest.FileName || path.Split('/').Any(s => s is "" or "." or "..")) throw new ArgumentException($"invalid artifact file path '{path}'");
    }

    public Task AddTextAsync(string path, string text, CancellationToken ct = default) =>
        AddFileAsync(path, System.Text.Encoding.UTF8.GetBytes(text), ct);

    /// <summary>Writes the manifest (the commit point; never overwritten), then the index row and lineage edges.</summary>
    public async Task<ArtifactManifest> CommitAsync(CancellationToken ct = default)
    {
        var manifest = new ArtifactManifest
        {
            Id = _id,
            Kind = _kind,
            Container = _container,
            Prefix = _prefix,
            Files = _files.ToList(),
            Parents = _parents,
            Producer = _producer,
            Created = DateTimeOffset.UtcNow,
        };
        await _storage.Container(_container).GetBlobClient($"{_prefix}/{ArtifactManifest.FileName}").UploadAsync(
            BinaryData.FromString(Json.Serialize(manifest, indented: true)),
            new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, ct);
        await _storage.Table(StorageNames.ArtifactsTable).UpsertEntityAsync(new TableEntity(_id, "")
        {
            ["Kind"] = _kind,
            ["Container"] = _container,
            ["Prefix"] = _prefix,
            ["Created"] = manifest.Created,
        }, TableUpdateMode.Replace, ct);
        foreach (string p in _parents)
            await _storage.Table(StorageNames.LineageTable).UpsertEntityAsync(new TableEntity(p, _id), TableUpdateMode.Replace, ct);
        return manifest;
    }
}

/// <summary>A read-only pass-through stream that hashes what is read from it.</summary>
public sealed class HashingStream(Stream inner, IncrementalHash hash) : ReadOnlyStream
{
    public long BytesRead { get; private set; }
    public override long Position { get => BytesRead; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count)
    {
        int n = inner.Read(buffer, offset, count);
        hash.AppendData(buffer, offset, n);
        BytesRead += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        int n = await inner.ReadAsync(buffer, ct);
        hash.AppendData(buffer.Span[..n]);
        BytesRead += n;
        return n;
    }
}
