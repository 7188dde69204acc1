using System.Security.Cryptography;
using System.Text;
using MathV2.Core.Artifacts;
using MathV2.Core.Storage;
using MathV2.Tests;

namespace MathV2.Core.Tests;

/// <summary>Uploads against Azurite: whole files hashed on the way, chunks that resume, nothing visible before a valid commit.</summary>
public sealed class ArtifactUploadTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    ArtifactStore Store => new(azurite.Storage);
    ArtifactUploads Uploads => new(azurite.Storage, Store);
    static string NewId(string p) => $"{p}-{Guid.NewGuid():N}"[..24];
    static MemoryStream Body(byte[] b) => new(b);
    static MemoryStream Body(string s) => new(Encoding.UTF8.GetBytes(s));
    const string Problems = "{\"id\": \"p1\", \"problem\": \"Prove 1 = 1.\"}\n";

    [Fact]
    public async Task A_dataset_sent_whole_is_an_artifact_only_once_committed()
    {
        string id = NewId("ds");
        var s = await Uploads.StartAsync(UploadValidation.Dataset, id);
        var state = await Uploads.PutFileAsync(s, "problems.jsonl", Body(Problems), null, null, null);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Problems))), state.Sha256);
        Assert.Null(await Store.GetAsync(id));
        var m = await Uploads.CommitAsync(s);
        Assert.Equal(("upload", "dataset", state.Sha256), (m.Producer.Worker, m.Kind, Assert.Single(m.Files).Sha256));
        Assert.Equal(Problems, Encoding.UTF8.GetString(await Store.ReadFileAsync((await Store.GetAsync(id))!, "problems.jsonl")));
        var committed = (await Uploads.GetAsync(s.UploadId))!;
        var again = await Assert.ThrowsAsync<UploadException>(() => Uploads.CommitAsync(committed));
        Assert.Equal(409, again.Status);
        Assert.Equal(409, (await Assert.ThrowsAsync<UploadException>(() => Uploads.StartAsync(UploadValidation.Dataset, id))).Status);
    }

    [Fact]
    public async Task A_large_file_in_chunks_resumes_after_an_interruption_and_keeps_its_hash()
    {
        var bytes = new byte[9 << 20];
        new Random(7).NextBytes(bytes);
        int chunk = ArtifactUploads.BlockBytes;
        var s = await Uploads.StartAsync(UploadValidation.Checkpoint, NewId("ck"));
        long total = bytes.Length;
        Task<UploadFileState> Chunk(int from, int to, Stream? body = null) => Uploads.PutFileAsync(s, "model.safetensors", body ?? Body(bytes[from..to]), from, to - 1, total);
        var first = await Chunk(0, chunk);
        Assert.Equal((chunk, false), (first.Received, first.Complete));
        // The client lost the answer and sends the same chunk again: accepted. One past what arrived: told where to resume.
        Assert.Equal(chunk, (await Chunk(0, chunk)).Received);
        var wrong = await Assert.ThrowsAsync<UploadException>(() => Chunk(2 * chunk, bytes.Length));
        Assert.Equal((409, (long?)chunk), (wrong.Status, wrong.Received));
        // An interrupted second chunk leaves none of its bytes; the view shows what arrived, in order.
        await Assert.ThrowsAsync<IOException>(() => Chunk(chunk, 2 * chunk, new CutStream(bytes[chunk..(2 * chunk)], 1000)));
        Assert.Equal(chunk, Assert.Single((await Uploads.ViewAsync(s)).Files).Received);
        // A body longer than its Content-Range is refused.
        Assert.Equal(400, (await Assert.ThrowsAsync<UploadException>(() => Uploads.PutFileAsync(s, "model.safetensors", Body(bytes[chunk..(2 * chunk + 10)]), chunk, 2 * chunk - 1, total))).Status);
        await Chunk(chunk, 2 * chunk);
        var done = await Chunk(2 * chunk, bytes.Length);
        Assert.True(done.Complete);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), done.Sha256);
        Assert.Equal(409, (await Assert.ThrowsAsync<UploadException>(() => Chunk(chunk, 2 * chunk))).Status);
        var stored = await azurite.Storage.Container(s.Container).GetBlobClient($"{s.Prefix}/model.safetensors").DownloadContentAsync();
        Assert.Equal(bytes, stored.Value.Content.ToArray());

        // A chunk at 0 of a whole file starts it over (a file changed on disk is sent again).
        var restarted = await Chunk(0, chunk);
        Assert.Equal((chunk, false), (restarted.Received, restarted.Complete));
    }

    [Fact]
    public async Task An_invalid_upload_is_refused_with_every_problem_and_can_be_fixed_or_abandoned()
    {
        string id = NewId("bad");
        var s = await Uploads.StartAsync(UploadValidation.Dataset, id);
        await Uploads.PutFileAsync(s, "problems.jsonl", Body(Problems + "{\"id\": \"p2\"}\n"), null, null, null);
        await Uploads.PutFileAsync(s, "extra.csv", Body("a,b"), null, null, null);
        var e = await Assert.ThrowsAsync<UploadException>(() => Uploads.CommitAsync(s));
        Assert.Equal(400, e.Status);
        Assert.Contains("problems.jsonl:2: problem is required", e.Problems);
        Assert.Contains(e.Problems, p => p.StartsWith("extra.csv: not a dataset file", StringComparison.Ordinal));
        Assert.Null(await Store.GetAsync(id));

        // The upload stays open: the file is sent again, fixed; the stray one is what abandoning removes.
        await Uploads.PutFileAsync(s, "problems.jsonl", Body(Problems), null, null, null);
        await Uploads.AbandonAsync(s);
        Assert.Empty(await Uploads.FilesAsync(s));
        Assert.Equal("abandoned", (await Uploads.GetAsync(s.UploadId))!.Status);
        Assert.Equal(409, (await Assert.ThrowsAsync<UploadException>(async () => await Uploads.PutFileAsync((await Uploads.GetAsync(s.UploadId))!, "problems.jsonl", Body(Problems), null, null, null))).Status);
        Assert.Null(await Store.GetAsync(id));
    }

    [Fact]
    public async Task Names_with_dots_inside_a_segment_are_files_like_any_other()
    {
        string id = NewId("dots");
        var s = await Uploads.StartAsync(UploadValidation.Dataset, id);
        await Uploads.PutFileAsync(s, "problems.jsonl", Body(Problems), null, null, null);
        var m = await Uploads.CommitAsync(s);
        Assert.Single(m.Files);
        var c = await Uploads.StartAsync(UploadValidation.Checkpoint, null);
        Assert.True((await Uploads.PutFileAsync(c, "notes..v2.txt", Body("x"), null, null, null)).Complete);
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a//b")]
    [InlineData("manifest.json")]
    [InlineData("a\\b")]
    [InlineData("")]
    public async Task Paths_outside_the_artifact_are_refused(string path)
    {
        var s = await Uploads.StartAsync(UploadValidation.Dataset, null);
        Assert.StartsWith("upload-dataset-", s.ArtifactId);
        var e = await Assert.ThrowsAsync<UploadException>(() => Uploads.PutFileAsync(s, path, Body("x"), null, null, null));
        Assert.Equal((400, "path"), (e.Status, e.Field));
    }

    /// <summary>A body that fails after some bytes, as a dropped connection does.</summary>
    sealed class CutStream(byte[] data, int failAfter) : MemoryStream(data)
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            if (Position >= failAfter) throw new IOException("connection reset");
            return await base.ReadAsync(buffer[..Math.Min(buffer.Length, failAfter - (int)Position)], ct);
        }
    }
}
