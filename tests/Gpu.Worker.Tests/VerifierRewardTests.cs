using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Models;
using MathV2.Gpu.Worker.Model;
using MathV2.Gpu.Worker.Text;
using TorchSharp;
using MathV2.Core.Datasets;
using MathV2.Core.Demo;
using MathV2.Core.Method;
using MathV2.Gpu.Worker.Training;

namespace MathV2.Gpu.Worker.Tests;

public sealed class VerifierRewardTests
{
    /// <summary>
    /// Verifier v2's R_meta: the frozen meta-verifier must see the analysis as written. Its training prompts carry
    /// whole analyses (lead phrase … boxed score); given only the parser's inner text it judged every analysis 0,
    /// so the reward was 0 for every sample and verifier v2 never learnt from it.
    /// </summary>
    [Fact]
    public void The_meta_verifier_judges_the_whole_analysis_the_policy_wrote()
    {
        var p = ArithmeticDomain.Problem(1, 0, 2);
        string proof = ArithmeticDomain.WriteProof(p, ProofDefect.FalseStep, 1);
        var row = new GradedProofRow { ProblemId = p.Id, Problem = p.Statement, Proof = proof, Score = 0 };
        string analysis = Oracle.WriteAnalysis(Oracle.ScoreProof(p, proof).Defects, proof: proof);
        var input = new RewardInput(JsonSerializer.SerializeToElement(row), "prompt", analysis + "\n", "stop");
        var (problem, shownProof, shown) = VerifierReward.MetaItems([row], [input]).Single();
        Assert.Equal((p.Statement, proof, analysis), (problem, shownProof, shown));
        Assert.StartsWith(Prompts.VerificationLead.Phrase, shown);
        Assert.Equal(0, Parsers.Verification(shown).Score);   // the score the meta-verifier checks is in what it sees
    }

    [Fact]
    public void An_unreadable_meta_verdict_gives_R_meta_0_or_masks_the_sample_as_the_method_option_says()
    {
        var p = ArithmeticDomain.Problem(1, 0, 2);
        string proof = ArithmeticDomain.WriteProof(p);
        var row = JsonSerializer.SerializeToElement(new GradedProofRow { ProblemId = p.Id, Problem = p.Statement, Proof = proof, Score = 1 }, Json.Options);
        string analysis = Oracle.WriteAnalysis([], proof: proof);
        foreach (var (mask, expectMasked) in new[] { (false, false), (true, true) })
        {
            var tok = CharTokenizer.Ascii();
            torch.manual_seed(3);
            var meta = new LlamaForCausalLM(new LlamaConfig { HiddenSize = 32, Layers = 1, Heads = 4, KvHeadsOrNull = 2, IntermediateSize = 64, VocabSize = tok.VocabSize, MaxPositions = 2048 });
            var spec = new Core.Jobs.RewardSpec { Kind = Core.Jobs.RewardSpec.VerifierV2, MetaVerifier = "m", Prompts = Prompts.Compact, RewardMaxNewTokens = 8, MaskUnreadableMeta = mask };
            using var reward = spec.Create(_ => (meta, tok));
            // A right analysis (R_format·R_score = 1) whose meta-verifier writes 8 characters of noise.
            double r = reward.Score([new RewardInput(row, "", analysis, "stop")]).Single();
            Assert.Equal(expectMasked, Rewards.IsMasked(r));
            if (!expectMasked) Assert.Equal(0, r);
        }
    }
}
