using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using MathV2.Core.Artifacts;
using MathV2.Core.Models;

namespace MathV2.Core.Tests;

/// <summary>What makes an upload a checkpoint or a dataset, checked on folders written here by hand.</summary>
public sealed class UploadValidationTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("upload-validation-").FullName;
    static readonly LlamaConfig Config = new() { HiddenSize = 8, Layers = 1, Heads = 2, KvHeadsOrNull = 1, IntermediateSize = 16, VocabSize = 11, MaxPositions = 32 };

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A safetensors file of F32 zeros: a header for the tensors, then their bytes.</summary>
    public static byte[] SafeTensors(IEnumerable<(string Name, long[] Shape)> tensors)
    {
        var header = new Dictionary<string, object>();
        long offset = 0;
        foreach (var (name, shape) in tensors)
        {
            long bytes = shape.Aggregate(1L, (a, b) => a * b) * 4;
            header[name] = new { dtype = "F32", shape, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        byte[] json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        var file = new byte[8 + json.Length + offset];
        BinaryPrimitives.WriteInt64LittleEndian(file, json.Length);
        json.CopyTo(file, 8);
        return file;
    }

    Dictionary<string, string> Checkpoint(Func<IEnumerable<(string, long[])>, IEnumerable<(string, long[])>>? edit = null, LlamaConfig? config = null)
    {
        var tensors = LlamaTensors.Expected(config ?? Config).Select(kv => (kv.Key, kv.Value));
        File.WriteAllText(Path.Combine(_dir, "config.json"), (config ?? Config).ToJson());
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), "{\"model\": {\"type\": \"BPE\"}}");
        File.WriteAllBytes(Path.Combine(_dir, "model.safetensors"), SafeTensors(edit == null ? tensors : edit(tensors)));
        return Directory.GetFiles(_dir).ToDictionary(f => Path.GetFileName(f), f => f);
    }

    static Task<List<string>> Check(string kind, Dictionary<string, string> files) => UploadValidation.CheckAsync(kind, new LocalUploadFiles(files));

    [Fact]
    public async Task A_checkpoint_with_every_tensor_of_its_config_is_valid()
    {
        Assert.Empty(await Check(UploadValidation.Checkpoint, Checkpoint()));
        // Tied embeddings: no lm_head.
        Assert.Empty(await Check(UploadValidation.Checkpoint, Checkpoint(config: Config with { TieEmbeddings = true })));
    }

    [Fact]
    public async Task Each_checkpoint_problem_is_named_with_its_file_and_tensor()
    {
        var files = Checkpoint(ts => ts.Select(t => t.Item1 == "model.layers.0.self_attn.k_proj.weight" ? (t.Item1, new long[] { 8, 8 }) : t)
            .Where(t => t.Item1 != "model.norm.weight"));
        var problems = await Check(UploadValidation.Checkpoint, files);
        Assert.Contains("model.safetensors: tensor model.layers.0.self_attn.k_proj.weight: shape [8, 8], the config implies [4, 8]", problems);
        Assert.Contains("model.safetensors: tensor model.norm.weight missing (the config implies shape [8])", problems);
        Assert.Equal(2, problems.Count);

        File.Delete(files["config.json"]);
        files.Remove("config.json");
        Assert.Contains(await Check(UploadValidation.Checkpoint, files), p => p.StartsWith("config.json: missing", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_truncated_safetensors_file_and_a_bad_config_are_refused()
    {
        var files = Checkpoint();
        byte[] whole = File.ReadAllBytes(files["model.safetensors"]);
        File.WriteAllBytes(files["model.safetensors"], whole[..^10]);
        Assert.Contains(await Check(UploadValidation.Checkpoint, files), p => p.StartsWith("model.safetensors: tensor ", StringComparison.Ordinal) && p.EndsWith("(the file is truncated)", StringComparison.Ordinal));
        File.WriteAllBytes(files["model.safetensors"], whole[..5]);
        Assert.Contains("model.safetensors: shorter than a safetensors header (8 bytes)", await Check(UploadValidation.Checkpoint, files));

        File.WriteAllText(files["config.json"], "{\"hidden_size\": 9, \"num_attention_heads\": 2}");
        Assert.Contains(await Check(UploadValidation.Checkpoint, files), p => p.StartsWith("config.json: hidden_size must be a positive multiple", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sharded_weights_follow_their_index()
    {
        var tensors = LlamaTensors.Expected(Config).ToList();
        var first = tensors.Take(4).ToList();
        File.WriteAllText(Path.Combine(_dir, "config.json"), Config.ToJson());
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), "{\"model\": {}}");
        File.WriteAllBytes(Path.Combine(_dir, "model-00001-of-00002.safetensors"), SafeTensors(first.Select(kv => (kv.Key, kv.Value))));
        var map = tensors.ToDictionary(kv => kv.Key, kv => first.Any(f => f.Key == kv.Key) ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
        File.WriteAllText(Path.Combine(_dir, "model.safetensors.index.json"), JsonSerializer.Serialize(new { metadata = new { }, weight_map = map }));
        var files = Directory.GetFiles(_dir).ToDictionary(f => Path.GetFileName(f), f => f);
        var problems = await Check(UploadValidation.Checkpoint, files);
        Assert.Contains("model-00002-of-00002.safetensors: missing (named by model.safetensors.index.json)", problems);

        File.WriteAllBytes(Path.Combine(_dir, "model-00002-of-00002.safetensors"), SafeTensors(tensors.Skip(4).Select(kv => (kv.Key, kv.Value))));
        files = Directory.GetFiles(_dir).ToDictionary(f => Path.GetFileName(f), f => f);
        Assert.Empty(await Check(UploadValidation.Checkpoint, files));
    }

    [Fact]
    public async Task Dataset_rows_are_checked_line_by_line_and_files_by_name()
    {
        string good = Path.Combine(_dir, "graded-proofs.jsonl"), other = Path.Combine(_dir, "notes.txt");
        File.WriteAllText(good, "{\"problemId\": \"p1\", \"problem\": \"P\", \"proof\": \"Y\", \"score\": 1}\n{\"problemId\": \"p1\", \"problem\": \"P\", \"proof\": \"Y\", \"score\": 7}\nnot json\n");
        File.WriteAllText(other, "x");
        var problems = await Check(UploadValidation.Dataset, new() { ["graded-proofs.jsonl"] = good, ["notes.txt"] = other });
        Assert.Contains(problems, p => p.StartsWith("graded-proofs.jsonl:2: score", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("graded-proofs.jsonl:3: (row) is not valid JSON", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("notes.txt: not a dataset file", StringComparison.Ordinal));

        File.WriteAllText(good, "{\"problemId\": \"p1\", \"problem\": \"P\", \"proof\": \"Y\", \"score\": 0.5}\n");
        Assert.Empty(await Check(UploadValidation.Dataset, new() { ["graded-proofs.jsonl"] = good }));
    }
}
