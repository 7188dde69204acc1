using MathV2.Core.Jobs;
using System.Diagnostics;
using MathV2.Core.Datasets;
using MathV2.Core.Demo;
using MathV2.Core.Method;
using MathV2.Gpu.Worker.Bench;
using MathV2.Gpu.Worker.Jobs;
using MathV2.Gpu.Worker.Model;
using MathV2.Gpu.Worker.Text;
using MathV2.Gpu.Worker.Training;
using TorchSharp;
using MathV2.Core.Laps;
using System.Text.Json;
using Xunit.Abstractions;

namespace MathV2.Gpu.Worker.Tests;

/// <summary>
/// The demo's compact demonstrations are sized so that the lap's bootstrap (LapDefaults: the model and the sft
/// options a demo lap uses) learns every answer format on a CPU.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class DemoFormatLearningTests(ITestOutputHelper output)
{
    /// <summary>
    /// About 5 minutes on 2 cores (the bootstrap of a demo lap, its tokenizer included): held-out prompts of every kind — verification,
    /// meta-verification, generation with self-evaluation, refinement — get well-formed answers (greedy decoding).
    /// Well-formed is the format, not correctness: whether the proofs are right is what the lap report measures.
    /// </summary>
    [Fact]
    public void The_demo_bootstrap_learns_every_answer_format_from_the_compact_demonstrations()
    {
        var lap = new LapSpec();
        var o = lap.Demo.ToDatasetOptions() with { Seed = 3 };
        var (train, heldAll) = BootstrapBench.Split(DemoDatasets.Demonstrations(o));
        var held = heldAll.Where(r => r.Kind != "arithmetic").ToList();
        var options = LapDefaults.BootstrapOptions with { Seed = 1 };
        var sw = Stopwatch.StartNew();
        using var trained = BootstrapBench.Train(train, held, new ModelInit { Config = LapDefaults.BootstrapConfig, Tokenizer = lap.Bootstrap.Tokenizer, Seed = 5 }, options);
        var (model, tok) = (trained.Model, trained.Tok);
        output.WriteLine($"{train.Count} demonstrations, {options.Steps} steps, {trained.Seconds:F0} s of training; held-out loss {trained.EvalLoss:F3}");
        var byKind = held.GroupBy(r => r.Kind).ToDictionary(g => g.Key, g => g.Take(6).ToList());
        Assert.Equal(["generation", "meta-verification", "refinement", "verification"], byKind.Keys.Order());
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
            Assert.True(ok.Count(x => x) * 3 >= ok.Count * 2, $"{kind}: only {ok.Count(x => x)} of {ok.Count} held-out answers are well-formed");
        }
        output.WriteLine($"total {sw.Elapsed.TotalSeconds:F0} s");
    }
}
