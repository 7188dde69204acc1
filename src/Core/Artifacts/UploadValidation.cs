using System.Text;
using System.Text.Json;
using MathV2.Core.Datasets;
using MathV2.Core.Models;

namespace MathV2.Core.Artifacts;

/// <summary>What a validator reads of an upload: its files' sizes and their bytes as streams (local files or blobs).</summary>
public interface IUploadFiles
{
    IReadOnlyDictionary<string, long> Sizes { get; }
    Task<Stream> OpenAsync(string path, CancellationToken ct);
}

/// <summary>The files of a folder on disk (the CLI checks before it uploads).</summary>
public sealed class LocalUploadFiles(IReadOnlyDictionary<string, string> pathsByName) : IUploadFiles
{
    public IReadOnlyDictionary<string, long> Sizes { get; } = pathsByName.ToDictionary(kv => kv.Key, kv => new FileInfo(kv.Value).Length);

    public Task<Stream> OpenAsync(string path, CancellationToken ct) => Task.FromResult<Stream>(File.OpenRead(pathsByName[path]));
}

/// <summary>The kinds of upload and what makes one valid before it is committed.</summary>
public static class UploadValidation
{
    public const string Checkpoint = "checkpoint", Dataset = "dataset";
    public static readonly string[] Kinds = [Checkpoint, Dataset];

    /// <summary>Dataset files by name: the schema each must follow.</summary>
    public static readonly IReadOnlyDictionary<string, DatasetKind> DatasetFiles = new Dictionary<string, DatasetKind>
    {
        ["problems.jsonl"] = DatasetKind.Problems,
        ["graded-proofs.jsonl"] = DatasetKind.GradedProofs,
        ["graded-analyses.jsonl"] = DatasetKind.GradedAnalyses,
        ["heldout-problems.jsonl"] = DatasetKind.Problems,
        ["heldout-graded-proofs.jsonl"] = DatasetKind.GradedProofs,
        ["heldout-graded-analyses.jsonl"] = DatasetKind.GradedAnalyses,
    };

    /// <summary>At most this many problems are listed (then a count of the rest).</summary>
    public const int MaxListed = 20;

    /// <summary>Every problem of the upload, each naming its file (and tensor, or line and field); empty when valid.</summary>
    public static Task<List<string>> CheckAsync(string kind, IUploadFiles files, CancellationToken ct = default) => kind switch
    {
        Checkpoint => CheckCheckpointAsync(files, ct),
        Dataset => CheckDatasetAsync(files, ct),
        _ => Task.FromResult(new List<string> { $"kind must be one of {string.Join(", ", Kinds)}" }),
    };

    /// <summary>
    /// A checkpoint: config.json the worker loads, tokenizer.json, model.safetensors or the shards its index names,
    /// each tensor the config implies present with its shape, and every tensor's bytes inside its file.
    /// </summary>
    public static async Task<List<string>> CheckCheckpointAsync(IUploadFiles files, CancellationToken ct = default)
    {
        var problems = new List<string>();
        foreach (string f in CheckpointFiles.Required.Where(f => !files.Sizes.ContainsKey(f))) problems.Add($"{f}: missing (a checkpoint has {string.Join(", ", CheckpointFiles.Required)} and weights)");
        LlamaConfig? config = null;
        if (files.Sizes.ContainsKey(CheckpointFiles.Config))
        {
            try { config = LlamaConfig.Parse(await ReadTextAsync(files, CheckpointFiles.Config, ct)); }
            catch (Exception e) when (e is JsonException or ArgumentException) { problems.Add($"{CheckpointFiles.Config}: {e.Message.Split(" Path:")[0].Replace("config.json: ", "")}"); }
        }
        if (files.Sizes.ContainsKey(CheckpointFiles.Tokenizer))
        {
            try
            {
                using var doc = JsonDocument.Parse(await ReadTextAsync(files, CheckpointFiles.Tokenizer, ct));
                // A Hugging Face tokenizer.json has a "model"; the demo's own tokenizers say their type.
                bool own = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() is "mathv2-char" or "mathv2-words";
                if (!own && (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("model", out _)))
                    problems.Add($"{CheckpointFiles.Tokenizer}: not a tokenizer.json (no \"model\")");
            }
            catch (JsonException e) { problems.Add($"{CheckpointFiles.Tokenizer}: not JSON ({e.Message.Split(" Path:")[0]})"); }
        }
        if (files.Sizes.ContainsKey("tokenizer_config.json"))
        {
            try { using var _ = JsonDocument.Parse(await ReadTextAsync(files, "tokenizer_config.json", ct)); }
            catch (JsonException e) { problems.Add($"tokenizer_config.json: not JSON ({e.Message.Split(" Path:")[0]})"); }
        }

        // The weight files: one model.safetensors, or the shards of the index.
        var weightFiles = new List<string>();
        Dictionary<string, string>? weightMap = null;
        if (files.Sizes.ContainsKey(CheckpointFiles.WeightsIndex))
        {
            try
            {
                using var doc = JsonDocument.Parse(await ReadTextAsync(files, CheckpointFiles.WeightsIndex, ct));
                weightMap = doc.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
                weightFiles.AddRange(weightMap.Values.Distinct().OrderBy(f => f, StringComparer.Ordinal));
                foreach (string shard in weightFiles.Where(f => !files.Sizes.ContainsKey(f))) problems.Add($"{shard}: missing (named by {CheckpointFiles.WeightsIndex})");
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                problems.Add($"{CheckpointFiles.WeightsIndex}: not a safetensors index (a \"weight_map\" of tensor → file)");
            }
        }
        else if (files.Sizes.ContainsKey(CheckpointFiles.Weights)) weightFiles.Add(CheckpointFiles.Weights);
        else problems.Add($"{CheckpointFiles.Weights}: missing (or shards with {CheckpointFiles.WeightsIndex})");

        var found = new Dictionary<string, (SafeTensorEntry Tensor, string File)>();
        foreach (string f in weightFiles.Where(files.Sizes.ContainsKey))
        {
            try
            {
                await using var s = await files.OpenAsync(f, ct);
                var header = await SafeTensorsHeader.ReadAsync(s, f, ct);
                problems.AddRange(header.Check(f, files.Sizes[f]));
                foreach (var t in header.Tensors)
                {
                    found[t.Name] = (t, f);
                    if (weightMap != null && weightMap.TryGetValue(t.Name, out string? mapped) && mapped != f)
                        problems.Add($"{f}: tensor {t.Name}: the index places it in {mapped}");
                }
            }
            catch (InvalidDataException e) { problems.Add(e.Message); }
        }
        if (config != null && weightFiles.Count > 0)
        {
            foreach (var (name, shape) in LlamaTensors.Expected(config))
            {
                if (!found.TryGetValue(name, out var t)) problems.Add($"{(weightFiles.Count == 1 ? weightFiles[0] : "weights")}: tensor {name} missing (the config implies shape [{string.Join(", ", shape)}])");
                else if (!t.Tensor.Shape.SequenceEqual(shape))
                    problems.Add($"{t.File}: tensor {name}: shape [{string.Join(", ", t.Tensor.Shape)}], the config implies [{string.Join(", ", shape)}]");
            }
        }
        return problems;
    }

    /// <summary>A dataset: each file one of <see cref="DatasetFiles"/>, every row of its schema (read line by line).</summary>
    public static async Task<List<string>> CheckDatasetAsync(IUploadFiles files, CancellationToken ct = default)
    {
        var problems = new List<string>();
        if (files.Sizes.Count == 0) problems.Add("(upload): no files");
        foreach (string f in files.Sizes.Keys.OrderBy(f => f, StringComparer.Ordinal))
        {
            if (!DatasetFiles.TryGetValue(f, out var kind))
            {
                problems.Add($"{f}: not a dataset file ({string.Join(", ", DatasetFiles.Keys)})");
                continue;
            }
            await using var s = await files.OpenAsync(f, ct);
            var result = await Jsonl.ValidateAsync(s, f, kind, ct);
            problems.AddRange(result.Errors.Select(e => e.ToString()));
            int listed = result.Errors.Select(e => e.Line).Distinct().Count();
            if (result.ErrorCount > listed) problems.Add($"{f}: {result.ErrorCount - listed} more bad rows");
            if (result.Rows == 0 && result.Errors.Count == 0) problems.Add($"{f}: no rows");
        }
        return problems;
    }

    /// <summary>The first <see cref="MaxListed"/> problems and a count of the rest.</summary>
    public static string Summarize(IReadOnlyList<string> problems) =>
        string.Join("\n", problems.Take(MaxListed)) + (problems.Count > MaxListed ? $"\n… {problems.Count - MaxListed} more" : "");

    static async Task<string> ReadTextAsync(IUploadFiles files, string path, CancellationToken ct)
    {
        if (files.Sizes[path] > 64 << 20) throw new JsonException($"larger than 64 MiB");
        await using var s = await files.OpenAsync(path, ct);
        using var r = new StreamReader(s, Encoding.UTF8);
        return await r.ReadToEndAsync(ct);
    }
}
