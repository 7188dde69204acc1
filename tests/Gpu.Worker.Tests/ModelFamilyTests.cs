using MathV2.Core.Models;
using MathV2.Gpu.Worker.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Tests;

/// <summary>
/// The model families a team brings (Llama 3.x with rope scaling and an explicit head_dim, Qwen2 with q/k/v
/// biases, Qwen3 with q/k norms): each against the plain reference, tied and untied, GQA and MHA; the KV cache
/// changes nothing; checkpoints keep the family's names and config; what the worker does not implement is refused.
/// </summary>
public sealed class ModelFamilyTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("mathv2-family-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    static readonly LlamaConfig Base = new() { HiddenSize = 32, Layers = 2, Heads = 4, KvHeadsOrNull = 2, IntermediateSize = 48, VocabSize = 40, MaxPositions = 128 };

    /// <summary>Llama 3.x: rope_scaling llama3 (thresholds inside a tiny model's frequencies) and a head_dim other than hidden / heads.</summary>
    static readonly LlamaConfig Llama3 = Base with
    {
        HeadDimOrNull = 12,
        RopeScaling = new RopeScaling { RopeType = "llama3", Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositions = 64 },
    };
    static readonly LlamaConfig Qwen2 = Base with { ModelType = LlamaConfig.Qwen2, Architectures = ["Qwen2ForCausalLM"] };
    static readonly LlamaConfig Qwen3 = Base with { ModelType = LlamaConfig.Qwen3, Architectures = ["Qwen3ForCausalLM"], HeadDimOrNull = 16 };

    public static TheoryData<string, bool, int> Families() => new()
    {
        { "llama3", false, 2 }, { "llama3", true, 4 }, { "qwen2", false, 2 }, { "qwen2", true, 4 }, { "qwen3", false, 2 }, { "qwen3", true, 4 },
    };

    static LlamaConfig Family(string name, bool tie, int kvHeads) =>
        (name switch { "llama3" => Llama3, "qwen2" => Qwen2, _ => Qwen3 }) with { TieEmbeddings = tie, KvHeadsOrNull = kvHeads };

    static LlamaForCausalLM Make(LlamaConfig c, int seed = 1)
    {
        torch.manual_seed(seed);
        var m = new LlamaForCausalLM(c);
        using (torch.no_grad())
            foreach (var (name, p) in m.named_parameters())
                if (name.EndsWith("norm.weight") || name.EndsWith(".bias")) p.copy_(torch.rand(p.shape) + 0.5);
        m.eval();
        return m;
    }

    static double MaxDiffToReference(LlamaForCausalLM model, int[] tokens)
    {
        var c = model.Config;
        using var ids = torch.tensor(tokens.Select(t => (long)t).ToArray()).unsqueeze(0);
        using var _ = torch.no_grad();
        using var logits = model.Forward(ids);
        var weights = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.contiguous().data<float>().ToArray());
        var reference = new ReferenceLlama(c, weights).Forward(tokens);
        var actual = logits[0].data<float>().ToArray();
        double maxDiff = 0;
        for (int t = 0; t < tokens.Length; t++)
            for (int v = 0; v < c.VocabSize; v++)
                maxDiff = Math.Max(maxDiff, Math.Abs(actual[t * c.VocabSize + v] - reference[t][v]));
        return maxDiff;
    }

    static readonly int[] Tokens = [3, 17, 5, 39, 0, 22, 8, 8, 11, 30, 2, 19];

    [Theory]
    [MemberData(nameof(Families))]
    public void Each_family_matches_the_plain_reference_and_has_its_hugging_face_tensors(string family, bool tie, int kvHeads)
    {
        var c = Family(family, tie, kvHeads);
        using var model = Make(c);
        double diff = MaxDiffToReference(model, Tokens);
        Assert.True(diff < 1e-4, $"{family}: max |diff| = {diff}");
        var names = model.state_dict().Keys.ToHashSet();
        Assert.Equal(LlamaTensors.Expected(c).Keys.Order(), names.Order());
        Assert.Equal(c.QkvBias, names.Contains("model.layers.0.self_attn.q_proj.bias"));
        Assert.Equal(c.QkNorm, names.Contains("model.layers.1.self_attn.k_norm.weight"));
        Assert.Equal(new long[] { c.Heads * c.HeadDim, c.HiddenSize }, model.state_dict()["model.layers.0.self_attn.q_proj.weight"].shape);
    }

    [Fact]
    public void The_family_features_change_the_outputs_so_the_reference_checks_them()
    {
        // The same weights without the feature give other logits: the parity above is not vacuous.
        using var scaled = Make(Llama3);
        using var unscaled = Make(Llama3 with { RopeScaling = null });
        using var ids = torch.tensor(Tokens.Select(t => (long)t).ToArray()).unsqueeze(0);
        using var _ = torch.no_grad();
        using var a = scaled.Forward(ids);
        using var b = unscaled.Forward(ids);
        Assert.True((a - b).abs().max().item<float>() > 1e-3);
    }

    [Theory]
    [InlineData("llama3")]
    [InlineData("qwen2")]
    [InlineData("qwen3")]
    public void Greedy_decoding_with_the_kv_cache_gives_the_tokens_without_it(string family)
    {
        var c = Family(family, false, 2);
        using var model = Make(c, seed: 5);
        using var _ = torch.no_grad();
        long[] prompt = [1, 2, 3, 4];
        var noCache = prompt.ToList();
        for (int i = 0; i < 16; i++)
        {
            using var logits = model.Forward(torch.tensor(noCache.ToArray()).unsqueeze(0));
            noCache.Add(logits[0, -1].argmax().item<long>());
        }
        var withCache = prompt.ToList();
        using var cache = new KvCache(c.Layers);
        using (var first = model.Forward(torch.tensor(prompt).unsqueeze(0), cache)) withCache.Add(first[0, -1].argmax().item<long>());
        for (int i = 1; i < 16; i++)
        {
            using var logits = model.Forward(torch.tensor(new[] { withCache[^1] }).unsqueeze(0), cache);
            withCache.Add(logits[0, -1].argmax().item<long>());
        }
        Assert.Equal(noCache, withCache);
    }

    [Fact]
    public void A_checkpoint_keeps_the_familys_config_fields_names_and_dtype_and_loads_back()
    {
        string json = """
            {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "head_dim": 16, "intermediate_size": 48, "vocab_size": 40, "max_position_embeddings": 128,
             "rms_norm_eps": 1e-6, "rope_theta": 1000000, "tie_word_embeddings": true, "attention_bias": false, "attention_dropout": 0.0,
             "hidden_act": "silu", "torch_dtype": "bfloat16", "use_sliding_window": false, "sliding_window": null, "max_window_layers": 28,
             "bos_token_id": 151643, "eos_token_id": 151645, "transformers_version": "4.51.0", "use_cache": true, "rope_scaling": null}
            """;
        var c = LlamaConfig.Parse(json);
        Assert.Equal((LlamaConfig.Qwen3, 16, true), (c.ModelType, c.HeadDim, c.QkNorm));
        using var model = Make(c, seed: 7);
        LlamaCheckpoint.Save(model, _dir);
        string saved = File.ReadAllText(Path.Combine(_dir, "config.json"));
        foreach (string field in new[] { "\"torch_dtype\": \"bfloat16\"", "\"head_dim\": 16", "\"model_type\": \"qwen3\"", "\"eos_token_id\": 151645" })
            Assert.Contains(field, saved);
        using var loaded = LlamaCheckpoint.Load(_dir);
        // The weights are written as the config's bfloat16: they load back as the bf16-rounded values.
        foreach (var (k, t) in model.state_dict())
            Assert.Equal(t.to(ScalarType.BFloat16).to(ScalarType.Float32).contiguous().bytes.ToArray(), loaded.state_dict()[k].contiguous().bytes.ToArray());
    }

    [Theory]
    [InlineData("""{"model_type": "mixtral"}""", "model_type")]
    [InlineData("""{"rope_scaling": {"rope_type": "yarn", "factor": 4}}""", "rope_scaling.rope_type")]
    [InlineData("""{"rope_scaling": {"type": "linear", "factor": 2}}""", "rope_scaling.rope_type")]
    [InlineData("""{"model_type": "qwen2", "use_sliding_window": true}""", "use_sliding_window")]
    [InlineData("""{"num_local_experts": 8}""", "num_local_experts")]
    [InlineData("""{"hidden_act": "gelu"}""", "hidden_act")]
    [InlineData("""{"attention_bias": true}""", "attention_bias")]
    [InlineData("""{"mlp_bias": true}""", "mlp_bias")]
    [InlineData("""{"quantization_config": {"bits": 4}}""", "quantization_config")]
    [InlineData("""{"layer_types": ["full_attention", "sliding_attention"]}""", "layer_types")]
    [InlineData("""{"head_dim": 7}""", "head_dim")]
    public void What_the_worker_does_not_implement_is_refused_with_the_field_named(string json, string field)
    {
        var e = Assert.Throws<ArgumentException>(() => LlamaConfig.Parse(json));
        Assert.Contains(field.Split('.')[^1], e.Message);
        var errors = System.Text.Json.JsonSerializer.Deserialize<LlamaConfig>(json)!.Validate().Select(x => x.Field).ToList();
        Assert.Contains(field, errors);
    }

    [Fact]
    public void A_typo_in_a_config_field_is_refused_with_the_field_it_meant()
    {
        var e = Assert.Throws<ArgumentException>(() => LlamaConfig.Parse("""{"hiden_size": 64}"""));
        Assert.Contains("hiden_size", e.Message);
        Assert.Contains("did you mean 'hidden_size'", e.Message);
    }

    [Fact]
    public void A_llama_3_2_config_as_published_loads_with_its_rope_scaling()
    {
        var c = LlamaConfig.Parse("""
            {"architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0, "bos_token_id": 128000,
             "eos_token_id": [128001, 128008, 128009], "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02,
             "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32,
             "num_hidden_layers": 16, "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
             "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"},
             "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.45.0.dev0", "use_cache": true, "vocab_size": 128256}
            """);
        Assert.Equal(("llama3", 64, 32.0), (c.RopeScaling!.Kind, c.HeadDim, c.RopeScaling.Factor));
        // The long wavelengths are divided by the factor, the short ones kept.
        var f = c.RopeScaling.Scale([1.0, 1e-5]);
        Assert.Equal(1.0, f[0]);
        Assert.Equal(1e-5 / 32, f[1], 12);
    }

    [Theory]
    [InlineData("llama", false, 4, 4)]
    [InlineData("llama", true, 4, 2)]
    [InlineData("qwen2", false, 4, 2)]
    [InlineData("qwen3", true, 4, 1)]
    public void The_memory_plan_counts_exactly_the_models_parameters(string family, bool tied, int heads, int kvHeads)
    {
        var c = LlamaConfig.Parse($$"""{"model_type": "{{family}}", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": {{heads}}, "num_key_value_heads": {{kvHeads}}, "intermediate_size": 96, "vocab_size": 50, "tie_word_embeddings": {{(tied ? "true" : "false")}}}""");
        using var model = new LlamaForCausalLM(c);
        Assert.Equal(model.parameters().Sum(p => p.numel()), Core.Models.MemoryPlan.Parameters(c));
        var plan = Core.Models.MemoryPlan.Sft(c, new Core.Jobs.TrainOptions { BatchSize = 2, MaxSeqLen = 8 }, 4);
        Assert.Equal(4 * 4 * Core.Models.MemoryPlan.Parameters(c) + Core.Models.MemoryPlan.Activations(c, 2, 8, 4, 4), plan.Total);
    }
}
