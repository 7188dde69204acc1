using MathV2.Core.Models;
using MathV2.Gpu.Worker.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Tests;

public sealed class LlamaModelTests
{
    static readonly LlamaConfig Tiny = new() { HiddenSize = 32, Layers = 2, Heads = 4, KvHeadsOrNull = 2, IntermediateSize = 48, VocabSize = 40, MaxPositions = 64 };

    static LlamaForCausalLM Make(LlamaConfig c, int seed = 1)
    {
        torch.manual_seed(seed);
        var m = new LlamaForCausalLM(c);
        // Non-trivial norm weights so the parity test checks them too.
        using (torch.no_grad())
            foreach (var (name, p) in m.named_parameters())
                if (name.EndsWith("norm.weight")) p.copy_(torch.rand(p.shape) + 0.5);
        m.eval();
        return m;
    }

    static Dictionary<string, float[]> Weights(nn.Module m) =>
        m.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.contiguous().data<float>().ToArray());

    [Fact]
    public void Parameter_names_follow_the_hugging_face_llama_layout()
    {
        var names = Make(Tiny).state_dict().Keys.ToHashSet();
        foreach (string n in new[] { "model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight",
                     "model.layers.0.mlp.gate_proj.weight", "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
                     "model.norm.weight", "lm_head.weight" })
            Assert.Contains(n, names);
        Assert.DoesNotContain("lm_head.weight", Make(Tiny with { TieEmbeddings = true }).state_dict().Keys);
    }

    [Fact]
    public void A_model_readies_the_cpu_math_library_on_one_thread_before_its_first_kernel()
    {
        // Its first call from two threads at once gave one thread's share of a sin() table far less accurate (TorchMath).
        using var m = Make(Tiny);
        Assert.True(TorchMath.IsReady);
        using var x = torch.arange(0, 8192, dtype: ScalarType.Float32) * 0.37f;
        var sin = x.sin().data<float>().ToArray();
        // Every element as accurate as a one-element call (the far less accurate share was off by ~1e-4 relative).
        var xs = x.data<float>().ToArray();
        Assert.All(Enumerable.Range(0, xs.Length).Where(i => i % 97 == 0), i => Assert.Equal(torch.tensor(xs[i]).sin().item<float>(), sin[i]));
    }

    [Theory]
    [InlineData(false, 2)]
    [InlineData(true, 4)]
    public void The_forward_pass_matches_the_plain_reference_to_1e4(bool tie, int kvHeads)
    {
        var c = Tiny with { TieEmbeddings = tie, KvHeadsOrNull = kvHeads };
        using var model = Make(c);
        int[] tokens = [3, 17, 5, 39, 0, 22, 8, 8, 11];
        using var ids = torch.tensor(tokens.Select(t => (long)t).ToArray()).unsqueeze(0);
        using var _ = torch.no_grad();
        using var logits = model.Forward(ids);
        var reference = new ReferenceLlama(c, Weights(model)).Forward(tokens);
        var actual = logits[0].data<float>().ToArray();
        double maxDiff = 0;
        for (int t = 0; t < tokens.Length; t++)
            for (int v = 0; v < c.VocabSize; v++)
                maxDiff = Math.Max(maxDiff, Math.Abs(actual[t * c.VocabSize + v] - reference[t][v]));
        Assert.True(maxDiff < 1e-4, $"max |diff| = {maxDiff}");
    }

    [Fact]
    public void Greedy_decoding_with_the_kv_cache_yields_exactly_the_tokens_without_it()
    {
        using var model = Make(Tiny, seed: 5);
        using var _ = torch.no_grad();
        var prompt = new long[] { 1, 2, 3, 4 };

        var noCache = prompt.ToList();
        for (int i = 0; i < 20; i++)
        {
            using var logits = model.Forward(torch.tensor(noCache.ToArray()).unsqueeze(0));
            noCache.Add(logits[0, -1].argmax().item<long>());
        }

        var withCache = prompt.ToList();
        using var cache = new KvCache(Tiny.Layers);
        using (var first = model.Forward(torch.tensor(prompt).unsqueeze(0), cache))
            withCache.Add(first[0, -1].argmax().item<long>());
        for (int i = 1; i < 20; i++)
        {
            using var logits = model.Forward(torch.tensor(new[] { withCache[^1] }).unsqueeze(0), cache);
            withCache.Add(logits[0, -1].argmax().item<long>());
        }
        Assert.Equal(noCache, withCache);
        Assert.Equal(prompt.Length + 19, cache.Length);
    }

    [Fact]
    public void The_last_positions_logits_alone_equal_the_last_row_of_all_logits()
    {
        using var m = Make(Tiny);
        using var ids = torch.tensor(new long[] { 3, 9, 4, 7, 1, 2, 5, 8 }, [2, 4]);
        using var all = m.Forward(ids);
        using var last = m.Forward(ids, lastOnly: true);
        Assert.Equal([2L, 1L, Tiny.VocabSize], last.shape);
        Assert.True(torch.allclose(all[TensorIndex.Colon, TensorIndex.Slice(3, 4)], last, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Left_padding_with_an_attention_mask_gives_the_unpadded_logits()
    {
        using var model = Make(Tiny, seed: 9);
        using var _ = torch.no_grad();
        using var plain = model.Forward(torch.tensor(new long[] { 7, 8, 9 }).unsqueeze(0));
        using var padded = model.Forward(torch.tensor(new long[] { 0, 0, 7, 8, 9 }).unsqueeze(0), attentionMask: torch.tensor(new long[] { 0, 0, 1, 1, 1 }).unsqueeze(0));
        double diff = (plain[0] - padded[0, TensorIndex.Slice(2, null)]).abs().max().item<float>();
        Assert.True(diff < 1e-5, $"diff {diff}");
        Assert.False(padded.isnan().any().item<bool>());
    }

    [Fact]
    public void Configs_round_trip_through_config_json_and_bad_ones_name_the_field()
    {
        var parsed = LlamaConfig.Parse(Tiny.ToJson());
        Assert.Equal(Tiny, parsed with { Architectures = Tiny.Architectures });
        Assert.Contains("\"num_key_value_heads\": 2", Tiny.ToJson());
        var e = Assert.Throws<ArgumentException>(() => LlamaConfig.Parse("""{"hidden_size": 30, "num_attention_heads": 4}"""));
        Assert.Contains("hidden_size", e.Message);
        Assert.Contains("num_key_value_heads", Assert.Throws<ArgumentException>(() => LlamaConfig.Parse("""{"num_attention_heads": 4, "num_key_value_heads": 3}""")).Message);
    }
}

public sealed class LlamaCheckpointTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("mathv2-ckpt-").FullName;
    static readonly LlamaConfig C = new() { HiddenSize = 32, Layers = 2, Heads = 4, KvHeadsOrNull = 2, IntermediateSize = 48, VocabSize = 40 };

    static void AssertBitExact(nn.Module a, nn.Module b)
    {
        var sa = a.state_dict();
        var sb = b.state_dict();
        Assert.Equal(sa.Keys.OrderBy(k => k), sb.Keys.OrderBy(k => k));
        foreach (var (k, t) in sa) Assert.Equal(t.contiguous().bytes.ToArray(), sb[k].contiguous().bytes.ToArray());
    }

    [Fact]
    public void Save_then_load_is_bit_exact()
    {
        torch.manual_seed(3);
        using var model = new LlamaForCausalLM(C);
        var files = LlamaCheckpoint.Save(model, _dir);
        Assert.Equal(["config.json", "model.safetensors"], files);
        using var loaded = LlamaCheckpoint.Load(_dir);
        Assert.Equal(C, loaded.Config with { Architectures = C.Architectures });
        AssertBitExact(model, loaded);
    }

    [Fact]
    public async Task What_the_worker_saves_passes_the_upload_checks_whole_and_sharded_tied_and_untied()
    {
        foreach (var (config, shard) in new[] { (C, long.MaxValue), (C with { TieEmbeddings = true }, 16L * 1024) })
        {
            if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
            torch.manual_seed(5);
            using var model = new LlamaForCausalLM(config);
            LlamaCheckpoint.Save(model, _dir, maxShardBytes: shard);
            File.WriteAllText(Path.Combine(_dir, CheckpointFiles.Tokenizer), "{\"model\": {\"type\": \"WordLevel\"}}");
            var files = Directory.GetFiles(_dir).ToDictionary(f => Path.GetFileName(f), f => f);
            Assert.Empty(await Core.Artifacts.UploadValidation.CheckCheckpointAsync(new Core.Artifacts.LocalUploadFiles(files)));
            // The names the upload check expects are exactly the model's parameters.
            Assert.Equal(model.state_dict().Keys.Order(), LlamaTensors.Expected(config).Keys.Order());
        }
    }

    [Fact]
    public void Sharded_checkpoints_with_an_index_load_and_a_missing_parameter_is_named()
    {
        torch.manual_seed(4);
        using var model = new LlamaForCausalLM(C);
        var files = LlamaCheckpoint.Save(model, _dir, maxShardBytes: 16 * 1024);
        Assert.Contains(LlamaCheckpoint.IndexFile, files);
        Assert.True(files.Count(f => f.EndsWith(".safetensors")) > 2);
        var map = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, LlamaCheckpoint.IndexFile)))!["weight_map"]!.AsObject();
        Assert.Equal(model.state_dict().Keys.OrderBy(k => k), map.Select(kv => kv.Key).OrderBy(k => k));
        using (var loaded = LlamaCheckpoint.Load(_dir)) AssertBitExact(model, loaded);

        // Drop one parameter from the index's shard list: the load must say which are missing.
        string lastShard = files.Last(f => f.EndsWith(".safetensors"));
        foreach (var kv in map.ToList()) if (kv.Value!.GetValue<string>() == lastShard) map.Remove(kv.Key);
        File.WriteAllText(Path.Combine(_dir, LlamaCheckpoint.IndexFile), new System.Text.Json.Nodes.JsonObject { ["weight_map"] = map.DeepClone() }.ToJsonString());
        var e = Assert.Throws<InvalidDataException>(() => LlamaCheckpoint.Load(_dir));
        Assert.Contains("lacks", e.Message);
    }

    [Fact]
    public void A_bf16_checkpoint_as_the_families_ship_them_loads_with_its_values()
    {
        torch.manual_seed(6);
        using var model = new LlamaForCausalLM(C);
        using (var bf16 = new LlamaForCausalLM(C))
        {
            bf16.load_state_dict(model.state_dict());
            bf16.to(ScalarType.BFloat16);
            LlamaCheckpoint.Save(bf16, _dir);
        }
        using var loaded = LlamaCheckpoint.Load(_dir);
        foreach (var (k, t) in model.state_dict())
        {
            var expected = t.to(ScalarType.BFloat16).to(ScalarType.Float32);
            Assert.Equal(ScalarType.Float32, loaded.state_dict()[k].dtype);
            Assert.Equal(expected.data<float>().ToArray(), loaded.state_dict()[k].contiguous().data<float>().ToArray());
        }
    }

    [Fact]
    public async Task A_checkpoint_is_written_in_the_dtype_its_config_names_and_the_model_keeps_its_own()
    {
        var config = LlamaConfig.Parse(C.ToJson().Replace("{", "{\"torch_dtype\": \"bfloat16\", ", StringComparison.Ordinal));
        Assert.Equal("bfloat16", config.WeightsDtype);
        torch.manual_seed(7);
        using var model = new LlamaForCausalLM(config);
        var before = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.contiguous().data<float>().ToArray());
        LlamaCheckpoint.Save(model, _dir);
        await using (var s = File.OpenRead(Path.Combine(_dir, LlamaCheckpoint.WeightsFile)))
        {
            var header = await SafeTensorsHeader.ReadAsync(s, LlamaCheckpoint.WeightsFile);
            Assert.All(header.Tensors, t => Assert.Equal("BF16", t.Dtype));
        }
        Assert.Contains("\"torch_dtype\": \"bfloat16\"", File.ReadAllText(Path.Combine(_dir, LlamaCheckpoint.ConfigFile)).Replace("\":\"", "\": \""));
        foreach (var (k, t) in model.state_dict())
        {
            Assert.Equal(ScalarType.Float32, t.dtype);
            Assert.Equal(before[k], t.contiguous().data<float>().ToArray());
        }
        using var loaded = LlamaCheckpoint.Load(_dir);
        foreach (var (k, t) in model.state_dict())
            Assert.Equal(t.to(ScalarType.BFloat16).to(ScalarType.Float32).data<float>().ToArray(), loaded.state_dict()[k].contiguous().data<float>().ToArray());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
