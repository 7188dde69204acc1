using MathV2.Core.Bench;
using MathV2.Core.Jobs;
using MathV2.Core.Models;
using MathV2.Gpu.Worker.Model;
using MathV2.Gpu.Worker.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Bench;

/// <summary>
/// `mathv2 bench memory`: the memory plan of an sft step against the peak resident memory the worker's own step
/// reaches on CPU (model, AdamW, two training steps), for several model shapes, one with activation checkpointing. Freed tensors must go back to the
/// system for the peak to mean anything, so the process runs with MALLOC_MMAP_THRESHOLD_ set (the CLI sets it).
/// </summary>
public static class MemoryBench
{
    static readonly LlamaConfig Deep = new() { HiddenSize = 512, Layers = 12, Heads = 8, KvHeadsOrNull = 4, IntermediateSize = 1408, VocabSize = 8000, MaxPositions = 2048 };

    static readonly (string Name, LlamaConfig Config, int Batch, int Seq, bool Checkpoint)[] Configs =
    [
        ("wide", new LlamaConfig { HiddenSize = 1024, Layers = 2, Heads = 16, KvHeadsOrNull = 4, IntermediateSize = 2816, VocabSize = 4000, MaxPositions = 2048 }, 4, 512, false),
        ("deep, large vocabulary", new LlamaConfig { HiddenSize = 256, Layers = 6, Heads = 4, KvHeadsOrNull = 2, IntermediateSize = 704, VocabSize = 32000, MaxPositions = 2048 }, 8, 256, false),
        ("long sequences", new LlamaConfig { HiddenSize = 512, Layers = 4, Heads = 8, KvHeadsOrNull = 4, IntermediateSize = 1408, VocabSize = 8000, MaxPositions = 2048 }, 8, 512, false),
        ("qwen3-style, tied", new LlamaConfig { ModelType = LlamaConfig.Qwen3, HiddenSize = 512, Layers = 4, Heads = 8, KvHeadsOrNull = 2, HeadDimOrNull = 128, IntermediateSize = 1024, VocabSize = 16000, TieEmbeddings = true, MaxPositions = 2048 }, 8, 256, false),
        ("12 layers", Deep, 8, 512, false),
        ("12 layers, checkpointed", Deep, 8, 512, true),
    ];

    public static MemoryBenchResult Run(bool quick, Action<string> progress)
    {
        bool returnsMemory = Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") != null;
        if (!returnsMemory) progress("MALLOC_MMAP_THRESHOLD_ is not set: freed memory may stay with the process and the peaks read low");
        Step(Configs[0].Config with { HiddenSize = 64, Layers = 1, Heads = 4, KvHeadsOrNull = 2, IntermediateSize = 128, VocabSize = 100 }, 2, 16, false);   // kernels and threads up
        var rows = new List<MemoryBenchRow>();
        foreach (var (name, c, batch, seq, checkpoint) in quick ? Configs.Take(2) : Configs)
        {
            progress($"{name}: {MemoryPlan.Parameters(c):N0} parameters, batch {batch} × {seq}");
            var plan = MemoryPlan.Sft(c, new TrainOptions { BatchSize = batch, MaxSeqLen = seq, GradientCheckpointing = checkpoint }, 4);
            long measured = Step(c, batch, seq, checkpoint);
            rows.Add(new MemoryBenchRow(name, MemoryPlan.Parameters(c), batch, seq, plan.Total, measured, Math.Round((double)measured / plan.Total, 3),
                plan.Parts.Select(p => new MemoryBenchPart(p.Name, p.Bytes)).ToList()));
        }
        return new MemoryBenchResult
        {
            Device = "cpu", ReturnsFreedMemory = returnsMemory, Rows = rows, Tolerance = 0.15,
            Met = rows.All(r => Math.Abs(r.Ratio - 1) <= 0.15),
        };
    }

    /// <summary>Peak resident bytes above the start of: a model, its AdamW, two training steps on random tokens.</summary>
    static long Step(LlamaConfig c, int batch, int seq, bool checkpoint)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long baseline = Status("VmRSS");
        File.WriteAllText("/proc/self/clear_refs", "5");   // resets the peak (VmHWM) to the current size
        using (var scope = torch.NewDisposeScope())
        {
            torch.manual_seed(1);
            using var model = new LlamaForCausalLM(c);
            using var adam = new AdamW(model.named_parameters().Select(p => (p.name, p.parameter)), new TrainOptions());
            var ids = torch.randint(0, c.VocabSize, [batch, seq + 1], dtype: ScalarType.Int64);
            var inputs = ids[TensorIndex.Colon, TensorIndex.Slice(0, seq)].contiguous();
            var targets = ids[TensorIndex.Colon, TensorIndex.Slice(1, seq + 1)].contiguous();
            for (int i = 0; i < 2; i++)
            {
                using var step = torch.NewDisposeScope();
                adam.ZeroGrad();
                model.Backward(inputs, logits => nn.functional.cross_entropy(logits.reshape(-1, c.VocabSize), targets.reshape(-1)), checkpoint);
                adam.Step(1e-4);
            }
        }
        return Status("VmHWM") - baseline;
    }

    static long Status(string key) =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(key + ":", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
}
