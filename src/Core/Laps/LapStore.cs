using System.Text;
using Azure;
using Azure.Storage.Blobs.Models;
using MathV2.Core.Artifacts;
using MathV2.Core.Demo;
using MathV2.Core.Storage;

namespace MathV2.Core.Laps;

/// <summary>Lap I/O shared by the activities and the API: blobs, annotation batches and labels, artifact text.</summary>
public static class LapStore
{

    public static DemoDatasetOptions DemoOptions(LapSpec spec) => spec.Demo.ToDatasetOptions() with { Prompts = spec.PromptSet };

    public static async Task<string> ReadTextAsync(MathV2Storage storage, string container, string path, CancellationToken ct = default) =>
        (await storage.Container(container).GetBlobClient(path).DownloadContentAsync(ct)).Value.Content.ToString();

    public static async Task<AnnotationBatch?> GetBatchAsync(MathV2Storage storage, string batchId, CancellationToken ct = default)
    {
        if (!Ids.IsValid(batchId)) return null;
        try { return Json.Deserialize<AnnotationBatch>(await ReadTextAsync(storage, StorageNames.AnnotationsContainer, $"{batchId}/{LapFiles.Batch}", ct)); }
        catch (RequestFailedException e) when (e.Status == 404) { return null; }
    }

    /// <summary>The batch's annotator token, or null when none was issued.</summary>
    public static async Task<AnnotationAccess?> GetAccessAsync(MathV2Storage storage, string batchId, CancellationToken ct = default)
    {
        if (!Ids.IsValid(batchId)) return null;
        try { return Json.Deserialize<AnnotationAccess>(await ReadTextAsync(storage, StorageNames.AnnotationsContainer, $"{batchId}/{LapFiles.Access}", ct)); }
        catch (RequestFailedException e) when (e.Status == 404) { return null; }
    }

    /// <summary>The batch's annotator token, issued now (expiring at the deadline) unless one was: one token per batch, whoever asks first.</summary>
    public static async Task<AnnotationAccess> IssueAccessAsync(MathV2Storage storage, string batchId, DateTime expiresAt, CancellationToken ct = default)
    {
        if (await GetAccessAsync(storage, batchId, ct) is { } existing) return existing;
        var access = AnnotationAccess.Issue(batchId, expiresAt);
        try
        {
            await storage.Container(StorageNames.AnnotationsContainer).GetBlobClient($"{batchId}/{LapFiles.Access}").UploadAsync(
                BinaryData.FromString(Json.Serialize(access)), new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, ct);
            return access;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412) { return (await GetAccessAsync(storage, batchId, ct))!; }
    }

    /// <summary>Stores labels once (If-None-Match): false when the batch was already labelled.</summary>
    public static async Task<bool> TryStoreLabelsAsync(MathV2Storage storage, AnnotationBatch batch, IEnumerable<AnnotationLabel> labels, CancellationToken ct = default)
    {
        try
        {
            await storage.Container(StorageNames.AnnotationsContainer).GetBlobClient(batch.LabelsPath).UploadAsync(
                BinaryData.FromString(AnnotationValidation.Write(labels)),
                new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, ct);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412) { return false; }
    }

    public static async Task<string> ReadArtifactTextAsync(ArtifactStore artifacts, string id, string file)
    {
        var m = await artifacts.GetAsync(id) ?? throw new InvalidOperationException($"artifact {id} does not exist");
        return Encoding.UTF8.GetString(await artifacts.ReadFileAsync(m, file));
    }

    /// <summary>completions.jsonl of sample job results, in order.</summary>
    public static async Task<List<SampleCompletion>> ReadCompletionsAsync(ArtifactStore artifacts, IEnumerable<string> ids)
    {
        var all = new List<SampleCompletion>();
        foreach (string id in ids) all.AddRange(SampleCompletion.Read(await ReadArtifactTextAsync(artifacts, id, LapFiles.Completions)));
        return all;
    }

    /// <summary>A replay after a commit that lost its reply finds the manifest already there: that is success.</summary>
    public static async Task CommitOnceAsync(ArtifactWriter w)
    {
        try { await w.CommitAsync(); }
        catch (RequestFailedException e) when (e.Status is 409 or 412) { }
    }
}
