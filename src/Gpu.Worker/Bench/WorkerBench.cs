using MathV2.Core.Bench;
using MathV2.Core.Jobs;
using MathV2.Core.Models;
using System.Diagnostics;
using MathV2.Core.Probes;
using MathV2.Gpu.Worker.Jobs;
using MathV2.Gpu.Worker.Model;
using MathV2.Gpu.Worker.Text;
using MathV2.Gpu.Worker.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Bench;

/// <summary>Settings of `mathv2 bench worker`; Quick shrinks everything for a smoke test.</summary>
public sealed record WorkerBenchOptions
{
    public bool Quick { get; init; }
    public int TrainSteps { get; init; } = 10;
    public int NewTokens { get; init; } = 256;
    /// <summary>Tokens each of the G completions samples in the group-sampling measure.</summary>
    public int GroupNewTokens { get; init; } = 64;
}

/// <summary>
/// Training throughput and model FLOP utilisation against the matmul GFLOP/s measured in the same process
/// (training FLOPs per token = 6·N + 12·layers·hidden·seq, N the non-embedding parameters plus the LM head),
/// and sampling throughput with vs. without the KV cache and batched vs. one by one.
/// </summary>
public static class WorkerBench
{
    public static readonly LlamaConfig Demo = new() { HiddenSize = 128, Layers = 4, Heads = 4, KvHeadsOrNull = 2, IntermediateSize = 352, VocabSize = CharTokenizer.Ascii().VocabSize, MaxPositions = 2048 };
    public static readonly LlamaConfig Larger = new() { HiddenSize = 512, Layers = 4, Heads = 8, KvHeadsOrNull = 4, IntermediateSize = 1408, VocabSize = CharTokenizer.Ascii().VocabSize, MaxPositions = 2048 };

    public static WorkerBenchResult Run(WorkerBenchOptions o, Action<string> progress)
    {
        var device = ModelArtifacts.Device;
        var demo = o.Quick ? Demo with { HiddenSize = 32, Layers = 1, IntermediateSize = 64 } : Demo;
        var larger = o.Quick ? Larger with { HiddenSize = 64, Layers = 1, IntermediateSize = 128 } : Larger;
        int newTokens = o.Quick ? 16 : o.NewTokens;
        progress("matmul baseline");
        ProbeResult Matmul(double minSeconds) => ProbeJob.Measure(new ProbeParameters { Size = o.Quick ? 128 : 1024, Repeats = 3, MinSeconds = o.Quick ? 0.2 : minSeconds }, "bench");
        var matmul = Matmul(3);
        var training = new List<TrainingBench>();
        double lastMatmul = matmul.Gflops;
        foreach (var (name, c, batch, seq) in new[] { ("demo", demo, 8, o.Quick ? 32 : 256), ("larger", larger, 8, o.Quick ? 32 : 256) })
        {
            progress($"training {name}");
            var (bench, gflops) = Train(name, c, batch, seq, o.Quick ? 2 : o.TrainSteps, device);
            // MFU against the matmul measured just before and just after (this VM's speed drifts within a run).
            double after = Matmul(1.5).Gflops;
            double baseline = (lastMatmul + after) / 2;
            training.Add(bench with { Mfu = Math.Round(gflops / baseline, 3), MatmulGflops = Math.Round(baseline, 2) });
            lastMatmul = after;
        }
        progress("sampling demo");
        var sampling = Sample("demo", demo, newTokens, o.Quick ? 2 : 8, device);
        progress("group sampling demo (G = 8)");
        var group = GroupSample("demo", demo, group: 8, promptTokens: o.Quick ? 64 : 700, newTokens: o.Quick ? 4 : o.GroupNewTokens, device);
        progress("the demo bootstrap: continuous batching and sft packing on the demo's demonstrations");
        var (continuous, packing) = DemoWorkloads(o.Quick, device);
        return new WorkerBenchResult
        {
            Device = matmul.Device,
            Threads = matmul.Threads,
            MatmulGflops = Math.Round(matmul.Gflops, 2),
            Training = training,
            Sampling = sampling,
            GroupSampling = group,
            ContinuousBatching = continuous,
            SftPacking = packing,
            Targets = new WorkerBenchTargets
            {
                ContinuousBatchingSpeedup = 1.5,
                ContinuousBatchingSpeedupMet = continuous.Speedup >= 1.5,
                SftPackingSpeedup = 1.5,
                SftPackingSpeedupMet = packing.Speedup >= 1.5,
                SharedPrefillSpeedup = 2.0,
                SharedPrefillSpeedupMet = group.Speedup >= 2,
                TrainingMfuLarger = 0.35,
                TrainingMfuLargerMet = training[1].Mfu >= 0.35,
                TrainingMfuDemo = 0.55,
                TrainingMfuDemoMet = training[0].Mfu >= 0.55,
                CacheSpeedup = 5.0,
                CacheSpeedupMet = sampling.CacheSpeedup >= 5,
            },
        };
    }

    /// <summary>Steady-state training of a fresh model on random tokens: a few warm-up steps, then the timed ones; its Mfu left for the caller.</summary>
    static (TrainingBench Bench, double Gflops) Train(string name, LlamaConfig c, int batch, int seq, int steps, Device device)
    {
        torch.manual_seed(1);
        using var model = new LlamaForCausalLM(c);
        model.to(device);
        long all = model.parameters().Sum(p => p.numel());
        long embedding = (long)c.VocabSize * c.HiddenSize;
        long n = all - embedding + (c.TieEmbeddings ? embedding : 0);
        double flopsPerToken = 6.0 * n + 12.0 * c.Layers * c.HiddenSize * seq;
        using var adam = new AdamW(model.named_parameters().Select(p => (p.name, p.parameter)), new TrainOptions());
        var gen = new Random(3);
        var ids = Enumerable.Range(0, batch * (seq + 1)).Select(_ => (long)gen.Next(4, c.VocabSize)).ToArray();
        using var data = torch.tensor(ids, [batch, seq + 1], device: device);
        using var inputs = data[TensorIndex.Colon, TensorIndex.Slice(0, seq)].contiguous();
        using var targets = data[TensorIndex.Colon, TensorIndex.Slice(1, seq + 1)].contiguous();
        void Step()
        {
            using var scope = torch.NewDisposeScope();
            adam.ZeroGrad();
            var logits = model.Forward(inputs);
            nn.functional.cross_entropy(logits.reshape(-1, c.VocabSize), targets.reshape(-1)).backward();
            adam.Step(1e-4);
        }
        for (int i = 0; i < Math.Min(3, steps); i++) Step();   // warm-up: the first steps allocate and page in
        Sync(device);
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) Step();
        Sync(device);
        double tps = (double)batch * seq * steps / sw.Elapsed.TotalSeconds;
        double gflops = tps * flopsPerToken / 1e9;
        return (new TrainingBench(name, all, batch, seq, Math.Round(tps, 1), Math.Round(gflops, 2), 0), gflops);
    }

    static SamplingBench Sample(string name, LlamaConfig c, int newTokens, int batch, Device device)
    {
        var tok = CharTokenizer.Ascii();
        torch.manual_seed(2);
        using var model = new LlamaForCausalLM(c);
        model.to(device);
        model.eval();
        var greedy = new SamplingOptions { Temperature = 0, MaxNewTokens = newTokens };
        // The demo's own workload: a verification prompt for a demo problem and its reference proof.
        var problem = Core.Demo.ArithmeticDomain.Problem(1, 0, 3);
        string prompt = Core.Method.Prompts.RenderVerification(problem.Statement, Core.Demo.ArithmeticDomain.WriteProof(problem));
        double Rate(IReadOnlyList<string> prompts, bool cache)
        {
            var sw = Stopwatch.StartNew();
            var s = Sampler.Generate(model, tok, prompts, greedy, useCache: cache);
            // Untrained models rarely emit EOS; count what was generated.
            return s.Sum(x => x.Tokens.Length + (x.EndedWithEos ? 1 : 0)) / sw.Elapsed.TotalSeconds;
        }
        Rate([prompt], true);   // warm-up
        double cached = Rate([prompt], true), uncached = Rate([prompt], false);
        const string shortPrompt = "Prove that 12 + 30 = 42.";
        double shortCached = Rate([shortPrompt], true), shortUncached = Rate([shortPrompt], false);
        var prompts = Enumerable.Range(0, batch).Select(i =>
        {
            var p = Core.Demo.ArithmeticDomain.Problem(1, i, 3);
            return Core.Method.Prompts.RenderVerification(p.Statement, Core.Demo.ArithmeticDomain.WriteProof(p));
        }).ToList();
        double batched = Rate(prompts, true);
        var sw = Stopwatch.StartNew();
        long tokens = prompts.Sum(p => Sampler.Generate(model, tok, [p], greedy).Sum(x => x.Tokens.Length + (x.EndedWithEos ? 1 : 0)));
        double oneByOne = tokens / sw.Elapsed.TotalSeconds;
        return new SamplingBench(name, tok.Encode(prompt).Length + 1, newTokens, Math.Round(cached, 1), Math.Round(uncached, 1), Math.Round(cached / uncached, 2),
            tok.Encode(shortPrompt).Length + 1, Math.Round(shortCached / shortUncached, 2),
            batch, Math.Round(batched, 1), Math.Round(oneByOne, 1), Math.Round(batched / oneByOne, 2));
    }

    /// <summary>
    /// G samples of one prompt of the given length (the demo's verification prompts, joined until long enough), as a
    /// GRPO step samples them: the prefill shared by the group vs. every row prefilling the prompt, same seed.
    /// </summary>
    static GroupSamplingBench GroupSample(string name, LlamaConfig c, int group, int promptTokens, int newTokens, Device device)
    {
        var tok = CharTokenizer.Ascii();
        torch.manual_seed(2);
        using var model = new LlamaForCausalLM(c);
        model.to(device);
        model.eval();
        var text = new System.Text.StringBuilder();
        for (int i = 0; text.Length < promptTokens - 1; i++)
        {
            var p = Core.Demo.ArithmeticDomain.Problem(1 + i % 2, i, 3);
            text.Append(Core.Method.Prompts.RenderVerification(p.Statement, Core.Demo.ArithmeticDomain.WriteProof(p)));
        }
        string prompt = text.ToString()[..(promptTokens - 1)];
        var prompts = Enumerable.Repeat(prompt, group).ToList();
        var o = new SamplingOptions { Temperature = 1.0, MaxNewTokens = newTokens, Seed = 5 };
        double Seconds(bool share, int tokens)
        {
            var sw = Stopwatch.StartNew();
            Sampler.Generate(model, tok, prompts, o with { SharePrefill = share, MaxNewTokens = tokens });
            Sync(device);
            return sw.Elapsed.TotalSeconds;
        }
        Seconds(true, newTokens);   // warm-up
        var (separate, shared) = Paired(() => Seconds(false, newTokens), () => Seconds(true, newTokens), lowerIsBetter: true);
        var (separateFirst, sharedFirst) = Paired(() => Seconds(false, 1), () => Seconds(true, 1), lowerIsBetter: true);
        return new GroupSamplingBench(name, group, ((ITokenizer)tok).EncodePrompt(prompt).Length, newTokens, Math.Round(shared, 3), Math.Round(separate, 3), Math.Round(separate / shared, 2),
            Math.Round(sharedFirst, 3), Math.Round(separateFirst, 3), Math.Round(separateFirst / sharedFirst, 2));
    }

    /// <summary>
    /// The demo lap's bootstrap model and tokenizer (LapDefaults, words) on the lap's demonstrations: sampling their
    /// completions' lengths (each row stops where its demonstration's completion ends: an untrained model rarely
    /// emits EOS) with continuous batching vs. static batches of the sample job's size; and sft steps of the lap's
    /// batch size packed vs. padded, in useful (non-padding) tokens per second.
    /// </summary>
    static (ContinuousBatchingBench, SftPackingBench) DemoWorkloads(bool quick, Device device)
    {
        var lap = new Core.Laps.LapSpec();
        var demo = lap.Demo.ToDatasetOptions();
        var rows = Core.Demo.DemoDatasets.Demonstrations(demo).ToList();
        var order = Enumerable.Range(0, rows.Count).ToArray();
        new Random(17).Shuffle(order);
        var config = Core.Laps.LapDefaults.BootstrapConfig;
        if (quick) config = config with { HiddenSize = 32, Layers = 1, IntermediateSize = 64 };
        var init = new ModelInit { Config = config, Tokenizer = "words", Seed = 5 };
        torch.manual_seed(5);
        var (model, tok) = ModelArtifacts.Create(init, rows.SelectMany(r => new[] { r.Prompt, r.Completion }));
        using var _ = model;
        model.to(device);

        // Sampling: the sample job's batch size (16) over the demonstrations' prompts, each to its completion's length.
        model.eval();
        var picked = order.Take(quick ? 8 : 96).Select(i => rows[i]).ToList();
        var limits = picked.Select(r => tok.Encode(r.Completion).Length + 1).ToList();
        int batch = quick ? 4 : 16;
        var o = new SamplingOptions { Temperature = 1.0, MaxNewTokens = limits.Max(), Seed = 3, BatchSize = batch, RowMaxNewTokens = limits };
        var prompts = picked.Select(r => r.Prompt).ToList();
        double Rate(bool refill)
        {
            var sw = Stopwatch.StartNew();
            var samples = Sampler.Generate(model, tok, prompts, o with { Refill = refill });
            Sync(device);
            return samples.Sum(x => x.Tokens.Length + (x.EndedWithEos ? 1 : 0)) / sw.Elapsed.TotalSeconds;
        }
        Rate(true);   // warm-up
        var (staticRate, continuousRate) = Paired(() => Rate(false), () => Rate(true), lowerIsBetter: false);
        var continuous = new ContinuousBatchingBench("bootstrap", prompts.Count, batch, (int)limits.Average(), limits.Max(),
            Math.Round(continuousRate, 1), Math.Round(staticRate, 1), Math.Round(continuousRate / staticRate, 2));

        // Sft: the lap's options (batch 8, its sequence limit) on the demonstrations, same steps both ways.
        model.train();
        var examples = rows.Select(r => new SftExample(r.Prompt, r.Completion, r.Kind)).ToList();
        int steps = quick ? 2 : 60, warmup = quick ? 1 : 5;
        var options = Core.Laps.LapDefaults.BootstrapOptions with
        {
            Steps = warmup + steps, WarmupSteps = 1, CurriculumSteps = 0, CurriculumKinds = [], EvalEvery = warmup + steps, CheckpointEvery = warmup + steps, Seed = 1,
        };
        // The two trainers alternate step by step after warm-up steps of each (this VM's speed drifts within
        // seconds); each step's own time and tokens are summed.
        using var padded = new SftTrainer(model, tok, examples, [], options with { Pack = false });
        using var packed = new SftTrainer(model, tok, examples, [], options with { Pack = true });
        double paddedSeconds = 0, packedSeconds = 0, paddedTokens = 0, packedTokens = 0;
        for (int i = 0; i < warmup + steps; i++)
        {
            long before = padded.TokensSeen;
            double a = padded.RunStep().Seconds;
            long between = packed.TokensSeen;
            double b = packed.RunStep().Seconds;
            if (i < warmup) continue;
            (paddedSeconds, paddedTokens) = (paddedSeconds + a, paddedTokens + padded.TokensSeen - before);
            (packedSeconds, packedTokens) = (packedSeconds + b, packedTokens + packed.TokensSeen - between);
        }
        double paddedRate = paddedTokens / paddedSeconds, packedRate = packedTokens / packedSeconds;
        var packing = new SftPackingBench("bootstrap", options.BatchSize, steps, Math.Round(1 - (double)padded.TokensSeen / padded.CellsComputed, 3),
            Math.Round(packedRate, 1), Math.Round(paddedRate, 1), Math.Round(packedRate / paddedRate, 2));
        return (continuous, packing);
    }

    /// <summary>Pairs of measures alternated this many times; the pair of median ratio is reported (this VM's speed drifts within a run).</summary>
    const int Repeats = 3;

    /// <summary>Baseline and candidate measured alternately <see cref="Repeats"/> times; the pair whose ratio is the median.</summary>
    static (double Baseline, double Candidate) Paired(Func<double> baseline, Func<double> candidate, bool lowerIsBetter)
    {
        var pairs = Enumerable.Range(0, Repeats).Select(_ => (Baseline: baseline(), Candidate: candidate())).ToList();
        return pairs.OrderBy(p => lowerIsBetter ? p.Baseline / p.Candidate : p.Candidate / p.Baseline).ElementAt(Repeats / 2);
    }

    static void Sync(Device device)
    {
        if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
    }
}
