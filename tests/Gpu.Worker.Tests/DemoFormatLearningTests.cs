using System.Diagnostics;
using MathV2.Core.Datasets;
using MathV2.Core.Demo;
using MathV2.Core.Method;
using MathV2.Gpu.Worker.Model;
using MathV2.Gpu.Worker.Text;
using MathV2.Gpu.Worker.Training;
using TorchSharp;
using Xunit.Abstractions;

namespace MathV2.Gpu.Worker.Tests;

/// <summary>The demo's compact demonstrations are sized so that a tiny model learns the answer formats on a CPU.</summary>
public sealed class DemoFormatLearningTests(ITestOutputHelper output)
{
    /// <summary>
    /// ~90 s on 2 cores: the verification and meta-verification formats are learnt; proof writing (generation,
    /// refinement) needs more training than a unit test can afford and is only reported here (the lap's bootstrap
    /// trains longer and its report measures it).
    /// </summary>
    [Fact]
    public void A_tiny_model_learns_the_verification_formats_from_the_compact_demonstrations()
    {
        var o = new DemoDatasetOptions { Seed = 3, ProblemsPerDifficulty = 20, MaxDifficulty = 2, Prompts = "compact" };
        var rows = DemoDatasets.Demonstrations(o).ToList();
        var train = rows.Where(r => !Splits.IsValidation(r.Prompt, 0.1)).Select(r => new SftExample(r.Prompt, r.Completion)).ToList();
        var held = rows.Where(r => Splits.IsValidation(r.Prompt, 0.1)).ToList();
        var tok = CharTokenizer.Ascii();
        torch.manual_seed(5);
        using var model = new LlamaForCausalLM(new LlamaConfig { HiddenSize = 64, Layers = 2, Heads = 4, KvHeadsOrNull = 2, IntermediateSize = 176, VocabSize = tok.VocabSize, MaxPositions = 1024 });
        var sw = Stopwatch.StartNew();
        using (var sft = new SftTrainer(model, tok, train, held.Select(r => new SftExample(r.Prompt, r.Completion)).ToList(),
            new TrainOptions { Steps = 350, BatchSize = 8, LearningRate = 6e-3, WarmupSteps = 20, EvalEvery = 100, MaxSeqLen = 1024, Seed = 1 }))
        {
            sft.Run();
            output.WriteLine($"{train.Count} demonstrations, {sft.Metrics.Sum(m => m.Seconds):F0} s of training; held-out loss {sft.Metrics[^1].EvalLoss:F3}");
        }
        model.eval();
        var byKind = held.GroupBy(r => r.Kind).ToDictionary(g => g.Key, g => g.Take(6).ToList());
        foreach (var (kind, items) in byKind)
        {
            var samples = Sampler.Generate(model, tok, items.Select(r => r.Prompt).ToList(), new SamplingOptions { Temperature = 0, MaxNewTokens = 600 });
            var parsed = samples.Select(s => kind switch
            {
                "verification" => (Parsers.Verification(s.Text, s.FinishReason) is var a ? (a.FormatOk, a.Failure) : default),
                "meta-verification" => (Parsers.MetaVerification(s.Text, s.FinishReason) is var m ? (m.FormatOk, m.Failure) : default),
                _ => (Parsers.Generation(s.Text, s.FinishReason) is var g ? (g.FormatOk, g.Failure) : default),
            }).ToList();
            var ok = parsed.Select(p => p.FormatOk).ToList();
            output.WriteLine($"{kind}: {ok.Count(x => x)}/{ok.Count} well-formed ({string.Join(", ", parsed.Where(p => !p.FormatOk).Select(p => p.Failure))}); e.g. {samples[0].Text.Replace("\n", " | ")}");
            if (kind is "verification" or "meta-verification")
                Assert.True(ok.Count(x => x) >= ok.Count - 1, $"{kind}: only {ok.Count(x => x)} of {ok.Count} held-out answers are well-formed");
        }
        output.WriteLine($"total {sw.Elapsed.TotalSeconds:F0} s");
    }
}
