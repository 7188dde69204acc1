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
        Assert.Equal(["problems[0]"], Fields(Valid with { Problems = [null!] }));
        Assert.Equal(["options.verificationWaves"], Fields(Valid with { Options = new() { Verifications = 2, VerificationWaves = 3 } }));
        Assert.Equal(["options.metaVerifications"], Fields(Valid with { Options = new() { MetaVerifications = 65 } }));
        Assert.Empty(Fields(Valid with { Options = new() { MetaVerifications = 3, VerificationWaves = 2 } }));
        // Too big a first round for one search (1000 × 4096 × 64 verifications).
        var many = Enumerable.Range(0, 1000).Select(i => new ProblemRow { Id = $"p{i}", Problem = "P" }).ToList();
        Assert.Equal(["options.pool"], Fields(Valid with { Problems = many, Options = new() { Pool = 4096 } }));
        var ex = Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize<SearchSpec>("""{"options": {"pools": 4}}""", Json.Strict));
        Assert.Contains("pools", ex.Message);
    }

    [Fact]
    public void A_meta_verified_issue_report_judged_bogus_counts_as_one_and_unreadable_verdicts_abstain()
    {
        Assert.Equal(PoolAnalysis.Bogus, PoolAnalysis.VerdictOf([0, 0, 1], 3));
        Assert.Equal(PoolAnalysis.Confirmed, PoolAnalysis.VerdictOf([1, null, 1], 3));
        Assert.Null(PoolAnalysis.VerdictOf([0, null, null], 3));      // one readable rejection of three is no majority
        Assert.Null(PoolAnalysis.VerdictOf([0.5, 0.5, 0], 3));        // partly right: neither
        Assert.Null(PoolAnalysis.VerdictOf([1, 0], 2));               // a tie is no majority
        var report = new PoolAnalysis { ProofId = "a", Score = 0, Verdict = PoolAnalysis.Bogus };
        Assert.Equal(1, report.Standing);
        Assert.Equal(0, (report with { Verdict = PoolAnalysis.Confirmed }).Standing);
        Assert.Equal(0.5, (report with { Score = 0.5, Verdict = null }).Standing);
        Assert.Null((report with { Score = null, Verdict = null }).Standing);
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

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Adaptive_verification_replayed_keeps_the_same_selection_and_draws_fewer(int seed)
    {
        var rng = new Random(seed);
        const int keep = 4, v = 16;
        int drawn = 0, full = 0;
        for (int trial = 0; trial < 50; trial++)
        {
            // Proofs of mixed quality: each verification passes with the proof's own probability; some do not parse.
            var kept = Enumerable.Range(0, rng.Next(0, keep + 1)).Select(i => Proof($"k{i}", Math.Round(rng.NextDouble(), 2))).ToList();
            var quality = Enumerable.Range(0, 24).Select(_ => rng.NextDouble()).ToList();
            var scores = quality.Select(q => (IReadOnlyList<double?>)Enumerable.Range(0, v)
                .Select(_ => rng.Next(10) == 0 ? (double?)null : rng.NextDouble() < q ? 1.0 : rng.NextDouble() < 0.5 ? 0.5 : 0.0).ToList()).ToList();
            int[] used = SearchRanking.AdaptiveVerifications(kept, scores, keep);
            var added = scores.Select((s, i) =>
            {
                var parsed = s.OfType<double>().ToList();
                return new PoolRecord { ProofId = $"n{i}", ProblemId = "a", Round = 2, Prompt = i, MeanScore = parsed.Count > 0 ? parsed.Average() : 0, Scores = parsed, Unparsable = v - parsed.Count };
            }).ToList();
            var top = SearchRanking.Rank(kept.Concat(added)).Take(keep).Select(p => p.ProofId).ToHashSet();
            for (int i = 0; i < added.Count; i++)
            {
                Assert.InRange(used[i], 1, v);
                // A proof the rule stopped early is never one the full budget keeps: the selection is the same.
                if (used[i] < v) Assert.DoesNotContain($"n{i}", top);
            }
            drawn += used.Sum();
            full += v * added.Count;
        }
        Assert.True(drawn < full * 0.9, $"adaptive drew {drawn} of {full}");
    }

    [Fact]
    public void Drawing_verifications_in_waves_never_rules_out_a_proof_the_full_budget_keeps()
    {
        var rng = new Random(9);
        const int keep = 3, v = 12, chunk = 4;
        for (int trial = 0; trial < 100; trial++)
        {
            var kept = Enumerable.Range(0, rng.Next(0, keep + 1)).Select(i => Proof($"k{i}", Math.Round(rng.NextDouble(), 2))).ToList();
            var full = Enumerable.Range(0, 16).Select(_ => rng.NextDouble()).Select(q => Enumerable.Range(0, v)
                .Select(_ => rng.Next(8) == 0 ? (double?)null : rng.NextDouble() < q ? 1.0 : 0.0).ToList()).ToList();
            var drawn = full.Select(_ => 0).ToArray();
            for (int from = 0; from < v; from += chunk)
            {
                bool[] open = from == 0 ? [.. full.Select(_ => true)]
                    : SearchRanking.Open(kept, full.Select((f, i) => (IReadOnlyList<double?>)f.Take(drawn[i]).ToList()).ToList(), full.Select(_ => v).ToList(), keep);
                for (int i = 0; i < full.Count; i++) if (open[i] && drawn[i] == from) drawn[i] = from + chunk;
            }
            var added = full.Select((f, i) => f.OfType<double>().ToList() is var parsed
                ? new PoolRecord { ProofId = $"n{i}", ProblemId = "a", Round = 2, Prompt = i, MeanScore = parsed.Count > 0 ? parsed.Average() : 0, Scores = parsed } : null!).ToList();
            var top = SearchRanking.Rank(kept.Concat(added)).Take(keep).Select(p => p.ProofId).ToHashSet();
            for (int i = 0; i < full.Count; i++)
                if (top.Contains($"n{i}")) Assert.Equal(v, drawn[i]);   // every proof the full budget keeps was fully verified
        }
    }

    [Fact]
    public void A_refuted_proof_ranks_after_every_proof_that_is_not_and_never_stops_its_problem()
    {
        var o = new SearchOptions { Keep = 2, Rounds = 3, StopScore = 0.5, MetaVerifications = 2 };
        Assert.True(o.Refutes);
        Assert.False((o with { RefuteFatal = false }).Refutes);
        Assert.False(new SearchOptions().Refutes);   // no meta-verification, nothing is confirmed
        // x has the best mean but a confirmed fatal issue: below y and z, whatever their means.
        var state = SearchRanking.Next(null, "a", 1, [Proof("x", 0.9) with { Refuted = true }, Proof("y", 0.25), Proof("z", 0.3)], o);
        Assert.Equal(["z", "y"], state.Top.Select(p => p.ProofId));
        Assert.Equal(1, state.Refuted);
        // Only refuted proofs: the best of them is kept, but at stopScore it does not stop the problem nor count as solved.
        var refuted = SearchRanking.Next(null, "a", 1, [Proof("x", 0.9) with { Refuted = true }], o);
        Assert.Equal(("x", false), (refuted.Top[0].ProofId, refuted.Stopped));
        Assert.Equal(0, new SearchState { Problems = [refuted] }.Totals(o.StopScore).Solved);
        Assert.Equal(1, new SearchState { Problems = [SearchRanking.Next(null, "a", 1, [Proof("y", 0.5)], o)] }.Totals(o.StopScore).Solved);
    }

    [Fact]
    public void A_meta_confirmed_fatal_issue_stops_a_proofs_verification_once_keep_proofs_surely_rank_above_it()
    {
        // Two kept proofs from an earlier round, not refuted, with low means; keep 2, 16 verifications.
        var kept = new List<PoolRecord> { Proof("k0", 0.3), Proof("k1", 0.2) };
        IReadOnlyList<double?> first = [0.0];
        // By its mean alone the new proof could still reach 15/16 and go on; refuted by its first analysis it stops.
        Assert.Equal([true], SearchRanking.Open(kept, [first], [16], 2));
        Assert.Equal([true], SearchRanking.Open(kept, [first], [16], 2, [[false]]));
        Assert.Equal([false], SearchRanking.Open(kept, [first], [16], 2, [[true]]));
        // A refuted kept proof is not above it; nor is an unrefuted one of this round that may yet be refuted...
        Assert.Equal([true], SearchRanking.Open([Proof("k0", 0.3), Proof("k1", 0.2) with { Refuted = true }], [first], [16], 2, [[true]]));
        Assert.Equal([true, true], SearchRanking.Open([Proof("k0", 0.3)], [first, [1.0]], [16, 16], 2, [[true], [false]]));
        // ...unless it is fully verified.
        Assert.Equal([false, false], SearchRanking.Open([Proof("k0", 0.3)], [first, [1.0]], [16, 1], 2, [[true], [false]]));
        // With refutation on, a proof that may still be refuted no longer rules out an unrefuted one by its mean.
        IReadOnlyList<double?> good = [1.0, 1.0, 1.0], poor = [0.0, 0.0, 0.0];
        Assert.Equal([true, false, true], SearchRanking.Open([], [good, poor, good], [4, 4, 4], 2));
        Assert.Equal([true, true, true], SearchRanking.Open([], [good, poor, good], [4, 4, 4], 2, [[false, false, false], [false, false, false], [false, false, false]]));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void Refuting_on_confirmed_fatal_issues_replayed_or_in_waves_keeps_the_full_budgets_selection(int seed)
    {
        var rng = new Random(seed);
        const int keep = 3, v = 12, chunk = 3;
        int replayed = 0, waved = 0, full = 0;
        for (int trial = 0; trial < 100; trial++)
        {
            var kept = Enumerable.Range(0, rng.Next(0, keep + 1)).Select(i => Proof($"k{i}", Math.Round(rng.NextDouble(), 2)) with { Refuted = rng.Next(3) == 0 }).ToList();
            // Each verification: 1, 0.5, 0 or unparsable; a 0 is a confirmed fatal issue half the time.
            var quality = Enumerable.Range(0, 16).Select(_ => rng.NextDouble()).ToList();
            var scores = quality.Select(q => (IReadOnlyList<double?>)Enumerable.Range(0, v)
                .Select(_ => rng.Next(10) == 0 ? (double?)null : rng.NextDouble() < q ? 1.0 : rng.NextDouble() < 0.5 ? 0.5 : 0.0).ToList()).ToList();
            var fatal = scores.Select(s => (IReadOnlyList<bool>)s.Select(x => x == 0.0 && rng.Next(2) == 0).ToList()).ToList();
            var added = scores.Select((s, i) => s.OfType<double>().ToList() is var parsed
                ? new PoolRecord { ProofId = $"n{i}", ProblemId = "a", Round = 2, Prompt = i, MeanScore = parsed.Count > 0 ? parsed.Average() : 0, Scores = parsed, Refuted = fatal[i].Any(f => f) }
                : null!).ToList();
            var top = SearchRanking.Rank(kept.Concat(added)).Take(keep).Select(p => p.ProofId).ToHashSet();

            int[] used = SearchRanking.AdaptiveVerifications(kept, scores, keep, fatal);
            var drawn = scores.Select(_ => 0).ToArray();
            for (int from = 0; from < v; from += chunk)
            {
                bool[] open = from == 0 ? [.. scores.Select(_ => true)]
                    : SearchRanking.Open(kept, scores.Select((f, i) => (IReadOnlyList<double?>)f.Take(drawn[i]).ToList()).ToList(), scores.Select(_ => v).ToList(), keep,
                        fatal.Select((f, i) => (IReadOnlyList<bool>)f.Take(drawn[i]).ToList()).ToList());
                for (int i = 0; i < scores.Count; i++) if (open[i] && drawn[i] == from) drawn[i] = from + chunk;
            }
            for (int i = 0; i < added.Count; i++)
                if (top.Contains($"n{i}")) Assert.Equal((v, v), (used[i], drawn[i]));   // every proof the full budget keeps was fully verified
            // Ranked as the waves leave them (stopped proofs with what they drew), the pool keeps the same proofs, in the same order.
            PoolRecord Partial(int i)
            {
                var parsed = scores[i].Take(drawn[i]).OfType<double>().ToList();
                return added[i] with { MeanScore = parsed.Count > 0 ? parsed.Average() : 0, Scores = parsed, Refuted = fatal[i].Take(drawn[i]).Any(f => f) };
            }
            Assert.Equal(SearchRanking.Rank(kept.Concat(added)).Take(keep).Select(p => p.ProofId),
                SearchRanking.Rank(kept.Concat(added.Select((_, i) => Partial(i)))).Take(keep).Select(p => p.ProofId));
            replayed += used.Sum();
            waved += drawn.Sum();
            full += v * added.Count;
        }
        Assert.True(replayed < full * 0.9, $"replayed {replayed} of {full}");
        Assert.True(waved < full, $"waves drew {waved} of {full}");
    }
}
