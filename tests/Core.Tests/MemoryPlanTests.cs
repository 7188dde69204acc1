using MathV2.Core.Jobs;
using MathV2.Core.Models;

namespace MathV2.Core.Tests;

/// <summary>What the memory plan says of a 7 B policy's GRPO job with and without the options that shrink it.</summary>
public sealed class MemoryPlanTests
{
    /// <summary>Qwen2.5-7B's config.json (the fields that size it).</summary>
    static readonly LlamaConfig Qwen7B = LlamaConfig.Parse("""
        {"model_type": "qwen2", "hidden_size": 3584, "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
         "intermediate_size": 18944, "vocab_size": 152064, "tie_word_embeddings": false, "max_position_embeddings": 32768, "rope_theta": 1000000.0}
        """);

    static readonly GrpoOptions Job = new() { BatchSize = 1, MaxSeqLen = 2048, MaxNewTokens = 1536, PromptsPerStep = 2, GroupSize = 4, Bf16 = true };
    const long Gpu80 = 80L << 30;

    [Fact]
    public void A_7b_grpo_job_fits_one_80_gb_gpu_with_8bit_moments_and_checkpointing_and_not_without()
    {
        Assert.InRange(MemoryPlan.Parameters(Qwen7B), 7_600_000_000, 7_700_000_000);
        var plain = MemoryPlan.Grpo(Qwen7B, Qwen7B, [], Job, 2);
        Assert.True(plain.Total > Gpu80, plain.Describe());
        var small = MemoryPlan.Grpo(Qwen7B, Qwen7B, [], Job with { Moments = "8bit", GradientCheckpointing = true }, 2);
        Assert.True(small.Total < Gpu80, small.Describe());
        // With a 7 B verifier as the frozen reward model as well (phase 2), a reference of its own, shared, or none (klCoef 0).
        var options = Job with { Moments = "8bit", GradientCheckpointing = true };
        var withVerifier = MemoryPlan.Grpo(Qwen7B, Qwen7B, [Qwen7B], options, 2);
        var noReference = MemoryPlan.Grpo(Qwen7B, null, [Qwen7B], options with { KlCoef = 0 }, 2);
        Assert.True(withVerifier.Total < Gpu80, withVerifier.Describe());
        Assert.Equal(withVerifier.Total - MemoryPlan.Parameters(Qwen7B) * 2, noReference.Total);
        Assert.True(MemoryPlan.Grpo(Qwen7B, Qwen7B, [Qwen7B], Job, 2).Total > Gpu80 + (15L << 30));
        Assert.Equal(0, noReference.Parts.Single(p => p.Name == "reference weights").Bytes);
    }

    [Fact]
    public void Each_option_shrinks_the_part_it_names()
    {
        var o = new TrainOptions { BatchSize = 4, MaxSeqLen = 1024, Bf16 = true };
        long P = MemoryPlan.Parameters(Qwen7B);
        long Part(TrainOptions x, string name) => MemoryPlan.Sft(Qwen7B, x, 2).Parts.Single(p => p.Name.StartsWith(name, StringComparison.Ordinal)).Bytes;
        Assert.Equal(2 * P * 2, Part(o, "AdamW moments"));
        Assert.Equal(2 * P * 4, Part(o with { Moments = "fp32" }, "AdamW moments"));
        long eight = Part(o with { Moments = "8bit" }, "AdamW moments");
        Assert.InRange(eight, 2 * P * 1.06, 2 * P * 1.07);   // a byte per element, a 4-byte scale per 64
        long activations = Part(o, "activations"), checkpointed = Part(o with { GradientCheckpointing = true }, "activations");
        Assert.True(checkpointed < activations / 3, $"{checkpointed} vs {activations}");
        Assert.Contains("checkpointed", MemoryPlan.Sft(Qwen7B, o with { GradientCheckpointing = true }, 2).Describe());
        Assert.Contains(new TrainOptions { Moments = "4bit" }.Validate(), e => e.Field == "moments");
    }
}
