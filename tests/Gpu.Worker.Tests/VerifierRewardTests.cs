using System.Text.Json;
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
}
