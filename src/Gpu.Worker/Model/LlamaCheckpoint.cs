using MathV2.Core.Models;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;
using TorchSharp.PyBridge;

namespace MathV2.Gpu.Worker.Model;

/// <summary>
/// Hugging Face checkpoint layout: config.json plus model.safetensors, or shards with model.safetensors.index.json
/// (weight_map: parameter → shard file). Tokenizer files travel beside them.
/// </summary>
public static class LlamaCheckpoint
{
    public const string ConfigFile = CheckpointFiles.Config;
    public const string WeightsFile = CheckpointFiles.Weights;
    public const string IndexFile = CheckpointFiles.WeightsIndex;

    /// <summary>
    /// Writes config and weights; more than <paramref name="maxShardBytes"/> of weights are split into shards. The
    /// weights are written in the dtype config.json names (a bf16 family checkpoint stays bf16, half the size of the
    /// fp32 the worker trains in); the model itself is left as it is.
    /// </summary>
    public static IReadOnlyList<string> Save(LlamaForCausalLM model, string dir, long maxShardBytes = long.MaxValue)
    {
        var target = model.Config.WeightsDtype switch
        {
            "bfloat16" => ScalarType.BFloat16,
            "float16" => ScalarType.Float16,
            _ => (ScalarType?)null,
        };
        var current = model.parameters().First().dtype;
        if (target is { } t && t != current)
        {
            using var copy = new LlamaForCausalLM(model.Config);
            using (torch.no_grad()) copy.load_state_dict(model.state_dict());
            copy.to(t);
            return SaveAs(copy, dir, maxShardBytes);
        }
        return SaveAs(model, dir, maxShardBytes);
    }

    static IReadOnlyList<string> SaveAs(LlamaForCausalLM model, string dir, long maxShardBytes)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, ConfigFile), model.Config.ToJson());
        var tensors = model.state_dict().Select(kv => (Name: kv.Key, Bytes: kv.Value.NumberOfElements * kv.Value.ElementSize)).ToList();
        var shards = new List<List<string>> { new() };
        long current = 0;
        foreach (var (name, bytes) in tensors)
        {
            if (current > 0 && current + bytes > maxShardBytes) { shards.Add([]); current = 0; }
            shards[^1].Add(name);
            current += bytes;
        }
        if (shards.Count == 1)
        {
            model.save_safetensors(Path.Combine(dir, WeightsFile));
            return [ConfigFile, WeightsFile];
        }
        var files = new List<string> { ConfigFile, IndexFile };
        var weightMap = new JsonObject();
        var all = tensors.Select(t => t.Name).ToList();
        for (int i = 0; i < shards.Count; i++)
        {
            string file = $"model-{i + 1:00000}-of-{shards.Count:00000}.safetensors";
            model.save_safetensors(Path.Combine(dir, file), all.Except(shards[i]).ToList());
            foreach (string n in shards[i]) weightMap[n] = file;
            files.Add(file);
        }
        var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = tensors.Sum(t => t.Bytes) }, ["weight_map"] = weightMap };
        File.WriteAllText(Path.Combine(dir, IndexFile), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return files;
    }

    /// <summary>Builds the model from config.json and loads every parameter; a missing one is an error naming it.</summary>
    public static LlamaForCausalLM Load(string dir)
    {
        string configPath = Path.Combine(dir, ConfigFile);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"checkpoint {dir} has no {ConfigFile}");
        var model = new LlamaForCausalLM(LlamaConfig.Parse(File.ReadAllText(configPath)));
        var expected = model.state_dict().Keys.ToHashSet();
        var loaded = new Dictionary<string, bool>();
        string indexPath = Path.Combine(dir, IndexFile);
        IEnumerable<string> files = File.Exists(indexPath)
            ? JsonNode.Parse(File.ReadAllText(indexPath))!["weight_map"]!.AsObject().Select(kv => kv.Value!.GetValue<string>()).Distinct()
            : [WeightsFile];
        foreach (string f in files)
        {
            string path = Path.Combine(dir, f);
            if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint {dir}: weights file {f} is missing");
            var part = new Dictionary<string, bool>();
            model.load_safetensors(path, strict: false, loadedParameters: part);
            foreach (var (k, v) in part) if (v) loaded[k] = true;
        }
        var missing = expected.Where(k => !loaded.ContainsKey(k)).OrderBy(k => k).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"checkpoint {dir} lacks {missing.Count} parameter(s): {string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? ", …" : "")}");
        return model;
    }
}
