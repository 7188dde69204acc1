using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Datasets;
using MathV2.Core.Method;
using MathV2.Core.Search;

namespace MathV2.Core.Tests;

/// <summary>The test-time search's contracts and rules: spec validation, ranking, the stop rule, ids, refinement prompts.</summary>
public sealed class SearchTests
{
    static SearchSpec Valid => new() { Problems = [new ProblemRow { Id = "a", Problem = "P" }], Generator = "gen", Verifier = "ver" };

    static List<string> Fields(SearchSpec s) => s.Validate().Select(e => e.Field).ToList();

    [Fact]
    public void Defaults_are_the_reference_codes_and_a_minimal_spec_is_valid()
    {
        var o = new SearchOptions();
        Assert.Equal((128, 64, 32, 8, 4, 16, 1.0, 1.0, 0.95), (o.Pool, o.Verifications, o.Keep, o.AnalysesPerPrompt, o.SamplesPerPrompt, o.Rounds, o.StopScore, o.Temperature, o.TopP));
        Assert.Empty(Fields(Valid));
    }

    [Fact]
    public void Each_bad_field_is_named()
    {
        Assert.Equal(["problems"], Fields(Valid with { ProblemsArtifact = "ds" }));
        Assert.Equal(["problems"], Fields(Valid with { Problems = null }));
        Assert.Equal(["problems"], Fields(Valid with { Problems = [] }));
        Assert.Equal(["problems[1].id"], Fields(Valid with { Problems = [new() { Id = "a", Problem = "P" }, new() { Id = "a", Problem = "Q" }] }));
        Assert.Equal(["problems[0].problem"], Fields(Valid with { Problems = [new() { Id = "a", Problem = " " }] }));
        Assert.Equal(["generator"], Fields(Valid with { Generator = null }));
        Assert.Equal(["verifier"], Fields(Valid with { Verifier = "../x" }));
        Assert.Equal(["options.pool"], Fields(Valid with { Options = new() { Pool = 130 } }));   // not a multiple of samplesPerPrompt (4)
        Assert.Equal(["options.keep", "options.topP"], Fields(Valid with { Options = new() { Keep = 0, TopP = 0 } }));
        Assert.Equal(["options.stopScore"], Fields(Valid with { Options = new() { StopScore = 1.5 } }));
        Assert.Equal(["limits.maxAttempts"], Fields(Valid with { Limits = new() { MaxAttempts = 0 } }));
        var ex = Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize<SearchSpec>("""{"options": {"pools": 4}}""", Json.Strict));
        Assert.Contains("pools", ex.Message);
    }

    static PoolRecord Proof(string id, double mean, double? self = null, int round = 1, int prompt = 0, int sample = 0) =>
        new() { ProofId = id, ProblemId = "a", MeanScore = mean, SelfScore = self, Round = round, Prompt = prompt, Sample = sample, Scores = [mean] };

    [Fact]
    public void The_pool_ranks_by_mean_score_then_self_score_and_keeps_the_top()
    {
        var o = new SearchOptions { Keep = 3, Rounds = 4 };
        var first = SearchRanking.Next(null, "a", 1, [Proof("x", 0.5, 1), Proof("y", 0.75, 0), Proof("z", 0.5, 0.5, sample: 1), Proof("w", 0.25, 1, sample: 2)], o);
        Assert.Equal(["y", "x", "z"], first.Top.Select(p => p.ProofId));
        Assert.Equal((4, 4, false, 0.75), (first.Proofs, first.Verifications, first.Stopped, first.BestMeanScore!.Value));
        // A later round merges its proofs into the kept ones.
        var second = SearchRanking.Next(first, "a", 2, [Proof("v", 0.6, round: 2), Proof("u", 0.1, round: 2)], o);
        Assert.Equal(["y", "v", "x"], second.Top.Select(p => p.ProofId));
        Assert.Equal(6, second.Proofs);
    }

    [Fact]
    public void A_problem_stops_at_stopScore_or_after_the_last_round()
    {
        var o = new SearchOptions { Keep = 2, Rounds = 3, StopScore = 1.0 };
        var solved = SearchRanking.Next(null, "a", 1, [Proof("x", 1.0), Proof("y", 0.5)], o);
        Assert.True(solved.Stopped);
        Assert.Contains("mean score reached 1", solved.StopReason);
        var running = SearchRanking.Next(null, "a", 2, [Proof("x", 0.9)], o);
        Assert.False(running.Stopped);
        var done = SearchRanking.Next(running, "a", 3, [Proof("y", 0.9, round: 3)], o);
        Assert.True(done.Stopped);
        Assert.Contains("3 rounds", done.StopReason);
    }

    [Fact]
    public void Ids_are_problem_round_prompt_sample_and_parse_from_the_right()
    {
        Assert.Equal("p|q|2|3|1", SearchRanking.ProofId("p|q", 2, 3, 1));
        Assert.Equal(("p|q", 2, 3), SearchRanking.ParsePromptId(SearchRanking.PromptId("p|q", 2, 3)));
        Assert.Throws<FormatException>(() => SearchRanking.ParsePromptId("p|x|3"));
        Assert.Throws<FormatException>(() => SearchRanking.ParsePromptId("p3"));
    }

    [Fact]
    public void A_refinement_prompt_holds_the_proof_and_its_analyses_in_the_order_given()
    {
        string reference = Prompts.RenderRefinement("P", "the proof", 0.5, ["worst", "better"]);
        Assert.Contains("--- Solution 0 ---\nthe proof\n\n=== Evaluation 0 of Solution 0 ===\nworst\n\n=== Evaluation 1 of Solution 0 ===\nbetter", reference);
        string compact = Prompts.RenderRefinement("P", "the proof", 0.5, ["worst"], Prompts.Compact);
        // With one analysis, the compact form is the lap's refinement prompt (what the demo's generator learnt).
        Assert.Equal(Prompts.RenderRefinement("P", [("the proof", "worst", 0.5)], Prompts.Compact), compact);
    }
}
