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
        var state = await Uploads.PutFileAsync(s, "problems.jsonl", Body(Problems), null, null);
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
        var first = await Uploads.PutFileAsync(s, "model.safetensors", Body(bytes[..chunk]), 0, bytes.Length);
        Assert.Equal((chunk, false), (first.Received, first.Complete));
        // The client lost the answer and sends the same chunk again, then one past the end: told where to resume.
        var wrong = await Assert.ThrowsAsync<UploadException>(() => Uploads.PutFileAsync(s, "model.safetensors", Body(bytes[(2 * chunk)..]), 2 * chunk, bytes.Length));
        Assert.Equal((409, (long?)chunk), (wrong.Status, wrong.Received));
        // An interrupted second chunk leaves part of its bytes; the view shows what arrived, in order.
        var cut = new CutStream(bytes[chunk..(2 * chunk)], 1000);
        await Assert.ThrowsAsync<IOException>(() => Uploads.PutFileAsync(s, "model.safetensors", cut, chunk, bytes.Length));
        Assert.Equal(chunk, Assert.Single((await Uploads.ViewAsync(s)).Files).Received);
        await Uploads.PutFileAsync(s, "model.safetensors", Body(bytes[chunk..(2 * chunk)]), chunk, bytes.Length);
        var done = await Uploads.PutFileAsync(s, "model.safetensors", Body(bytes[(2 * chunk)..]), 2 * chunk, bytes.Length);
        Assert.True(done.Complete);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), done.Sha256);
        var stored = await azurite.Storage.Container(s.Container).GetBlobClient($"{s.Prefix}/model.safetensors").DownloadContentAsync();
        Assert.Equal(bytes, stored.Value.Content.ToArray());
    }

    [Fact]
    public async Task An_invalid_upload_is_refused_with_every_problem_and_can_be_fixed_or_abandoned()
    {
        string id = NewId("bad");
        var s = await Uploads.StartAsync(UploadValidation.Dataset, id);
        await Uploads.PutFileAsync(s, "problems.jsonl", Body(Problems + "{\"id\": \"p2\"}\n"), null, null);
        await Uploads.PutFileAsync(s, "extra.csv", Body("a,b"), null, null);
        var e = await Assert.ThrowsAsync<UploadException>(() => Uploads.CommitAsync(s));
        Assert.Equal(400, e.Status);
        Assert.Contains("problems.jsonl:2: problem is required", e.Problems);
        Assert.Contains(e.Problems, p => p.StartsWith("extra.csv: not a dataset file", StringComparison.Ordinal));
        Assert.Null(await Store.GetAsync(id));

        // The upload stays open: the file is sent again, fixed; the stray one is what abandoning removes.
        await Uploads.PutFileAsync(s, "problems.jsonl", Body(Problems), null, null);
        await Uploads.AbandonAsync(s);
        Assert.Empty(await Uploads.FilesAsync(s));
        Assert.Equal("abandoned", (await Uploads.GetAsync(s.UploadId))!.Status);
        Assert.Equal(409, (await Assert.ThrowsAsync<UploadException>(async () => await Uploads.PutFileAsync((await Uploads.GetAsync(s.UploadId))!, "problems.jsonl", Body(Problems), null, null))).Status);
        Assert.Null(await Store.GetAsync(id));
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
        var e = await Assert.ThrowsAsync<UploadException>(() => Uploads.PutFileAsync(s, path, Body("x"), null, null));
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
