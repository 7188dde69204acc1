using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using MathV2.Core.Storage;

namespace MathV2.Core.Artifacts;

/// <summary>An upload: files sent to Blob Storage under the artifact's prefix, invisible until committed.</summary>
public sealed record UploadSession
{
    public required string UploadId { get; init; }
    public required string ArtifactId { get; init; }
    public required string Kind { get; init; }
    public required string Container { get; init; }
    public required string Prefix { get; init; }
    /// <summary>open, committed or abandoned.</summary>
    public required string Status { get; init; }
    public required DateTimeOffset Created { get; init; }
}

/// <summary>One file of an upload: how many bytes have arrived (in order), and once whole its sha256.</summary>
public sealed record UploadFileState
{
    public required string Path { get; init; }
    public required long Received { get; init; }
    public bool Complete { get; init; }
    public string? Sha256 { get; init; }
}

public sealed record UploadView
{
    public required UploadSession Upload { get; init; }
    public required IReadOnlyList<UploadFileState> Files { get; init; }
}

/// <summary>A problem with an upload request, as an HTTP status and a message.</summary>
public sealed class UploadException(int status, string message, string? field = null, long? received = null) : Exception(message)
{
    public int Status { get; } = status;
    public string? Field { get; } = field;
    /// <summary>For a chunk at the wrong offset: the bytes of the file received so far (where to resume).</summary>
    public long? Received { get; } = received;
    public IReadOnlyList<string> Problems { get; init; } = [];
}

/// <summary>
/// Uploads of datasets and checkpoints (docs/protocol.md, "Uploads"). A file is streamed into 4 MiB blocks, whole or
/// in ordered chunks (Content-Range); a chunk after an interruption resumes where the file's received blocks end.
/// A whole file becomes a blob with its sha256 (hashed on the way when sent in one request); nothing is an
/// artifact until commit validates the files and writes the manifest. Abandoning deletes what was sent.
/// </summary>
public sealed class ArtifactUploads(MathV2Storage storage, ArtifactStore artifacts)
{
    public const int BlockBytes = 4 << 20;
    const string ShaKey = "sha256";
    const string UploadsPrefix = "uploads";

    TableClient Table => storage.Table(StorageNames.UploadsTable);

    public async Task<UploadSession> StartAsync(string kind, string? artifactId, CancellationToken ct = default)
    {
        if (!UploadValidation.Kinds.Contains(kind)) throw new UploadException(400, $"kind must be one of {string.Join(", ", UploadValidation.Kinds)}", "kind");
        string id = artifactId ?? $"upload-{kind}-{Guid.NewGuid():N}"[..(kind.Length + 20)];
        if (!Ids.IsValid(id)) throw new UploadException(400, $"'{id}' is not a valid artifact id (letters, digits, '-', '_', '.')", "name");
        if (await artifacts.GetAsync(id, ct) != null) throw new UploadException(409, $"artifact {id} already exists (artifacts are immutable)", "name");
        string uploadId = "up-" + Guid.NewGuid().ToString("N")[..16];
        var session = new UploadSession
        {
            UploadId = uploadId, ArtifactId = id, Kind = kind, Status = "open", Created = DateTimeOffset.UtcNow,
            Container = kind == UploadValidation.Checkpoint ? StorageNames.CheckpointsContainer : StorageNames.DatasetsContainer,
            Prefix = $"{UploadsPrefix}/{id}/{uploadId}",
        };
        await Table.AddEntityAsync(Entity(session), ct);
        return session;
    }

    public async Task<UploadSession?> GetAsync(string uploadId, CancellationToken ct = default)
    {
        if (!Ids.IsValid(uploadId)) return null;
        var row = await Table.GetEntityIfExistsAsync<TableEntity>(uploadId, "", cancellationToken: ct);
        if (!row.HasValue) return null;
        var e = row.Value!;
        return new UploadSession
        {
            UploadId = uploadId, ArtifactId = e.GetString("ArtifactId"), Kind = e.GetString("Kind"), Container = e.GetString("Container"),
            Prefix = e.GetString("Prefix"), Status = e.GetString("Status"), Created = e.GetDateTimeOffset("Created") ?? default,
        };
    }

    /// <summary>
    /// Receives a file or a chunk of it. Whole (<paramref name="start"/> null): the body is the file. A chunk: bytes
    /// start..end of a file of <paramref name="total"/> bytes, starting at a 4 MiB boundary no later than where the
    /// received bytes end (409 with that offset otherwise; an earlier chunk is simply sent again); the chunk that
    /// reaches the total completes the file. A chunk at 0 of a file already whole starts it over.
    /// </summary>
    public async Task<UploadFileState> PutFileAsync(UploadSession session, string path, Stream body, long? start, long? end, long? total, CancellationToken ct = default)
    {
        Open(session);
        CheckPath(path);
        var blob = storage.Container(session.Container).GetBlockBlobClient($"{session.Prefix}/{path}");
        if (start is null)
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long n = await StageAsync(blob, body, 0, null, sha, path, ct);
            string hash = Convert.ToHexStringLower(sha.GetHashAndReset());
            await StillOpenAsync(session, ct);
            await blob.CommitBlockListAsync(BlockIds(0, n), new CommitBlockListOptions { Metadata = new Dictionary<string, string> { [ShaKey] = hash } }, ct);
            return new UploadFileState { Path = path, Received = n, Complete = true, Sha256 = hash };
        }
        if (total is not { } size || end is not { } last || start < 0 || last < start || last >= size)
            throw new UploadException(400, "Content-Range must be 'bytes START-END/TOTAL' with START ≤ END < TOTAL", "Content-Range");
        if (await CompleteShaAsync(blob, ct) is { } done)
        {
            if (start > 0) throw new UploadException(409, $"{path} is already whole ({done.Size} bytes); a chunk at 0 starts it over", "path", received: done.Size);
            await blob.DeleteIfExistsAsync(cancellationToken: ct);
        }
        long received = await ReceivedAsync(blob, size, ct);
        if (start > received || start % BlockBytes != 0)
            throw new UploadException(409, $"{path}: {received} bytes received; send the chunk that starts there (chunks start at multiples of {BlockBytes} bytes)", "Content-Range", received);
        await StageAsync(blob, body, start.Value, last - start.Value + 1, null, path, ct);
        received = await ReceivedAsync(blob, size, ct);
        if (received < size) return new UploadFileState { Path = path, Received = received };
        // The last chunk: the blocks become the blob, then its sha256 is computed by reading it once. That read goes on
        // when the request is dropped (a large file's can outlast a front end's timeout); the file shows as whole once hashed.
        await StillOpenAsync(session, ct);
        await blob.CommitBlockListAsync(BlockIds(0, size), cancellationToken: ct);
        string fileSha;
        await using (var read = await blob.OpenReadAsync(new BlobOpenReadOptions(allowModifications: false), CancellationToken.None))
            fileSha = Convert.ToHexStringLower(await SHA256.HashDataAsync(read, CancellationToken.None));
        await blob.SetMetadataAsync(new Dictionary<string, string> { [ShaKey] = fileSha }, cancellationToken: CancellationToken.None);
        return new UploadFileState { Path = path, Received = size, Complete = true, Sha256 = fileSha };
    }

    /// <summary>A commit or abandon may have come in while this request was sending: then its file is not made.</summary>
    async Task StillOpenAsync(UploadSession session, CancellationToken ct)
    {
        if (await GetAsync(session.UploadId, ct) is { Status: not "open" } now) Open(now);
    }

    public async Task<UploadView> ViewAsync(UploadSession session, CancellationToken ct = default) =>
        new() { Upload = session, Files = await FilesAsync(session, ct) };

    /// <summary>Every file sent so far: whole ones with their sha256, partial ones with the bytes received.</summary>
    public async Task<List<UploadFileState>> FilesAsync(UploadSession session, CancellationToken ct = default)
    {
        var container = storage.Container(session.Container);
        var files = new List<UploadFileState>();
        await foreach (var item in container.GetBlobsAsync(new GetBlobsOptions { Traits = BlobTraits.Metadata, States = BlobStates.Uncommitted, Prefix = session.Prefix + "/" }, ct))
        {
            string path = item.Name[(session.Prefix.Length + 1)..];
            if (item.Metadata.TryGetValue(ShaKey, out string? sha))
                files.Add(new UploadFileState { Path = path, Received = item.Properties.ContentLength ?? 0, Complete = true, Sha256 = sha });
            else if (item.Properties.ContentLength is { } length && length > 0)
                files.Add(new UploadFileState { Path = path, Received = length });   // made whole, its sha256 still being computed
            else
                files.Add(new UploadFileState { Path = path, Received = await ReceivedAsync(container.GetBlockBlobClient(item.Name), long.MaxValue, ct) });
        }
        return files.OrderBy(f => f.Path, StringComparer.Ordinal).ToList();
    }

    /// <summary>Validates the whole files and writes the manifest (the artifact appears); 400 with every problem otherwise.</summary>
    public async Task<ArtifactManifest> CommitAsync(UploadSession session, CancellationToken ct = default)
    {
        Open(session);
        var files = await FilesAsync(session, ct);
        var partial = files.Where(f => !f.Complete).Select(f => $"{f.Path}: incomplete ({f.Received} bytes received)").ToList();
        if (partial.Count > 0) throw new UploadException(400, "the upload has incomplete files", "files") { Problems = partial };
        var container = storage.Container(session.Container);
        var source = new BlobUploadFiles(container, session.Prefix, files.ToDictionary(f => f.Path, f => f.Received));
        var problems = await UploadValidation.CheckAsync(session.Kind, source, ct);
        if (problems.Count > 0) throw new UploadException(400, $"the {session.Kind} is not valid; nothing was committed", "files") { Problems = problems };
        if (await artifacts.GetAsync(session.ArtifactId, ct) != null) throw new UploadException(409, $"artifact {session.ArtifactId} already exists", "name");
        // The name is claimed once: two uploads committing the same name at once cannot both win.
        try { await Table.AddEntityAsync(new TableEntity("name", session.ArtifactId) { ["UploadId"] = session.UploadId }, ct); }
        catch (RequestFailedException e) when (e.Status == 409)
        {
            var owner = await Table.GetEntityIfExistsAsync<TableEntity>("name", session.ArtifactId, cancellationToken: ct);
            if (owner.HasValue && owner.Value!.GetString("UploadId") != session.UploadId)
                throw new UploadException(409, $"artifact {session.ArtifactId} is being committed by upload {owner.Value.GetString("UploadId")}", "name");
        }
        var w = artifacts.Create(session.ArtifactId, session.Kind, session.Container, session.Prefix, new ArtifactProducer { Worker = "upload" });
        foreach (var f in files) w.AddExisting(f.Path, f.Sha256!, f.Received);
        ArtifactManifest manifest;
        try { manifest = await w.CommitAsync(ct); }
        catch (RequestFailedException e) when (e.Status is 409 or 412) { throw new UploadException(409, $"upload {session.UploadId} is already committed", "upload"); }
        await Table.UpdateEntityAsync(new TableEntity(session.UploadId, "") { ["Status"] = "committed" }, ETag.All, TableUpdateMode.Merge, ct);
        return manifest;
    }

    /// <summary>Deletes what was sent; the upload cannot be used again.</summary>
    public async Task AbandonAsync(UploadSession session, CancellationToken ct = default)
    {
        Open(session);
        var container = storage.Container(session.Container);
        await foreach (var item in container.GetBlobsAsync(new GetBlobsOptions { States = BlobStates.Uncommitted, Prefix = session.Prefix + "/" }, ct))
        {
            var blob = container.GetBlockBlobClient(item.Name);
            // A blob of uncommitted blocks only is committed empty first, so that it can be deleted now.
            if (!(await blob.ExistsAsync(ct)).Value) await blob.CommitBlockListAsync([], cancellationToken: ct);
            await blob.DeleteIfExistsAsync(cancellationToken: ct);
        }
        await Table.UpdateEntityAsync(new TableEntity(session.UploadId, "") { ["Status"] = "abandoned" }, ETag.All, TableUpdateMode.Merge, ct);
    }

    static void Open(UploadSession session)
    {
        if (session.Status != "open") throw new UploadException(409, $"upload {session.UploadId} is {session.Status}", "upload");
    }

    /// <summary>A relative path of plain segments (no '..', no manifest.json, no backslashes).</summary>
    public static void CheckPath(string path)
    {
        var segments = path.Split('/');
        if (path.Length is 0 or > 512 || path == ArtifactManifest.FileName || path.Contains('\\') ||
            segments.Any(s => s is "" or "." or ".." || s.Any(c => char.IsControl(c) || c is ':' or '*' or '?' or '"' or '<' or '>' or '|')))
            throw new UploadException(400, $"'{path}' is not a file path of an artifact (relative, plain segments, not {ArtifactManifest.FileName})", "path");
    }

    static string BlockId(long offset) => Convert.ToBase64String(Encoding.ASCII.GetBytes($"{offset:D16}"));

    static List<string> BlockIds(long from, long to)
    {
        var ids = new List<string>();
        for (long o = from; o < to; o += BlockBytes) ids.Add(BlockId(o));
        return ids;
    }

    /// <summary>
    /// Stages the stream as 4 MiB blocks named by their offsets, from <paramref name="offset"/> (block-aligned): all of
    /// it, or exactly <paramref name="length"/> bytes (a body of another length is refused).
    /// </summary>
    static async Task<long> StageAsync(BlockBlobClient blob, Stream body, long offset, long? length, IncrementalHash? sha, string path, CancellationToken ct)
    {
        if (offset % BlockBytes != 0) throw new UploadException(400, $"chunks must start at multiples of {BlockBytes} bytes", "Content-Range");
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(BlockBytes);
        try
        {
            long total = 0;
            while (true)
            {
                int want = length is { } l ? (int)Math.Min(BlockBytes, l - total) : BlockBytes;
                int n = 0;
                while (n < want && await body.ReadAsync(buffer.AsMemory(n, want - n), ct) is var r && r > 0) n += r;
                if (n == 0) break;
                sha?.AppendData(buffer, 0, n);
                using (var block = new MemoryStream(buffer, 0, n, writable: false))
                    await blob.StageBlockAsync(BlockId(offset + total), block, cancellationToken: ct);
                total += n;
                if (n < want || (length is { } max && total == max)) break;
            }
            if (length is { } expected)
            {
                if (total < expected) throw new UploadException(400, $"{path}: the body has {total} bytes, Content-Range announced {expected}", "Content-Range");
                if (await body.ReadAsync(buffer.AsMemory(0, 1), ct) > 0) throw new UploadException(400, $"{path}: the body is longer than the {expected} bytes Content-Range announced", "Content-Range");
            }
            return total;
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
    }

    /// <summary>
    /// The bytes received in order: the chain of staged blocks from offset 0, up to <paramref name="total"/> (stale
    /// blocks of a retried chunk, and any past the total, are ignored).
    /// </summary>
    static async Task<long> ReceivedAsync(BlockBlobClient blob, long total, CancellationToken ct)
    {
        BlockList list;
        try { list = (await blob.GetBlockListAsync(BlockListTypes.Uncommitted, cancellationToken: ct)).Value; }
        catch (RequestFailedException e) when (e.Status == 404) { return 0; }
        var sizes = new Dictionary<long, long>();
        foreach (var b in list.UncommittedBlocks)
            if (long.TryParse(Encoding.ASCII.GetString(Convert.FromBase64String(b.Name)), out long o)) sizes[o] = b.SizeLong;
        long received = 0;
        while (received < total && sizes.TryGetValue(received, out long size) && size > 0)
        {
            received += size;
            if (size < BlockBytes) break;
        }
        return Math.Min(received, total);
    }

    static async Task<(string Sha, long Size)?> CompleteShaAsync(BlockBlobClient blob, CancellationToken ct)
    {
        try
        {
            var p = (await blob.GetPropertiesAsync(cancellationToken: ct)).Value;
            return p.Metadata.TryGetValue(ShaKey, out string? sha) ? (sha, p.ContentLength) : null;
        }
        catch (RequestFailedException e) when (e.Status == 404) { return null; }
    }

    static TableEntity Entity(UploadSession s) => new(s.UploadId, "")
    {
        ["ArtifactId"] = s.ArtifactId, ["Kind"] = s.Kind, ["Container"] = s.Container, ["Prefix"] = s.Prefix, ["Status"] = s.Status, ["Created"] = s.Created,
    };

    /// <summary>The whole files of an upload as the validators read them (range reads; never whole in memory).</summary>
    sealed class BlobUploadFiles(BlobContainerClient container, string prefix, IReadOnlyDictionary<string, long> sizes) : IUploadFiles
    {
        public IReadOnlyDictionary<string, long> Sizes => sizes;

        public async Task<Stream> OpenAsync(string path, CancellationToken ct) =>
            await container.GetBlobClient($"{prefix}/{path}").OpenReadAsync(new BlobOpenReadOptions(allowModifications: false), ct);
    }
}
