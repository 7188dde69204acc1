using System.Security.Cryptography;
using System.Text.Json;
using MathV2.Core.Artifacts;
using MathV2.Core.Datasets;

namespace MathV2.Cli;

/// <summary>What `artifacts put` did.</summary>
public sealed record ArtifactUploaded(string Artifact, string Kind, string UploadId, int Files, long Bytes, IReadOnlyList<ArtifactFile> Manifest);

/// <summary>What `artifacts download` wrote.</summary>
public sealed record ArtifactDownloaded(string Artifact, string Dir, int Files, long Bytes);

/// <summary>
/// Uploads (files or folders as one artifact, checked here first with the server's own validators, sent in 16 MiB
/// chunks that resume after an interruption) and downloads (byte-exact, sha256-checked) over the HTTP API.
/// </summary>
public sealed class ArtifactTransfer(ApiClient api, TextWriter progress)
{
    /// <summary>Chunk size: a multiple of the server's 4 MiB blocks, under any host's request size limit.</summary>
    public const long ChunkBytes = 16L << 20;
    const int Retries = 5;

    /// <summary>A file path inside an artifact as URL path segments (each escaped, the slashes kept).</summary>
    public static string UrlPath(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));

    /// <summary>The files of PATH arguments: a file under its own name, a folder's files under their relative paths.</summary>
    public static Dictionary<string, string> Collect(IEnumerable<string> paths)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string p in paths)
        {
            if (File.Exists(p)) Add(Path.GetFileName(p), Path.GetFullPath(p));
            else if (Directory.Exists(p))
                foreach (string f in Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                {
                    // What this tool leaves beside files (rows set aside, downloads in progress) is not part of a folder's artifact.
                    if (f.EndsWith(".rejected", StringComparison.Ordinal) || f.EndsWith(".partial", StringComparison.Ordinal)) continue;
                    Add(Path.GetRelativePath(p, f).Replace('\\', '/'), Path.GetFullPath(f));
                }
            else throw new CliException($"{p}: no such file or folder");
        }
        if (files.Count == 0) throw new CliException("nothing to upload: the folders are empty");
        return files;

        void Add(string name, string full)
        {
            if (!files.TryAdd(name, full)) throw new CliException($"two files would be {name} in the artifact: {files[name]} and {full}");
        }
    }

    /// <summary>Checks locally with the server's validators: every problem at once, before a byte is sent.</summary>
    public static async Task CheckAsync(string kind, IReadOnlyDictionary<string, string> files, CancellationToken ct)
    {
        var problems = await UploadValidation.CheckAsync(kind, new LocalUploadFiles(files), ct);
        if (problems.Count > 0) throw new CliException($"not a valid {kind}; nothing was uploaded:\n{UploadValidation.Summarize(problems)}");
    }

    /// <summary>Starts an upload (or resumes one), sends every file not yet whole there, and commits it.</summary>
    public async Task<ArtifactUploaded> PutAsync(string kind, string? name, IReadOnlyDictionary<string, string> files, string? resume, CancellationToken ct)
    {
        UploadView view = resume is null
            ? await api.PostAsync<UploadView>("/api/artifacts/uploads", new { kind, name }, ct)
            : await api.GetAsync<UploadView>($"/api/artifacts/uploads/{Uri.EscapeDataString(resume)}", ct);
        string uploadId = view.Upload.UploadId;
        if (view.Upload.Kind != kind) throw new CliException($"upload {uploadId} is a {view.Upload.Kind}, not a {kind}");
        progress.WriteLine($"upload {uploadId} → artifact {view.Upload.ArtifactId} ({files.Count} file(s)); if interrupted, run the same command with --resume {uploadId}");
        long bytes = 0;
        foreach (var (path, local) in files)
        {
            long size = new FileInfo(local).Length;
            bytes += size;
            var there = view.Files.FirstOrDefault(f => f.Path == path);
            string localSha = await ShaAsync(local, ct);
            if (there is { Complete: true } && there.Received == size && there.Sha256 == localSha) { progress.WriteLine($"  {path}: already uploaded"); continue; }
            string sent = await SendFileAsync(uploadId, path, local, size, there is { Complete: false } && there.Received <= size ? there.Received : 0, ct);
            if (sent != localSha) throw new CliException($"{path}: the server stored sha256 {sent}, the file has {localSha}; send it again with --resume {uploadId}");
        }
        progress.WriteLine($"  checking and committing {view.Upload.ArtifactId}");
        var manifest = await api.PostLongAsync<Core.Artifacts.ArtifactManifest>($"/api/artifacts/uploads/{uploadId}/commit", ct);
        return new ArtifactUploaded(manifest.Id, kind, uploadId, manifest.Files.Count, bytes, manifest.Files);
    }

    /// <summary>Sends a file whole (small) or in chunks from <paramref name="from"/>; after a failure, asks where to resume. The server's sha256.</summary>
    async Task<string> SendFileAsync(string uploadId, string path, string local, long size, long from, CancellationToken ct)
    {
        string url = $"/api/artifacts/uploads/{uploadId}/files/{UrlPath(path)}";
        long lastChunk = size == 0 ? 0 : (size - 1) / ArtifactUploads.BlockBytes * ArtifactUploads.BlockBytes;
        // From where the server's bytes end (block-aligned), and never past the last chunk: that one completes the file.
        long Resume(long received) => Math.Min(received - received % ArtifactUploads.BlockBytes, lastChunk);
        long offset = from <= size ? Resume(from) : 0;
        int failures = 0;
        long? refused = null;
        while (true)
        {
            bool whole = size <= ChunkBytes && offset == 0;
            long length = whole ? size : Math.Min(ChunkBytes, size - offset);
            (int status, string text) result;
            await using (var fs = new FileStream(local, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true))
            {
                fs.Position = offset;
                await using var slice = new SliceStream(fs, length);
                result = await api.PutStreamAsync(url, slice, whole ? null : offset, length, size, ct);
            }
            var (status, text) = result;
            if (status is 200 or 201)
            {
                var state = JsonSerializer.Deserialize<UploadFileState>(text, Core.Json.Options)!;
                if (!whole && size > ChunkBytes) progress.WriteLine($"  {path}: {state.Received >> 20} of {size >> 20} MiB");
                if (state.Complete) { progress.WriteLine($"  {path}: {size} bytes"); return state.Sha256!; }
                offset = Resume(state.Received);
                failures = 0;
                continue;
            }
            if (status == 409 && Received(text) is { } at)
            {
                // The server holds other bytes than this chunk assumed: continue from there (once; twice is a loop).
                if (refused == at) throw new CliException($"{path}: the server keeps answering that {at} bytes arrived; abandon upload {uploadId} and start again");
                refused = at;
                offset = at > size ? 0 : Resume(at);
                continue;
            }
            if (status is 0 or >= 500 && ++failures <= Retries)
            {
                progress.WriteLine($"  {path}: {(status == 0 ? text : $"HTTP {status}")}; retrying ({failures}/{Retries})");
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(30, 1 << failures)), ct);
                var there = (await api.GetAsync<UploadView>($"/api/artifacts/uploads/{uploadId}", ct)).Files.FirstOrDefault(f => f.Path == path);
                // The last answer may be what was lost: a file already whole (or being hashed) is not sent again.
                if (there is { Complete: true } && there.Received == size) return there.Sha256!;
                if (there is { Complete: false } && there.Received == size && size > 0) { progress.WriteLine($"  {path}: whole; its sha256 is being computed"); continue; }
                offset = there is null || there.Received > size ? 0 : Resume(there.Received);
                continue;
            }
            throw new CliException($"{path}: {(status == 0 ? text : $"{status} {ApiClient.Describe(text)}")} (upload {uploadId}: --resume {uploadId} continues it)");
        }
    }

    static long? Received(string problem)
    {
        try { using var doc = JsonDocument.Parse(problem); return doc.RootElement.TryGetProperty("received", out var r) && r.TryGetInt64(out long v) ? v : null; }
        catch (JsonException) { return null; }
    }

    /// <summary>Writes every file of the artifact under <paramref name="dir"/>, each checked against the manifest's sha256 and size.</summary>
    public async Task<ArtifactDownloaded> DownloadAsync(string id, string dir, CancellationToken ct)
    {
        var manifest = await api.GetAsync<Core.Artifacts.ArtifactManifest>($"/api/artifacts/{Uri.EscapeDataString(id)}", ct);
        string root = Path.GetFullPath(dir);
        Directory.CreateDirectory(root);
        foreach (var f in manifest.Files)
        {
            string target = Path.GetFullPath(Path.Combine(root, f.Path));
            if (!target.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal)) throw new CliException($"artifact {id}: file path {f.Path} leaves the folder");
            await DownloadFileAsync(manifest, f, target, ct);
            progress.WriteLine($"  {f.Path}: {f.Size} bytes, sha256 ok");
        }
        return new ArtifactDownloaded(manifest.Id, root, manifest.Files.Count, manifest.Files.Sum(f => f.Size));
    }

    /// <summary>One file to <paramref name="target"/> (via a .partial file, renamed once its sha256 and size match).</summary>
    public async Task DownloadFileAsync(Core.Artifacts.ArtifactManifest manifest, ArtifactFile f, string target, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        string partial = target + ".partial";
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long size;
        await using (var fs = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true))
        await using (var hashing = new HashingWriteStream(fs, sha))
        {
            await api.DownloadAsync($"/api/artifacts/{Uri.EscapeDataString(manifest.Id)}/files/{UrlPath(f.Path)}", hashing, ct);
            size = hashing.Written;
        }
        string got = Convert.ToHexStringLower(sha.GetHashAndReset());
        if (got != f.Sha256 || size != f.Size)
        {
            File.Delete(partial);
            throw new CliException($"{f.Path}: received {size} bytes with sha256 {got}; the manifest says {f.Size} bytes, {f.Sha256}");
        }
        File.Move(partial, target, overwrite: true);
    }

    static async Task<string> ShaAsync(string path, CancellationToken ct)
    {
        await using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(fs, ct));
    }

    /// <summary>The next <c>length</c> bytes of a stream (a chunk of a file).</summary>
    sealed class SliceStream(Stream inner, long size) : Core.ReadOnlyStream
    {
        readonly long _size = size;
        long _left = size;
        public override long Length => _size;
        public override long Position { get => _size - _left; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = inner.Read(buffer, offset, (int)Math.Min(count, _left));
            _left -= n;
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            int n = await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _left)], ct);
            _left -= n;
            return n;
        }
    }

    /// <summary>A write-through stream that hashes and counts what is written.</summary>
    sealed class HashingWriteStream(Stream inner, IncrementalHash hash) : Stream
    {
        public long Written { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Written;
        public override long Position { get => Written; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken ct) => inner.FlushAsync(ct);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            hash.AppendData(buffer, offset, count);
            Written += count;
            inner.Write(buffer, offset, count);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
        {
            hash.AppendData(buffer.Span);
            Written += buffer.Length;
            await inner.WriteAsync(buffer, ct);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) => WriteAsync(buffer.AsMemory(offset, count), ct).AsTask();
    }
}
