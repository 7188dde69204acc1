using MathV2.Core.Models;
using MathV2.Gpu.Worker.Model;
using MathV2.Gpu.Worker.Text;
using TorchSharp;

namespace MathV2.Gpu.Worker.Tests;

public sealed class SamplerTests
{
    static readonly CharTokenizer Tok = CharTokenizer.Ascii();

    static LlamaForCausalLM Model(int seed = 2)
    {
        torch.manual_seed(seed);
        var m = new LlamaForCausalLM(new LlamaConfig { HiddenSize = 32, Layers = 2, Heads = 4, KvHeadsOrNull = 2, IntermediateSize = 64, VocabSize = Tok.VocabSize, MaxPositions = 256 });
        m.eval();
        return m;
    }

    [Fact]
    public void The_char_tokenizer_round_trips_text_and_its_json()
    {
        const string text = "Prove that (3 + 4) * 5 = 35.\n## Solution\nStep 1: ½ \\boxed{1}";
        Assert.Equal(text, Tok.Decode(Tok.Encode(text)));
        var again = CharTokenizer.FromJson(Tok.ToJson());
        Assert.Equal(Tok.Encode(text), again.Encode(text));
        Assert.Equal(Tok.UnkId, Tok.Encode("é")[0]);
        Assert.Equal("ab", Tok.Decode([Tok.BosId!.Value, .. Tok.Encode("a"), Tok.PadId, .. Tok.Encode("b"), Tok.EosId]));
    }

    [Fact]
    public void Batched_left_padded_greedy_decoding_equals_decoding_one_by_one()
    {
        using var m = Model();
        string[] prompts = ["1 + 1", "Prove that 2 * 3 = 6.", "x"];
        var o = new SamplingOptions { Temperature = 0, MaxNewTokens = 12 };
        var batched = Sampler.Generate(m, Tok, prompts, o);
        for (int i = 0; i < prompts.Length; i++)
        {
            var single = Sampler.Generate(m, Tok, [prompts[i]], o).Single();
            Assert.Equal(single.Tokens, batched[i].Tokens);
            Assert.Equal(single.LogProbs.Select(x => Math.Round(x, 4)), batched[i].LogProbs.Select(x => Math.Round(x, 4)));
        }
    }

    [Fact]
    public void Sampling_is_reproducible_from_the_seed_with_or_without_the_cache()
    {
        using var m = Model();
        var o = new SamplingOptions { Temperature = 1.0, TopP = 0.9, MaxNewTokens = 16, Seed = 42 };
        var a = Sampler.Generate(m, Tok, ["abc", "de"], o);
        var b = Sampler.Generate(m, Tok, ["abc", "de"], o);
        var c = Sampler.Generate(m, Tok, ["abc", "de"], o, useCache: false);
        Assert.Equal(a.Select(s => s.Text), b.Select(s => s.Text));
        Assert.Equal(a.Select(s => s.Text), c.Select(s => s.Text));
        var other = Sampler.Generate(m, Tok, ["abc", "de"], o with { Seed = 43 });
        Assert.NotEqual(a.Select(s => s.Text), other.Select(s => s.Text));
        Assert.All(a, s => Assert.All(s.LogProbs, lp => Assert.True(lp <= 0)));
        Assert.All(a, s => Assert.Equal(s.Tokens.Length, s.LogProbs.Length));
    }

    [Fact]
    public void Rows_of_one_prompt_share_its_prefill_and_sample_what_separate_prefills_sample()
    {
        using var m = Model();
        // A GRPO batch: each prompt G times in a row, prompts of different lengths (left padding), and one prompt
        // asked for again later in the batch.
        string[] prompts = [.. Enumerable.Repeat("Prove that 2 * 3 = 6.", 4), .. Enumerable.Repeat("x", 4), "Prove that 2 * 3 = 6."];
        foreach (var o in new[] { new SamplingOptions { Temperature = 1.0, TopP = 0.9, MaxNewTokens = 10, Seed = 7 }, new SamplingOptions { Temperature = 0, MaxNewTokens = 10 } })
        {
            var shared = Sampler.Generate(m, Tok, prompts, o);
            var separate = Sampler.Generate(m, Tok, prompts, o with { SharePrefill = false });
            Assert.Equal(separate.Select(s => s.Text), shared.Select(s => s.Text));
            for (int i = 0; i < prompts.Length; i++)
                Assert.Equal(separate[i].LogProbs.Select(x => Math.Round(x, 4)), shared[i].LogProbs.Select(x => Math.Round(x, 4)));
            if (o.Temperature > 0) Assert.True(shared.Take(4).Select(s => s.Text).Distinct().Count() > 1, "the samples of one prompt differ");
        }
    }

    [Fact]
    public void Completions_end_at_the_token_limit_or_a_stop_string()
    {
        using var m = Model();
        var limited = Sampler.Generate(m, Tok, ["q"], new SamplingOptions { Temperature = 0, MaxNewTokens = 5 }).Single();
        Assert.Equal("length", limited.FinishReason);
        Assert.Equal(5, limited.Tokens.Length);

        string stop = limited.Text.Substring(2, 2);
        var stopped = Sampler.Generate(m, Tok, ["q"], new SamplingOptions { Temperature = 0, MaxNewTokens = 5, StopStrings = [stop] }).Single();
        Assert.Equal("stop", stopped.FinishReason);
        Assert.Equal(limited.Text[..limited.Text.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
    }

    [Fact]
    public void Continuous_batching_samples_what_static_batches_and_the_uncached_model_sample_row_by_row()
    {
        using var m = Model();
        string[] prompts = [.. Enumerable.Range(0, 7).Select(i => $"Prove that {i} + {i} = {2 * i}." [..(8 + 3 * i % 13)])];
        int[] limits = [9, 1, 3, 12, 2, 6, 4];
        foreach (var o in new[] { new SamplingOptions { Temperature = 1.0, TopP = 0.9, MaxNewTokens = 12, Seed = 3, RowMaxNewTokens = limits }, new SamplingOptions { Temperature = 0, MaxNewTokens = 12, RowMaxNewTokens = limits } })
        {
            var continuous = Sampler.Generate(m, Tok, prompts, o with { BatchSize = 3 });
            var all = Sampler.Generate(m, Tok, prompts, o);
            var staticBatches = Sampler.Generate(m, Tok, prompts, o with { BatchSize = 3, Refill = false });
            var uncached = Sampler.Generate(m, Tok, prompts, o with { BatchSize = 2 }, useCache: false);
            foreach (var other in new[] { all, staticBatches, uncached })
                for (int i = 0; i < prompts.Length; i++)
                {
                    Assert.Equal(other[i].Tokens, continuous[i].Tokens);
                    Assert.Equal(other[i].LogProbs.Select(x => Math.Round(x, 4)), continuous[i].LogProbs.Select(x => Math.Round(x, 4)));
                }
            for (int i = 0; i < prompts.Length; i++)
                if (continuous[i].FinishReason == "length") Assert.Equal(limits[i], continuous[i].Tokens.Length);
                else Assert.True(continuous[i].Tokens.Length < limits[i]);
        }
    }

    [Fact]
    public void A_row_that_ends_gives_its_slot_to_the_next_waiting_prompt()
    {
        using var m = Model();
        string[] prompts = ["a", "b", "c", "d", "e"];
        int[] limits = [8, 1, 1, 1, 1];
        var o = new SamplingOptions { Temperature = 0, MaxNewTokens = 8, RowMaxNewTokens = limits, BatchSize = 2 };
        var done = new List<int>();
        Sampler.Generate(m, Tok, prompts, o with { OnRowDone = (r, _) => done.Add(r) });
        // Row 0 decodes its 8 tokens while rows 1–4 pass through the other slot one after another.
        Assert.Equal([1, 2, 3, 4, 0], done);
        done.Clear();
        Sampler.Generate(m, Tok, prompts, o with { Refill = false, OnRowDone = (r, _) => done.Add(r) });
        // Static batches: rows 2 and 3 wait for row 0.
        Assert.Equal([1, 0, 2, 3, 4], done);
    }

    [Fact]
    public void A_rows_samples_do_not_depend_on_the_rows_beside_it()
    {
        using var m = Model();
        var o = new SamplingOptions { Temperature = 1.0, MaxNewTokens = 10, Seed = 11 };
        var three = Sampler.Generate(m, Tok, ["abc", "de", "f"], o);
        var two = Sampler.Generate(m, Tok, ["abc", "de"], o);
        Assert.Equal(two.Select(s => s.Text), three.Take(2).Select(s => s.Text));
        var zero = Sampler.Generate(m, Tok, ["abc"], o with { RowMaxNewTokens = [0] }).Single();
        Assert.Empty(zero.Tokens);
        Assert.Equal("length", zero.FinishReason);
    }
}
