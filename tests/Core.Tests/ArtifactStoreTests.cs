using System.Security.Cryptography;
using System.Text;
using Azure;
using MathV2.Core.Artifacts;
using MathV2.Core.Storage;
using MathV2.Tests;

namespace MathV2.Core.Tests;

public sealed class ArtifactStoreTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    ArtifactStore Store => new(azurite.Storage);
    static string NewId(string p) => $"{p}-{Guid.NewGuid():N}"[..20];

    async Task<ArtifactManifest> Make(string id, IReadOnlyList<string>? parents = null, string content = "hello")
    {
        var w = Store.Create(id, "dataset", StorageNames.DatasetsContainer, $"test/{id}", new ArtifactProducer { Job = "j1", Attempt = 1 }, parents);
        await w.AddTextAsync("data.jsonl", content);
        return await w.CommitAsync();
    }

    [Fact]
    public async Task Manifest_records_sha256_and_size_of_each_file_and_reads_verify_them()
    {
        string id = NewId("a");
        var m = await Make(id, content: "line one\nline two\n");
        var file = Assert.Single(m.Files);
        byte[] expected = Encoding.UTF8.GetBytes("line one\nline two\n");
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(expected)), file.Sha256);
        Assert.Equal(expected.Length, file.Size);
        Assert.Equal(expected, await Store.ReadFileAsync((await Store.GetAsync(id))!, "data.jsonl"));

        // Downloads to a file stream the bytes and check them the same way.
        string local = Path.Combine(Path.GetTempPath(), $"mathv2-dl-{Guid.NewGuid():N}");
        await Store.DownloadFileAsync(m, "data.jsonl", local);
        Assert.Equal(expected, await File.ReadAllBytesAsync(local));
        File.Delete(local);

        await azurite.Storage.Container(StorageNames.DatasetsContainer).GetBlobClient($"test/{id}/data.jsonl")
            .UploadAsync(BinaryData.FromString("tampered"), overwrite: true);
        await Assert.ThrowsAsync<InvalidDataException>(() => Store.ReadFileAsync(m, "data.jsonl"));
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => Store.DownloadFileAsync(m, "data.jsonl", local));
        Assert.Contains("sha256 mismatch", e.Message);
        Assert.Contains("does not match the manifest", e.Message);
        Assert.False(File.Exists(local));
    }

    [Fact]
    public async Task Artifacts_are_immutable_and_invisible_until_committed()
    {
        string id = NewId("b");
        var w = Store.Create(id, "dataset", StorageNames.DatasetsContainer, $"test/{id}", new ArtifactProducer());
        await w.AddTextAsync("x.txt", "x");
        Assert.Null(await Store.GetAsync(id));
        Assert.False(await Store.HasManifestAsync(StorageNames.DatasetsContainer, $"test/{id}"));
        await w.CommitAsync();
        Assert.NotNull(await Store.GetAsync(id));
        var again = Store.Create(id, "dataset", StorageNames.DatasetsContainer, $"test/{id}", new ArtifactProducer());
        var e = await Assert.ThrowsAsync<RequestFailedException>(() => again.CommitAsync());
        Assert.Equal(409, e.Status);
    }

    [Fact]
    public async Task Lineage_walks_all_ancestors_and_lists_children()
    {
        string root = NewId("r"), mid = NewId("m"), leaf = NewId("l"), other = NewId("o");
        await Make(root);
        await Make(other);
        await Make(mid, [root]);
        await Make(leaf, [mid, other]);

        var lineage = (await Store.GetLineageAsync(leaf))!;
        Assert.Equal(new[] { root, mid, other }.OrderBy(x => x), lineage.Ancestors.Select(a => a.Id).OrderBy(x => x));
        Assert.Contains(new LineageEdge(root, mid), lineage.Edges);
        Assert.Contains(new LineageEdge(mid, leaf), lineage.Edges);
        Assert.Equal([mid], (await Store.GetLineageAsync(root))!.Children);
        Assert.Null(await Store.GetLineageAsync(NewId("missing")));
    }
}
