using MathV2.Core.Jobs;
using MathV2.Core.Models;
using System.Text.Json;
using MathV2.Gpu.Worker.Model;
using MathV2.Gpu.Worker.Text;
using MathV2.Gpu.Worker.Training;
using TorchSharp;
using ScalarType = TorchSharp.torch.ScalarType;
using Xunit.Abstractions;

namespace MathV2.Gpu.Worker.Tests;

public sealed class TrainingTests(ITestOutputHelper output)
{
    static readonly CharTokenizer Tok = new("abcde>!");

    static LlamaForCausalLM Model(int seed, int hidden = 64)
    {
        torch.manual_seed(seed);
        return new LlamaForCausalLM(new LlamaConfig { HiddenSize = hidden, Layers = 2, Heads = 4, KvHeadsOrNull = 2, IntermediateSize = 2 * hidden, VocabSize = Tok.VocabSize, MaxPositions = 64 });
    }

    /// <summary>The shift task: "abc>" → "bcd" (each letter moves one on, e wraps to a).</summary>
    static List<SftExample> ShiftTask()
    {
        const string letters = "abcde";
        var all = new List<SftExample>();
        foreach (char x in letters) foreach (char y in letters) foreach (char z in letters)
        {
            string w = $"{x}{y}{z}";
            all.Add(new SftExample(w + ">", new string(w.Select(c => letters[(letters.IndexOf(c) + 1) % 5]).ToArray())));
        }
        return all;
    }

    [Fact]
    public void The_schedule_warms_up_linearly_then_decays_by_cosine_to_the_floor()
    {
        var o = new TrainOptions { Steps = 110, WarmupSteps = 10, LearningRate = 1e-3, MinLrRatio = 0.1 };
        Assert.Equal(1e-4, LrSchedule.At(o, 0), 12);
        Assert.Equal(5e-4, LrSchedule.At(o, 4), 12);
        Assert.Equal(1e-3, LrSchedule.At(o, 10), 12);
        Assert.Equal(1e-4 + 0.9e-3 * 0.5 * (1 + Math.Cos(Math.PI * 50 / 99.0)), LrSchedule.At(o, 60), 12);
        Assert.Equal(1e-4, LrSchedule.At(o, 109), 12);
    }

    [Fact]
    public void A_curriculum_draws_only_its_kinds_first_then_every_example_in_shuffled_epochs()
    {
        // 25 "arithmetic" and 100 "proof" examples; the first 10 of 60 steps (4 examples each) draw arithmetic only.
        var examples = ShiftTask().Select((e, i) => e with { Kind = i % 5 == 0 ? "arithmetic" : "proof" }).ToList();
        var o = new TrainOptions { Steps = 60, BatchSize = 4, Seed = 3, CurriculumSteps = 10, CurriculumKinds = ["arithmetic"] };
        using var model = Model(1);
        using var sft = new SftTrainer(model, Tok, examples, [], o);
        var lead = Enumerable.Range(0, 10).SelectMany(s => sft.Batch(s)).ToList();
        Assert.All(lead, i => Assert.Equal("arithmetic", examples[i].Kind));
        Assert.Equal(25, lead.Take(25).Distinct().Count());   // an epoch of the 25 first
        var rest = Enumerable.Range(10, 32).SelectMany(s => sft.Batch(s)).Take(125).ToList();
        Assert.Equal(examples.Count, rest.Distinct().Count());   // then every example once per epoch, from the start
        Assert.Equal(sft.Batch(12), new SftTrainer(Model(2), Tok, examples, [], o).Batch(12));   // fixed by the seed

        var none = o with { CurriculumKinds = ["meta"] };
        var e = Assert.Throws<ArgumentException>(() => new SftTrainer(Model(1), Tok, examples, [], none));
        Assert.Contains("curriculumKinds [meta] match no training example", e.Message);
        Assert.Contains(("curriculumSteps", "must be in [0, steps)"), (o with { CurriculumSteps = 60 }).Validate());
        Assert.Contains(("curriculumKinds", "must name at least one kind when curriculumSteps > 0"), (o with { CurriculumKinds = [] }).Validate());
    }

    [Fact]
    public void AdamW_matches_torch_adamw_step_for_step()
    {
        var o = new TrainOptions { LearningRate = 0.01, WeightDecay = 0.1, Beta1 = 0.9, Beta2 = 0.95, Epsilon = 1e-8 };
        torch.manual_seed(5);
        var w0 = torch.randn(4, 3);
        var ours = new TorchSharp.Modules.Parameter(w0.clone());
        var theirs = new TorchSharp.Modules.Parameter(w0.clone());
        using var adam = new AdamW([("w", ours)], o);
        var reference = torch.optim.AdamW([theirs], lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1);
        var x = torch.randn(3, 5);
        for (int i = 0; i < 5; i++)
        {
            adam.ZeroGrad();
            reference.zero_grad();
            torch.matmul(ours, x).pow(2).sum().backward();
            torch.matmul(theirs, x).pow(2).sum().backward();
            adam.Step(0.01);
            reference.step();
        }
        Assert.True(torch.allclose(ours, theirs, rtol: 1e-5, atol: 1e-6), $"max diff {(ours - theirs).abs().max().item<float>()}");
        Assert.False(torch.allclose(ours, w0));
    }

    [Fact]
    public void Eight_bit_moments_keep_the_small_gradients_of_a_block_and_follow_fp32_adamw()
    {
        // 8192 elements (quantized) whose gradients span four orders of magnitude inside every block of 64.
        var scales = torch.pow(10.0f, -torch.arange(0, 8192).remainder(5).to_type(ScalarType.Float32));   // 1, 0.1, …, 1e-4
        torch.manual_seed(9);
        var w0 = torch.randn(8192);
        var o = new TrainOptions { LearningRate = 0.01, WeightDecay = 0 };
        var full = new TorchSharp.Modules.Parameter(w0.clone());
        var eight = new TorchSharp.Modules.Parameter(w0.clone());
        using var fullAdam = new AdamW([("w", full)], o);
        using var eightAdam = new AdamW([("w", eight)], o with { Moments = "8bit" });
        for (int step = 0; step < 5; step++)
        {
            var g = torch.randn(8192) * scales;
            full.grad = g.clone();
            eight.grad = g.clone();
            fullAdam.Step(0.01);
            eightAdam.Step(0.01);
        }
        var fullMove = full - w0;
        var eightMove = eight - w0;
        // Every element moves, in fp32's direction, by about as much: the smallest gradients too.
        Assert.True((eightMove.abs() > 0).all().item<bool>(), "an element did not move");
        var relative = ((eightMove - fullMove).abs() / fullMove.abs()).to_type(ScalarType.Float32);
        Assert.True(relative.median().item<float>() < 0.08, $"median relative difference {relative.median().item<float>()}");
        // Where fp32's five steps nearly cancel, compare with a step's size (lr) instead.
        var close = ((eightMove - fullMove).abs() <= fullMove.abs() * 0.5 + 0.2 * 0.01).to_type(ScalarType.Float32).mean().item<float>();
        Assert.True(close > 0.98, $"{close:P2} of the elements move within half of fp32's move (or a fifth of a step)");
        var state = eightAdam.State().ToDictionary(x => x.Name, x => x.Tensor);
        Assert.Equal(ScalarType.Int8, state["m.w.codes"].dtype);
        Assert.Equal(ScalarType.Byte, state["v.w.codes"].dtype);
        Assert.Equal([128L], state["m.w.scale"].shape);
    }

    [Theory]
    [InlineData("auto")]
    [InlineData("8bit")]
    public void Sft_teaches_a_tiny_model_the_shift_task_on_held_out_words(string moments)
    {
        var all = ShiftTask();
        var eval = all.Where((_, i) => i % 5 == 0).ToList();
        var train = all.Where((_, i) => i % 5 != 0).ToList();
        using var model = Model(1);
        var o = new TrainOptions { Steps = 300, LearningRate = 3e-3, WarmupSteps = 20, BatchSize = 16, GradAccum = 2, EvalEvery = 50, Seed = 7, Moments = moments };
        using var trainer = new SftTrainer(model, Tok, train, eval, o);
        double before = trainer.Evaluate()!.Value;
        trainer.Run();
        double after = trainer.Metrics[^1].EvalLoss!.Value;
        output.WriteLine($"held-out loss {before:F3} → {after:F3}; {string.Join(" ", trainer.Metrics.Where(m => m.EvalLoss != null).Select(m => $"{m.Step}:{m.EvalLoss:F3}"))}");
        Assert.True(before > 1.5, $"untrained held-out loss {before}");
        Assert.True(after < 0.1, $"held-out loss after SFT {after} (threshold 0.1 nats/token)");
        model.eval();
        var greedy = Sampler.Generate(model, Tok, eval.Take(5).Select(e => e.Prompt).ToList(), new SamplingOptions { Temperature = 0, MaxNewTokens = 5 });
        // 8-bit moments train a little slower here (0.031 against 0.020 nats at step 300): one of the five may still miss its EOS.
        int right = eval.Take(5).Select(e => e.Completion).Zip(greedy, (want, got) => want == got.Text).Count(x => x);
        Assert.True(right >= (moments == "8bit" ? 4 : 5), $"{right} of 5 held-out words shifted: {string.Join(", ", greedy.Select(g => g.Text))}");
    }

    [Fact]
    public void Packed_sft_batches_give_the_padded_loss_and_gradients_with_fewer_rows()
    {
        // Sequences of mixed lengths (the prompt's start token + a prompt + a completion + EOS).
        var rows = new[] { ("abcde>", "bcdea"), ("a>", "b"), ("ab>", "bc"), ("abcd>", "bcde"), ("e>", "a"), ("abc>", "bcd") }
            .Select(x => (((ITokenizer)Tok).EncodePrompt(x.Item1), (int[])[.. Tok.Encode(x.Item2), Tok.EosId])).ToList();
        using var model = Model(6);
        double LossAndGrads(bool pack, out Dictionary<string, torch.Tensor> grads, out TokenBatch batch)
        {
            model.zero_grad();
            batch = TokenBatch.Build(rows, Tok, 64, torch.CPU, pack);
            var logits = batch.Logits(model);
            var loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), batch.Targets.reshape(-1), ignore_index: TokenBatch.Ignore);
            loss.backward();
            grads = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
            return loss.item<float>();
        }
        double padded = LossAndGrads(false, out var paddedGrads, out var paddedBatch);
        double packed = LossAndGrads(true, out var packedGrads, out var packedBatch);
        Assert.Equal(padded, packed, 5);
        foreach (var (name, g) in paddedGrads) Assert.True(torch.allclose(g, packedGrads[name], rtol: 1e-4, atol: 1e-6), name);
        Assert.Equal(paddedBatch.Tokens, packedBatch.Tokens);
        Assert.Equal(6, paddedBatch.Inputs.shape[0]);
        Assert.Equal(1, packedBatch.Inputs.shape[0]);     // end to end: 12 + 4 + 6 + 10 + 4 + 8 positions, no padding
        Assert.Equal(44, packedBatch.Cells);
        Assert.Equal(72, paddedBatch.Cells);

        // Each packed sequence's logits are the sequence's own, as if alone in its row.
        using var noGrad = torch.no_grad();
        var all = packedBatch.Logits(model);
        foreach (var (start, length) in packedBatch.Packed!)
        {
            var alone = model.Forward(packedBatch.Inputs[0].narrow(0, start, length).unsqueeze(0));
            Assert.True(torch.allclose(alone[0], all[0].narrow(0, start, length), rtol: 1e-4, atol: 1e-5), $"the sequence at {start}");
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Activation_checkpointing_gives_the_loss_and_gradients_of_a_plain_backward(bool pack, bool tied)
    {
        var rows = new[] { ("abcde>", "bcdea"), ("a>", "b"), ("abcd>", "bcde"), ("abc>", "bcd") }
            .Select(x => (((ITokenizer)Tok).EncodePrompt(x.Item1), (int[])[.. Tok.Encode(x.Item2), Tok.EosId])).ToList();
        torch.manual_seed(8);
        using var model = new LlamaForCausalLM(new LlamaConfig { HiddenSize = 32, Layers = 3, Heads = 4, KvHeadsOrNull = 2, IntermediateSize = 64, VocabSize = Tok.VocabSize, MaxPositions = 64, TieEmbeddings = tied });
        using var batch = TokenBatch.Build(rows, Tok, 64, torch.CPU, pack);
        (double Loss, Dictionary<string, torch.Tensor> Grads) Run(bool checkpoint)
        {
            model.zero_grad();
            var loss = model.Backward(batch.Inputs, logits => torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), batch.Targets.reshape(-1), ignore_index: TokenBatch.Ignore),
                checkpoint, batch.Positions, batch.Packed);
            return (loss.item<float>(), model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone()));
        }
        var plain = Run(false);
        var checkpointed = Run(true);
        Assert.Equal(plain.Loss, checkpointed.Loss, 6);
        Assert.Equal(plain.Grads.Keys, checkpointed.Grads.Keys);
        foreach (var (name, g) in plain.Grads)
        {
            Assert.True(g.abs().sum().item<float>() > 0, $"{name} has a gradient");
            Assert.True(torch.allclose(g, checkpointed.Grads[name], rtol: 1e-4, atol: 1e-6), name);
        }
    }

    [Theory]
    [InlineData("auto")]
    [InlineData("8bit")]
    public async Task An_interrupted_sft_run_resumed_from_its_checkpoint_ends_where_an_uninterrupted_run_does(string moments)
    {
        var data = ShiftTask();
        var o = new TrainOptions { Steps = 12, CheckpointEvery = 5, BatchSize = 8, GradAccum = 2, EvalEvery = 4, Seed = 3, LearningRate = 3e-3, WarmupSteps = 3, Moments = moments };
        using var straightModel = Model(4);
        using var straight = new SftTrainer(straightModel, Tok, data, data.Take(10).ToList(), o);
        straight.Run();

        byte[]? saved = null;
        using var cts = new CancellationTokenSource();
        using var firstModel = Model(4);
        using var first = new SftTrainer(firstModel, Tok, data, data.Take(10).ToList(), o)
        {
            OnCheckpoint = b => { saved = b; return Task.CompletedTask; },
            OnStep = m => { if (m.Step == 7) cts.Cancel(); },
        };
        await Assert.ThrowsAsync<OperationCanceledException>(() => first.RunAsync(cts.Token));
        Assert.Equal(7, first.StepsDone);

        using var resumedModel = Model(99);   // a different init: everything must come from the checkpoint
        using var resumed = new SftTrainer(resumedModel, Tok, data, data.Take(10).ToList(), o) { Attempt = 2 };
        resumed.LoadState(saved!);
        Assert.Equal(5, resumed.StepsDone);
        resumed.Run();

        Assert.Equal(Enumerable.Range(1, 12), resumed.Metrics.Select(m => m.Step));
        Assert.Equal([1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2], resumed.Metrics.Select(m => m.Attempt));
        for (int i = 0; i < 12; i++) Assert.Equal(straight.Metrics[i].Loss, resumed.Metrics[i].Loss, 5);
        Assert.Equal(straight.Metrics[^1].EvalLoss!.Value, resumed.Metrics[^1].EvalLoss!.Value, 5);
        foreach (var ((name, a), (_, b)) in straightModel.named_parameters().Zip(resumedModel.named_parameters()))
            Assert.True(torch.allclose(a, b, rtol: 1e-5, atol: 1e-6), name);
        var wrongSeed = new SftTrainer(Model(4), Tok, data, [], o with { Seed = 4 });
        Assert.Contains("seed 3", Assert.Throws<InvalidDataException>(() => wrongSeed.LoadState(saved!)).Message);
    }

    static List<JsonElement> Prompts(params string[] prompts) =>
        prompts.Select(p => JsonSerializer.SerializeToElement(new { prompt = p })).ToList();

    [Fact]
    public void Grpo_raises_the_reward_of_completions_that_end_with_the_rewarded_token()
    {
        using var policy = Model(11, hidden: 32);
        using var reference = Model(11, hidden: 32);
        var rows = Prompts("a>", "b>", "c>", "d>", "e>", "ab>", "cd>", "ea>");
        var o = new GrpoOptions
        {
            Steps = 30, GroupSize = 8, PromptsPerStep = 4, MaxNewTokens = 4, LearningRate = 3e-3, BatchSize = 16,
            UpdatesPerStep = 2, KlCoef = 0.01, Seed = 5, CheckpointEvery = 100,
        };
        using var trainer = new GrpoTrainer(policy, reference, Tok, rows, new RewardSpec { Kind = RewardSpec.Suffix, Text = "!" }.Create(_ => throw new InvalidOperationException()), o);
        trainer.Run();
        var r = trainer.Metrics.Select(m => m.MeanReward!.Value).ToList();
        double early = r.Take(5).Average(), late = r.TakeLast(5).Average();
        output.WriteLine($"mean reward {early:F3} → {late:F3}; kl {trainer.Metrics[^1].Kl:F4}; clip {trainer.Metrics.Max(m => m.ClipFraction):F3}; {string.Join(" ", r.Select(x => x.ToString("F2")))}");
        Assert.True(late >= early + 0.4, $"mean reward {early:F3} → {late:F3} (margin 0.4 required)");
        Assert.All(trainer.Metrics, m => Assert.True(m.Kl >= 0 && m.RewardStd >= 0 && m.TokensPerSecond > 0));
        // Advantages spread only when rewards differ within a group: (about) 1 when they do, 0 when no group varies.
        Assert.All(trainer.Metrics, m => Assert.InRange(m.AdvantageStd!.Value, 0, 1.01));
        Assert.All(trainer.Metrics.Where(m => m.RewardStd == 0), m => Assert.Equal(0, m.AdvantageStd!.Value, 9));
        Assert.Contains(trainer.Metrics, m => m.AdvantageStd > 0.5);
        Assert.Contains(trainer.Metrics, m => m.ClipFraction > 0);   // the second pass sees ratios away from 1
    }

    [Fact]
    public void Grpo_without_a_kl_term_needs_no_reference_and_checkpointing_keeps_its_steps()
    {
        var rows = Prompts("a>", "b>", "c>", "d>");
        var o = new GrpoOptions { Steps = 2, GroupSize = 4, PromptsPerStep = 2, MaxNewTokens = 4, LearningRate = 3e-3, BatchSize = 8, KlCoef = 0, Seed = 5, CheckpointEvery = 100 };
        var reward = new RewardSpec { Kind = RewardSpec.Suffix, Text = "!" };
        List<StepMetrics> Run(bool checkpoint)
        {
            using var policy = Model(12, hidden: 32);
            using var trainer = new GrpoTrainer(policy, null, Tok, rows, reward.Create(_ => throw new InvalidOperationException()), o with { GradientCheckpointing = checkpoint });
            trainer.Run();
            return trainer.Metrics;
        }
        var plain = Run(false);
        var checkpointed = Run(true);
        Assert.All(plain.Concat(checkpointed), m => Assert.Null(m.Kl));
        Assert.Equal(plain[0].MeanReward, checkpointed[0].MeanReward);
        Assert.Equal(plain[0].Loss, checkpointed[0].Loss, 5);
        Assert.Equal(plain[0].GradNorm, checkpointed[0].GradNorm, 4);
        using var policy = Model(12, hidden: 32);
        Assert.Contains("reference", Assert.Throws<ArgumentException>(() => new GrpoTrainer(policy, null, Tok, rows, reward.Create(_ => throw new InvalidOperationException()), o with { KlCoef = 0.01 })).Message);
    }

    [Fact]
    public void The_generator_reward_asks_the_frozen_verifier_and_weighs_proof_and_self_evaluation_by_alpha_beta()
    {
        // A frozen verifier that has learnt (by SFT) to answer every verification prompt with score 1.
        const string verdict = "Here is my evaluation of the solution: every step holds.\nBased on my evaluation, the final overall score should be: \\boxed{1}";
        var ascii = CharTokenizer.Ascii();
        var problems = Enumerable.Range(0, 6).Select(i => Core.Demo.ArithmeticDomain.Problem(4, i, 1)).ToList();
        // The compact prompts: a character-level model this small learns a short prompt's answer in 150 steps.
        var set = Core.Method.Prompts.Compact;
        var examples = problems.Select(p => new SftExample(Core.Method.Prompts.RenderVerification(p.Statement, Core.Demo.ArithmeticDomain.WriteProof(p), set.Verification), verdict)).ToList();
        torch.manual_seed(21);
        using var verifier = new LlamaForCausalLM(new LlamaConfig { HiddenSize = 64, Layers = 2, Heads = 4, KvHeadsOrNull = 2, IntermediateSize = 128, VocabSize = ascii.VocabSize, MaxPositions = 2048 });
        using (var sft = new SftTrainer(verifier, ascii, examples, [], new TrainOptions { Steps = 150, BatchSize = 2, LearningRate = 1e-2, WarmupSteps = 10, MaxSeqLen = 1200 }))
        {
            sft.Run();
            output.WriteLine($"verifier SFT loss {sft.Metrics[0].Loss:F3} → {sft.Metrics[^1].Loss:F4}");
        }
        verifier.eval();
        var said = Sampler.Generate(verifier, ascii, [Core.Method.Prompts.RenderVerification(problems[0].Statement, "Some other proof.", set.Verification)], new SamplingOptions { Temperature = 0, MaxNewTokens = 200 });
        output.WriteLine($"verifier says: {said[0].Text} ({said[0].FinishReason})");

        var spec = new RewardSpec { Kind = RewardSpec.Generator, Verifier = "frozen-verifier", Prompts = set };
        string? asked = null;
        using var reward = spec.Create(id => { asked = id; return (verifier, ascii); });
        Assert.Equal("frozen-verifier", asked);
        string Generation(int selfScore) =>
            $"## Solution\n{Core.Demo.ArithmeticDomain.WriteProof(problems[0])}\n## Self Evaluation\nHere is my evaluation of the solution: fine.\n" +
            $"Based on my evaluation, the final overall score should be: \\boxed{{{selfScore}}}";
        var row = JsonSerializer.SerializeToElement(new Core.Datasets.ProblemRow { Id = problems[0].Id, Problem = problems[0].Statement }, Core.Json.Options);
        Assert.Contains("Prove that", reward.Prompt(row));
        var scores = reward.Score([
            new RewardInput(row, "", Generation(1), "stop"),
            new RewardInput(row, "", Generation(0), "stop"),
            new RewardInput(row, "", "no sections at all", "stop"),
            new RewardInput(row, "", Generation(1), "length"),
        ]);
        // R = R_format · (α·R_Y + β·(1 − |s_self − R_Y|)·R_meta), R_Y = 1 from the frozen verifier, no meta-verifier → R_meta = 1.
        Assert.Equal([1.0, 0.76, 0, 0], scores.Select(x => Math.Round(x, 6)));
    }
}
