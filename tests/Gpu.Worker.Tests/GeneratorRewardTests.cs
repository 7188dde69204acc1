using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Datasets;
using MathV2.Core.Method;
using MathV2.Core.Models;
using MathV2.Gpu.Worker.Model;
using MathV2.Gpu.Worker.Text;
using MathV2.Gpu.Worker.Training;
using TorchSharp;

namespace MathV2.Gpu.Worker.Tests;

/// <summary>The generator reward with a real (untrained) frozen verifier, whose outputs never parse.</summary>
public sealed class GeneratorRewardTests
{
    [Fact]
    public void A_proof_whose_verifier_output_does_not_parse_is_masked_and_a_badly_written_one_gets_0()
    {
        var tok = CharTokenizer.Ascii();
        torch.manual_seed(3);
        var model = new LlamaForCausalLM(new LlamaConfig { HiddenSize = 32, Layers = 1, Heads = 4, KvHeadsOrNull = 2, IntermediateSize = 64, VocabSize = tok.VocabSize, MaxPositions = 1024 });
        var prompts = Prompts.Set("compact");
        using var reward = new GeneratorReward(new RewardModel((model, tok), 8, prompts), null, new GeneratorRewardOptions(), prompts);
        var row = JsonSerializer.SerializeToElement(new ProblemRow { Id = "p1", Problem = "Prove that 2 + 2 = 4." }, Json.Options);
        string wellFormed = Oracle().Trim();
        Assert.True(Parsers.Generation(wellFormed).FormatOk);
        var rewards = reward.Score([new RewardInput(row, "", wellFormed, "stop"), new RewardInput(row, "", "no format at all", "stop")]);
        Assert.True(Rewards.IsMasked(rewards[0]), $"reward {rewards[0]}");   // the verifier wrote 8 characters of noise
        Assert.Equal(0, rewards[1]);
    }

    [Fact]
    public void The_proof_reward_scores_a_proof_without_a_self_evaluation_and_gives_0_to_no_proof()
    {
        var tok = CharTokenizer.Ascii();
        torch.manual_seed(3);
        var model = new LlamaForCausalLM(new LlamaConfig { HiddenSize = 32, Layers = 1, Heads = 4, KvHeadsOrNull = 2, IntermediateSize = 64, VocabSize = tok.VocabSize, MaxPositions = 1024 });
        var prompts = Prompts.Set("compact");
        var spec = new Core.Jobs.RewardSpec { Kind = Core.Jobs.RewardSpec.Proof, Verifier = "v", Prompts = prompts, RewardMaxNewTokens = 8, RewardSamples = 3, RewardTemperature = 1 };
        using var reward = spec.Create(_ => (model, tok));
        var row = JsonSerializer.SerializeToElement(new ProblemRow { Id = "p1", Problem = "Prove that 2 + 2 = 4." }, Json.Options);
        Assert.Equal(Prompts.RenderGeneration("Prove that 2 + 2 = 4.", prompts.Generation), reward.Prompt(row));
        var rewards = reward.Score([
            new RewardInput(row, "", "## Solution\nStep 1: 2 + 2 = 4.", "stop"),
            new RewardInput(row, "", "no proof here", "stop"),
            new RewardInput(row, "", "## Solution\nStep 1: 2 +", "length"),
        ]);
        // The untrained verifier's 3 sampled analyses never parse: the proof is masked (not punished); no proof is 0.
        Assert.True(Rewards.IsMasked(rewards[0]), $"reward {rewards[0]}");
        Assert.Equal([0.0, 0.0], rewards[1..]);
    }

    [Fact]
    public void Several_reward_samples_average_the_scores_that_parse()
    {
        static AnalysisParse A(string box) => Parsers.Verification($"Here is my evaluation of the solution: x. Based on my evaluation, the final overall score should be: \\boxed{{{box}}}");
        Assert.Equal(0.5, RewardModel.Mean([A("1"), A("0"), A("0.7")]));
        Assert.Equal(0.5, RewardModel.Mean([A("1"), A("0.5"), A("0")]));
        Assert.Null(RewardModel.Mean([A("0.7"), Parsers.Verification("noise")]));
    }

    static string Oracle() =>
        "## Solution\nStep 1: 2 + 2 = 4.\n## Self Evaluation\nHere is my evaluation of the solution: every step is right. " +
        "Based on my evaluation, the final overall score should be: \\boxed{1}";
}
