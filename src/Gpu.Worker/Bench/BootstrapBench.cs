using MathV2.Core.Bench;
using MathV2.Core.Jobs;
using System.Diagnostics;
using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Datasets;
using MathV2.Core.Demo;
using MathV2.Core.Laps;
using MathV2.Core.Method;
using MathV2.Gpu.Worker.Jobs;
using MathV2.Gpu.Worker.Model;
using MathV2.Gpu.Worker.Text;
using MathV2.Gpu.Worker.Training;
using TorchSharp;

namespace MathV2.Gpu.Worker.Bench;

/// <summary>Settings of `mathv2 bench bootstrap`: which tokenizers to compare, and the sft steps (the lap's by default).</summary>
public sealed record BootstrapBenchOptions
{
    public IReadOnlyList<string> Tokenizers { get; init; } = ["char", "words"];
    public int? Steps { get; init; }
    public int HeldOutPerDifficulty { get; init; } = 8;
    public bool Quick { get; init; }
    /// <summary>Overrides of the lap's bootstrap model (hidden size, layers) and demo size, for experiments.</summary>
    public int? Hidden { get; init; }
    public int? Layers { get; init; }
    public int? ProblemsPerDifficulty { get; init; }
    public int? FactProblemsPerDifficulty { get; init; }
    public double? LearningRate { get; init; }
    public int? FactRepeats { get; init; }
    public int? FactChecks { get; init; }
    /// <summary>Seeds the model's initial weights and the sft order (default: 5 and 1, the seeds of the measured runs).</summary>
    public int? Seed { get; init; }
    /// <summary>Overrides the lap's curriculum: its first steps on the arithmetic rows only.</summary>
    public int? CurriculumSteps { get; init; }
}

/// <summary>
/// What a demo lap's bootstrap (phase 1A's sft: LapDefaults' model and options on the demo's demonstrations) can do
/// before any RL, measured the way the lap report measures it on held-out problems: verification accuracy on the
/// graded proofs, and the oracle pass rate of its proofs (greedy and sampled) — once per tokenizer, same seeds.
/// </summary>
public static class BootstrapBench
{
    /// <summary>The sft job's default split: demonstrations whose prompt hashes into the 10% share are held out.</summary>
    public static (List<DemonstrationRow> Train, List<DemonstrationRow> Held) Split(IEnumerable<DemonstrationRow> rows, double share = 0.1)
    {
        var all = rows.ToList();
        return (all.Where(r => !Splits.IsValidation(r.Prompt, share)).ToList(), all.Where(r => Splits.IsValidation(r.Prompt, share)).ToList());
    }

    /// <summary>A bootstrap trained as phase 1A's sft job trains it: a model from scratch (its tokenizer built from train), then sft.</summary>
    public sealed record TrainedBootstrap(LlamaForCausalLM Model, ITokenizer Tok, int TrainTokens, double? EvalLoss, double Seconds) : IDisposable
    {
        public void Dispose() => Model.Dispose();
    }

    public static TrainedBootstrap Train(IReadOnlyList<DemonstrationRow> train, IReadOnlyList<DemonstrationRow> eval, ModelInit init, TrainOptions options)
    {
        var examples = train.Select(r => new SftExample(r.Prompt, r.Completion, r.Kind)).ToList();
        var (model, tok) = ModelArtifacts.Create(init, train.SelectMany(e => new[] { e.Prompt, e.Completion }));
        int tokens = examples.Sum(e => tok.Encode(e.Prompt).Length + tok.Encode(e.Completion).Length + 1);
        var sw = Stopwatch.StartNew();
        double? evalLoss;
        using (var sft = new SftTrainer(model, tok, examples, eval.Select(r => new SftExample(r.Prompt, r.Completion)).ToList(), options))
        {
            sft.Run();
            evalLoss = sft.Metrics.LastOrDefault(m => m.EvalLoss != null)?.EvalLoss;
        }
        model.eval();
        return new TrainedBootstrap(model, tok, tokens, evalLoss, sw.Elapsed.TotalSeconds);
    }

    public static BootstrapBenchResult Run(BootstrapBenchOptions o, Action<string> progress)
    {
        var lap = new LapSpec();
        var demo = lap.Demo.ToDatasetOptions() with
        {
            ProblemsPerDifficulty = o.ProblemsPerDifficulty ?? lap.Demo.ProblemsPerDifficulty,
            FactProblemsPerDifficulty = o.FactProblemsPerDifficulty ?? lap.Demo.FactProblemsPerDifficulty,
            FactRepeats = o.FactRepeats ?? lap.Demo.FactRepeats,
            FactChecks = o.FactChecks ?? lap.Demo.FactChecks,
        };
        var set = demo.Prompts;
        var (train, eval) = Split(DemoDatasets.Demonstrations(demo));
        int perDifficulty = o.Quick ? 1 : o.HeldOutPerDifficulty;
        var problems = DemoDatasets.HeldOutProblems(demo, perDifficulty);
        var graded = DemoDatasets.HeldOutGradedProofs(demo, perDifficulty).ToList();
        var options = LapDefaults.BootstrapOptions with { Seed = 1 };
        if (o.Steps is { } s) options = options with { Steps = s, EvalEvery = Math.Min(options.EvalEvery, s), CheckpointEvery = Math.Min(options.CheckpointEvery, s) };
        if (o.LearningRate is { } lr) options = options with { LearningRate = lr };
        if (o.Seed is { } seed) options = options with { Seed = seed };
        if (o.CurriculumSteps is { } cs) options = options with { CurriculumSteps = cs, CurriculumKinds = cs > 0 ? ["arithmetic"] : [] };
        if (o.Quick) options = options with { Steps = 2, EvalEvery = 2, CheckpointEvery = 2 };
        // Fewer steps than the lap's: the curriculum keeps its share of them.
        if (options.CurriculumSteps >= options.Steps) options = options with { CurriculumSteps = options.Steps / 5 };
        var results = new List<BootstrapBenchRow>();
        foreach (string tokenizer in o.Tokenizers)
        {
            progress($"{tokenizer}: training the bootstrap ({options.Steps} steps on {train.Count} demonstrations" +
                (options.CurriculumSteps > 0 ? $", the first {options.CurriculumSteps} on {string.Join(", ", options.CurriculumKinds)} only)" : ")"));
            var config = LapDefaults.BootstrapConfig;
            if (o.Hidden is { } h) config = config with { HiddenSize = h, IntermediateSize = h * 11 / 4 };
            if (o.Layers is { } l) config = config with { Layers = l };
            var init = new ModelInit { Config = config, Tokenizer = tokenizer, Seed = o.Seed ?? 5 };
            var sw = Stopwatch.StartNew();
            using var trained = Train(train, eval, init, options);
            var (model, tok, trainTokens, evalLoss, trainSeconds) = trained;
            int maxNew = o.Quick ? 8 : lap.Evaluation.MaxNewTokens;
            progress($"{tokenizer}: verifying {graded.Count} held-out proofs");
            var verdicts = Sampler.Generate(model, tok, graded.Select(g => Prompts.RenderVerification(g.Problem, g.Proof, set.Verification)).ToList(),
                new SamplingOptions { Temperature = 0, MaxNewTokens = maxNew });
            var verifier = LapMeasures.Verifier("verifier", graded, verdicts.Select((v, i) => new SampleCompletion { Id = $"row-{i}", Completion = v.Text, FinishReason = v.FinishReason }).ToList());
            // Held-out graded proofs come one per defect kind, in ProofDefect order.
            var verifierByDefect = graded.Select((g, i) => (Defect: (ProofDefect)(i % 4), Right: Parsers.Verification(verdicts[i].Text, verdicts[i].FinishReason).Score == g.Score))
                .GroupBy(x => x.Defect).ToDictionary(g => g.Key.ToString(), g => Math.Round(g.Average(x => x.Right ? 1.0 : 0), 4));
            // The comparison alone: greedy verdicts of step checks (half with a wrong claim) after "Arithmetic checks:".
            var checks = DemoDatasets.FactCheckLines(demo with { FactChecks = 1, FactProblemsPerDifficulty = Math.Max(demo.FactProblemsPerDifficulty, 50), Seed = demo.Seed + 1000 })
                .Take(o.Quick ? 4 : 200).Select(l => (Prompt: "Arithmetic checks:\n" + l[..(l.IndexOf(" says ", StringComparison.Ordinal) + 6)] + l[(l.IndexOf(" says ", StringComparison.Ordinal) + 6)..].Split(',', ';')[0],
                    Verdict: l[(l.LastIndexOf(", ", StringComparison.Ordinal) + 2)..^1])).ToList();
            var checkOut = Sampler.Generate(model, tok, checks.Select(c => c.Prompt).ToList(), new SamplingOptions { Temperature = 0, MaxNewTokens = 16 });
            double checkAccuracy = checks.Count == 0 ? 0 : Math.Round(checks.Select((c, i) => System.Text.RegularExpressions.Regex.Match(checkOut[i].Text, "right|wrong").Value == c.Verdict ? 1.0 : 0).Average(), 4);
            var generation = new Dictionary<string, BootstrapGeneration>();
            foreach (var (name, temperature) in new[] { ("greedy", 0.0), ("sampled", 1.0) })
            {
                progress($"{tokenizer}: proving {problems.Count} held-out problems ({name})");
                var proofs = Sampler.Generate(model, tok, problems.Select(p => Prompts.RenderGeneration(p.Statement, set.Generation)).ToList(),
                    new SamplingOptions { Temperature = temperature, MaxNewTokens = maxNew, Seed = 7 });
                var m = LapMeasures.Generator("generator", proofs.Select((p, i) => new SampleCompletion { Id = problems[i].Id, Completion = p.Text, FinishReason = p.FinishReason }).ToList());
                var byDifficulty = problems.Select((p, i) => (p.Difficulty, Pass: Oracle.ScoreProof(p, Parsers.Generation(proofs[i].Text, proofs[i].FinishReason).Proof ?? "").Score == 1))
                    .GroupBy(x => x.Difficulty).OrderBy(g => g.Key).ToDictionary(g => $"level{g.Key}", g => Math.Round(g.Average(x => x.Pass ? 1.0 : 0), 4));
                generation[name] = new BootstrapGeneration { OraclePassRate = m.GetValueOrDefault("generator.oraclePassRate"), ByDifficulty = byDifficulty, FormatRate = m.GetValueOrDefault("generator.formatRate"),
                    Examples = problems.Select((p, i) => (p, proofs[i].Text)).Where(x => x.p.Difficulty > 1).Take(3).Select(x => $"{x.p.Statement}\n{x.Text}").ToList() };
            }
            results.Add(new BootstrapBenchRow
            {
                Tokenizer = tokenizer, Vocab = tok.VocabSize, Config = init.Config, Demonstrations = train.Count, ProblemsPerDifficulty = demo.ProblemsPerDifficulty,
                FactProblemsPerDifficulty = demo.FactProblemsPerDifficulty, Steps = options.Steps, CurriculumSteps = options.CurriculumSteps, TrainTokens = trainTokens,
                TrainSeconds = Math.Round(trainSeconds, 1), EvalLoss = evalLoss,
                VerifierAccuracy = verifier.GetValueOrDefault("verifier.accuracy"), VerifierFormatRate = verifier.GetValueOrDefault("verifier.formatRate"), VerifierByDefect = verifierByDefect, CheckAccuracy = checkAccuracy,
                VerifierMisses = graded.Select((g, i) => (Defect: (ProofDefect)(i % 4), i)).Where(x => Parsers.Verification(verdicts[x.i].Text, verdicts[x.i].FinishReason).Score != graded[x.i].Score)
                    .GroupBy(x => x.Defect).ToDictionary(g => g.Key.ToString(), g => $"{graded[g.First().i].Proof}\n---\n{verdicts[g.First().i].Text}"),
                Generation = generation, TotalSeconds = Math.Round(sw.Elapsed.TotalSeconds, 1),
            });
        }
        return new BootstrapBenchResult { Device = ModelArtifacts.Device.type.ToString().ToLowerInvariant(), Threads = torch.get_num_threads(), HeldOutProblems = problems.Count, HeldOutProofs = graded.Count, Results = results };
    }
}
