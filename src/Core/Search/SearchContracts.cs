using MathV2.Core.Datasets;
using MathV2.Core.Jobs;
using MathV2.Core.Method;

namespace MathV2.Core.Search;

/// <summary>
/// The test-time search's knobs (docs/search.md): the reference code's defaults. Round 1 draws <see cref="Pool"/>
/// proofs per problem; each later round refines the top <see cref="Keep"/> of the pool, each kept proof with up to
/// <see cref="AnalysesPerPrompt"/> of its analyses (lowest scores first) and <see cref="SamplesPerPrompt"/> samples.
/// </summary>
public sealed record SearchOptions
{
    public int Pool { get; init; } = 128;
    public int Verifications { get; init; } = 64;
    public int Keep { get; init; } = 32;
    public int AnalysesPerPrompt { get; init; } = 8;
    public int SamplesPerPrompt { get; init; } = 4;
    public int Rounds { get; init; } = 16;
    /// <summary>A problem stops once a proof's mean verification score reaches this.</summary>
    public double StopScore { get; init; } = 1.0;
    public double Temperature { get; init; } = 1.0;
    public double TopP { get; init; } = 0.95;
    /// <summary>Tokens of a proof (with its self-evaluation) and of an analysis.</summary>
    public int MaxNewTokens { get; init; } = 4096;
    public int VerificationMaxNewTokens { get; init; } = 4096;
    /// <summary>
    /// Verifications are drawn in this many waves; after each, a proof that can no longer be kept gets no more
    /// (adaptive verification: the same selection as drawing them all, since each sample is keyed by its proof and
    /// index). 1: all at once, the saving only replayed.
    /// </summary>
    public int VerificationWaves { get; init; } = 1;
    /// <summary>
    /// m meta-verifications of each verification that reports an issue (score below 1), by the verifier, as in
    /// consensus labelling; 0: none. A report the majority of its m verdicts rates 0 (every claimed defect bogus)
    /// counts as 1 in the proof's mean score (it found no real issue, as consensus labelling takes it) and is not
    /// shown in refinement prompts; one they confirm (rate 1), or that no majority judges, counts with its score.
    /// </summary>
    public int MetaVerifications { get; init; }
    /// <summary>
    /// With meta-verification: a proof with a meta-confirmed fatal issue (a verification scoring 0 that the majority
    /// of its verdicts confirms) is refuted: it ranks after every proof that is not, never stops its problem, and is
    /// verified no further once at least keep proofs surely rank above it. False: such a proof ranks by its mean.
    /// </summary>
    public bool RefuteFatal { get; init; } = true;
    /// <summary>Whether confirmed fatal issues refute proofs in this search (meta-verification on and <see cref="RefuteFatal"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore] public bool Refutes => MetaVerifications > 0 && RefuteFatal;
    /// <summary>Sample jobs per generation or verification step (rows split i % shards), for several workers.</summary>
    public int Shards { get; init; } = 1;
    /// <summary>Rows a sample job decodes together (continuous batching).</summary>
    public int BatchSize { get; init; } = 16;
    public long Seed { get; init; } = 1;

    public IEnumerable<(string Field, string Message)> Validate(string prefix = "options")
    {
        static bool Between(int v, int lo, int hi) => v >= lo && v <= hi;
        if (!Between(Pool, 1, 4096)) yield return ($"{prefix}.pool", "must be between 1 and 4096");
        if (!Between(Verifications, 1, 1024)) yield return ($"{prefix}.verifications", "must be between 1 and 1024");
        if (!Between(Keep, 1, 4096)) yield return ($"{prefix}.keep", "must be between 1 and 4096");
        if (!Between(AnalysesPerPrompt, 1, 1024)) yield return ($"{prefix}.analysesPerPrompt", "must be between 1 and 1024");
        if (!Between(SamplesPerPrompt, 1, 1024)) yield return ($"{prefix}.samplesPerPrompt", "must be between 1 and 1024");
        else if (Pool % SamplesPerPrompt != 0)
            yield return ($"{prefix}.pool", $"must be a multiple of samplesPerPrompt ({SamplesPerPrompt}): round 1 samples pool / samplesPerPrompt prompts per problem");
        if (!Between(Rounds, 1, 256)) yield return ($"{prefix}.rounds", "must be between 1 and 256");
        if (!(StopScore is >= 0 and <= 1)) yield return ($"{prefix}.stopScore", "must be between 0 and 1");
        if (!(Temperature is > 0 and <= 10)) yield return ($"{prefix}.temperature", "must be above 0 and at most 10");
        if (!(TopP is > 0 and <= 1)) yield return ($"{prefix}.topP", "must be above 0 and at most 1");
        if (!Between(MaxNewTokens, 1, 1 << 20)) yield return ($"{prefix}.maxNewTokens", "must be between 1 and 1048576");
        if (!Between(VerificationMaxNewTokens, 1, 1 << 20)) yield return ($"{prefix}.verificationMaxNewTokens", "must be between 1 and 1048576");
        if (!Between(Shards, 1, 256)) yield return ($"{prefix}.shards", "must be between 1 and 256");
        if (!Between(VerificationWaves, 1, 64)) yield return ($"{prefix}.verificationWaves", "must be between 1 and 64");
        else if (VerificationWaves > Verifications) yield return ($"{prefix}.verificationWaves", $"must be at most verifications ({Verifications})");
        if (!Between(BatchSize, 1, 4096)) yield return ($"{prefix}.batchSize", "must be between 1 and 4096");
        if (!Between(MetaVerifications, 0, 64)) yield return ($"{prefix}.metaVerifications", "must be between 0 (none) and 64");
    }
}

/// <summary>POST /api/searches: problems (inline or an artifact's file), the generator and verifier checkpoints, the options.</summary>
public sealed record SearchSpec
{
    public string? Name { get; init; }
    /// <summary>Problems given inline ({id, problem}); or <see cref="ProblemsArtifact"/>.</summary>
    public IReadOnlyList<ProblemRow>? Problems { get; init; }
    /// <summary>A dataset artifact holding the problems (its <see cref="ProblemsFile"/>).</summary>
    public string? ProblemsArtifact { get; init; }
    public string ProblemsFile { get; init; } = "problems.jsonl";
    public string? Generator { get; init; }
    public string? Verifier { get; init; }
    public SearchOptions Options { get; init; } = new();
    /// <summary>Prompt set: "standard", "compact", or a set of one's own (as a lap's).</summary>
    public PromptSet? Prompts { get; init; }
    public GpuJobLimits? Limits { get; init; }
    /// <summary>Prompts go to both models as one user turn of their chat template (as a lap's chatTemplate; both checkpoints need one).</summary>
    public bool ChatTemplate { get; init; }

    public PromptSet PromptSet => Prompts ?? Method.Prompts.Standard;

    /// <summary>Proofs × verifications a search may plan for in one round (every problem's pool verified): larger ones are split into several searches.</summary>
    public const long MaxRoundVerifications = 50_000_000;

    public const int MaxInlineProblems = 1000;

    /// <summary>Field errors (storage checks, such as whether the checkpoints exist, come at the door on top).</summary>
    public IEnumerable<(string Field, string Message)> Validate()
    {
        if (Name is { Length: > 200 }) yield return ("name", "must be at most 200 characters");
        if ((Problems == null) == (ProblemsArtifact == null))
            yield return ("problems", "give the problems inline (problems: [{id, problem}]) or as problemsArtifact, exactly one of them");
        if (Problems != null)
        {
            if (Problems.Count == 0) yield return ("problems", "must hold at least one problem");
            if (Problems.Count > MaxInlineProblems) yield return ("problems", $"at most {MaxInlineProblems} inline; upload more as a dataset artifact (problemsArtifact)");
            var seen = new HashSet<string>();
            for (int i = 0; i < Problems.Count; i++)
            {
                var p = Problems[i];
                if (p is null) { yield return ($"problems[{i}]", "must be an object {id, problem}"); continue; }
                if (string.IsNullOrWhiteSpace(p.Id)) yield return ($"problems[{i}].id", "is required");
                else if (!seen.Add(p.Id)) yield return ($"problems[{i}].id", $"'{p.Id}' is given twice");
                if (string.IsNullOrWhiteSpace(p.Problem)) yield return ($"problems[{i}].problem", "is required");
            }
        }
        if (ProblemsArtifact != null && !Ids.IsValid(ProblemsArtifact)) yield return ("problemsArtifact", $"'{ProblemsArtifact}' is not an artifact id");
        if (string.IsNullOrWhiteSpace(ProblemsFile) || ProblemsFile.Contains("..")) yield return ("problemsFile", "must name a file of the artifact");
        if (Generator == null) yield return ("generator", "is required: the checkpoint artifact that writes the proofs");
        else if (!Ids.IsValid(Generator)) yield return ("generator", $"'{Generator}' is not an artifact id");
        if (Verifier == null) yield return ("verifier", "is required: the checkpoint artifact that verifies them");
        else if (!Ids.IsValid(Verifier)) yield return ("verifier", $"'{Verifier}' is not an artifact id");
        foreach (var e in Options.Validate()) yield return e;
        // Each verification may bring metaVerifications meta-verifications.
        long roundOne = (long)(Problems?.Count ?? 0) * Options.Pool * Options.Verifications * (1 + Math.Max(0, Options.MetaVerifications));
        if (Problems is { Count: > 0 } && roundOne > MaxRoundVerifications)
            yield return ("options.pool", $"problems × pool × verifications × (1 + metaVerifications) = {roundOne:N0} samples in round 1, over {MaxRoundVerifications:N0}: split the problems into several searches");
        if (Prompts != null) foreach (var e in Prompts.Validate("prompts")) yield return e;
        if (Limits != null) foreach (var e in Limits.Validate()) yield return e;
    }
}

/// <summary>The Search orchestration's input; ContinueAsNew carries the next round and the pool's state artifact.</summary>
public sealed record SearchInput : Telemetry.ITracedGenerations
{
    public required string SearchId { get; init; }
    public required SearchSpec Spec { get; init; }
    public int Round { get; init; } = 1;
    /// <summary>The span the search runs under (its POST's): each round is a span of its own beneath it.</summary>
    public string? TraceParent { get; init; }
    int Telemetry.ITracedGenerations.Generation => Round;
    /// <summary>The problems artifact (problems.jsonl), once written.</summary>
    public string? Problems { get; init; }
    /// <summary>The last round's state artifact (state.json), null before round 1 ends.</summary>
    public string? State { get; init; }
    /// <summary>With chatTemplate: the date the templates print, fixed when the search starts.</summary>
    public DateTime? ChatDate { get; init; }
}

/// <summary>Where a search stands (its custom status).</summary>
public sealed record SearchStatus
{
    public int Round { get; init; }
    public int Rounds { get; init; }
    /// <summary>prompts, generation, verification, scoring, result, done.</summary>
    public string Step { get; init; } = "";
    public IReadOnlyList<string> Jobs { get; init; } = [];
    public string? Problems { get; init; }
    /// <summary>The last finished round's state artifact.</summary>
    public string? State { get; init; }
    public SearchTotals? Totals { get; init; }
}

public sealed record SearchTotals
{
    public int Problems { get; init; }
    public int Stopped { get; init; }
    public int Proofs { get; init; }
    public int Verifications { get; init; }
    public int AdaptiveVerifications { get; init; }
    public int VerificationBudget { get; init; }
    public int MetaVerifications { get; init; }
    /// <summary>Proofs refuted by a meta-confirmed fatal issue.</summary>
    public int Refuted { get; init; }
    /// <summary>Problems whose best proof's mean score reached stopScore.</summary>
    public int Solved { get; init; }
}

/// <summary>The search's output.</summary>
public sealed record SearchResult
{
    public required string SearchId { get; init; }
    public required string Result { get; init; }
    public int Rounds { get; init; }
    public required SearchTotals Totals { get; init; }
    public SearchReport? Report { get; init; }
}

/// <summary>
/// report.json of the search's result: samples used (fixed and adaptive verification) and, on the demo's problems,
/// the oracle's pass rate of the selected proof per problem after each round against the generator's pass@1.
/// </summary>
public sealed record SearchReport
{
    public int Problems { get; init; }
    public int Proofs { get; init; }
    /// <summary>Verifications drawn.</summary>
    public int Verifications { get; init; }
    /// <summary>Verifications adaptive verification draws for the same selection (replayed with one wave, drawn with several).</summary>
    public int AdaptiveVerifications { get; init; }
    /// <summary>Verifications of the full budget (proofs × verifications).</summary>
    public int VerificationBudget { get; init; }
    public int VerificationWaves { get; init; } = 1;
    /// <summary>Meta-verifications drawn (options.metaVerifications per issue report).</summary>
    public int MetaVerifications { get; init; }
    /// <summary>Proofs refuted by a meta-confirmed fatal issue (options.refuteFatal).</summary>
    public int Refuted { get; init; }
    /// <summary>Share of the full budget adaptive verification does not draw, at the same selection.</summary>
    public double AdaptiveSaving => VerificationBudget == 0 ? 0 : 1 - (double)AdaptiveVerifications / VerificationBudget;
    /// <summary>Mean over problems of the share of round-1 proofs the oracle passes: the generator's single-sample pass@1.</summary>
    public double? OraclePass1 { get; init; }
    /// <summary>Share of problems with at least one proof in the pool the oracle passes: the most any selection could reach.</summary>
    public double? OracleAnyPass { get; init; }
    public IReadOnlyList<SearchRoundReport> Rounds { get; init; } = [];
    /// <summary>The selected proofs' oracle pass rate after the last round minus pass@1.</summary>
    public double? OracleGain => OraclePass1 is { } p && Rounds.Count > 0 && Rounds[^1].OraclePassRate is { } f ? f - p : null;
}

public sealed record SearchRoundReport
{
    public int Round { get; init; }
    /// <summary>Problems still searching in this round.</summary>
    public int Searching { get; init; }
    public int Proofs { get; init; }
    public int Verifications { get; init; }
    public int AdaptiveVerifications { get; init; }
    public int VerificationBudget { get; init; }
    /// <summary>Mean over problems of the selected (best) proof's mean verification score after this round.</summary>
    public double MeanBestScore { get; init; }
    /// <summary>Share of problems whose selected proof after this round the oracle passes (demo problems only).</summary>
    public double? OraclePassRate { get; init; }
}

/// <summary>
/// One proof of the pool, in the reference code's fields where they exist (proof, meanScore, scores,
/// selfEvaluation, proofId, parentProofIds, round) plus the problem, its prompt and sample, and where its analyses are.
/// </summary>
public sealed record PoolRecord
{
    public required string ProofId { get; init; }
    public required string ProblemId { get; init; }
    public int Round { get; init; }
    public int Prompt { get; init; }
    public int Sample { get; init; }
    public IReadOnlyList<string> ParentProofIds { get; init; } = [];
    public string Proof { get; init; } = "";
    public string? SelfEvaluation { get; init; }
    public double? SelfScore { get; init; }
    /// <summary>The parsable verifications' scores by analysis index, a report judged bogus as 1; unparsable ones are counted apart.</summary>
    public IReadOnlyList<double> Scores { get; init; } = [];
    public int Unparsable { get; init; }
    /// <summary>Issue reports the majority of their meta-verifications judged bogus (options.metaVerifications): 1 in <see cref="Scores"/>.</summary>
    public int Bogus { get; init; }
    /// <summary>Issue reports the majority of their meta-verifications confirmed.</summary>
    public int Confirmed { get; init; }
    /// <summary>A confirmed report scores it 0 (options.refuteFatal): it ranks after every proof that is not refuted.</summary>
    public bool Refuted { get; init; }
    /// <summary>Mean of <see cref="Scores"/>; 0 when no verification parsed.</summary>
    public double MeanScore { get; init; }
    /// <summary>Verifications the adaptive rule would have drawn (replayed on these, in index order): the same pool selection.</summary>
    public int AdaptiveVerifications { get; init; }
    /// <summary>The round's pool artifact holding this proof's analyses (analyses.jsonl).</summary>
    public string? Artifact { get; init; }
}

/// <summary>One verifier analysis of a pool proof (analyses.jsonl of a round's pool artifact).</summary>
public sealed record PoolAnalysis
{
    public required string ProofId { get; init; }
    public int Index { get; init; }
    public double? Score { get; init; }
    public string Analysis { get; init; } = "";
    /// <summary>Its meta-verdicts' scores (null: unreadable) when it reports an issue and the search meta-verifies.</summary>
    public IReadOnlyList<double?>? MetaScores { get; init; }
    /// <summary>"confirmed" (a majority rates it 1), "bogus" (a majority rates it 0: it counts as 1), else null.</summary>
    public string? Verdict { get; init; }

    public const string Confirmed = "confirmed", Bogus = "bogus";

    /// <summary>The verdict of m meta-scores: a majority of m confirms, or a majority of m rejects (unreadable ones abstain).</summary>
    public static string? VerdictOf(IReadOnlyList<double?> metaScores, int m) =>
        metaScores.Count(s => s >= 1) * 2 > m ? Confirmed : metaScores.Count(s => s <= 0) * 2 > m ? Bogus : null;

    /// <summary>A fatal issue (score 0) its meta-verifications confirm: it refutes the proof (options.refuteFatal).</summary>
    [System.Text.Json.Serialization.JsonIgnore] public bool Fatal => Verdict == Confirmed && Score == 0;

    /// <summary>The score it counts with in its proof's mean: 1 when judged bogus, null when unparsable.</summary>
    [System.Text.Json.Serialization.JsonIgnore] public double? Standing => Verdict == Bogus ? 1 : Score;
}

/// <summary>Per problem after a round: the ranked best proofs (at most keep), counts, and whether it stopped.</summary>
public sealed record ProblemState
{
    public required string ProblemId { get; init; }
    public int Round { get; init; }
    public int Proofs { get; init; }
    public int Verifications { get; init; }
    /// <summary>What adaptive verification draws for the same selection (replayed with one wave; drawn with several).</summary>
    public int AdaptiveVerifications { get; init; }
    /// <summary>What drawing every verification costs: proofs × verifications.</summary>
    public int VerificationBudget { get; init; }
    public int MetaVerifications { get; init; }
    /// <summary>Proofs refuted by a meta-confirmed fatal issue (options.refuteFatal).</summary>
    public int Refuted { get; init; }
    public bool Stopped { get; init; }
    public string? StopReason { get; init; }
    /// <summary>The pool's best proofs, best first (mean score, then self-score, then round, prompt, sample): the next round's candidates.</summary>
    public IReadOnlyList<PoolRecord> Top { get; init; } = [];
    public double? BestMeanScore => Top.Count > 0 ? Top[0].MeanScore : null;
}

/// <summary>state.json of a round's pool artifact.</summary>
public sealed record SearchState
{
    public int Round { get; init; }
    public IReadOnlyList<ProblemState> Problems { get; init; } = [];

    public SearchTotals Totals(double stopScore) => new()
    {
        Problems = Problems.Count, Stopped = Problems.Count(p => p.Stopped), Proofs = Problems.Sum(p => p.Proofs),
        Verifications = Problems.Sum(p => p.Verifications), AdaptiveVerifications = Problems.Sum(p => p.AdaptiveVerifications),
        VerificationBudget = Problems.Sum(p => p.VerificationBudget), MetaVerifications = Problems.Sum(p => p.MetaVerifications), Refuted = Problems.Sum(p => p.Refuted),
        Solved = Problems.Count(p => p.Top is [{ Refuted: false }, ..] && p.BestMeanScore >= stopScore),
    };
}

/// <summary>
/// The ranking of the reference code: mean verification score, then the proof's self-evaluation score; with
/// options.refuteFatal (and meta-verification), refuted proofs after all others.
/// </summary>
public static class SearchRanking
{
    public static IEnumerable<PoolRecord> Rank(IEnumerable<PoolRecord> pool) =>
        pool.OrderBy(p => p.Refuted).ThenByDescending(p => p.MeanScore).ThenByDescending(p => p.SelfScore ?? -1)
            .ThenBy(p => p.Round).ThenBy(p => p.Prompt).ThenBy(p => p.Sample);

    /// <summary>A problem's state after a round: the old top and the round's proofs ranked, the stop rule applied.</summary>
    public static ProblemState Next(ProblemState? before, string problemId, int round, IReadOnlyList<PoolRecord> added, SearchOptions o, int metaVerifications = 0)
    {
        var top = Rank((before?.Top ?? []).Concat(added)).Take(o.Keep).ToList();
        int proofs = (before?.Proofs ?? 0) + added.Count, verifications = (before?.Verifications ?? 0) + added.Sum(p => p.Scores.Count + p.Unparsable);
        int adaptive = (before?.AdaptiveVerifications ?? 0) + added.Sum(p => p.AdaptiveVerifications);
        int budget = (before?.VerificationBudget ?? 0) + added.Count * o.Verifications;
        // A refuted proof never stops its problem, whatever its mean (stopScore may be below 1).
        string? stop = top.Count > 0 && !top[0].Refuted && top[0].MeanScore >= o.StopScore ? $"a proof's mean score reached {o.StopScore:0.###} in round {round}"
            : round >= o.Rounds ? $"{o.Rounds} rounds done" : null;
        return new ProblemState
        {
            ProblemId = problemId, Round = round, Proofs = proofs, Verifications = verifications, AdaptiveVerifications = adaptive, VerificationBudget = budget,
            MetaVerifications = (before?.MetaVerifications ?? 0) + metaVerifications, Refuted = (before?.Refuted ?? 0) + added.Count(p => p.Refuted),
            Top = top, Stopped = stop != null, StopReason = stop,
        };
    }

    /// <summary>
    /// Adaptive verification, replayed on a round's full verifications one wave at a time (analysis j of every proof
    /// still open): what <see cref="Open"/> would have drawn. A stopped proof can never be in the top keep, so the
    /// kept proofs, their means and the whole search are the same as with every verification.
    /// </summary>
    /// <param name="kept">The problem's kept proofs before the round (exact means).</param>
    /// <param name="scores">Each new proof's verification scores in index order (null: unparsable, left out of the mean).</param>
    /// <param name="fatal">With refutation on: whether each of those verifications is a meta-confirmed fatal issue; null: off.</param>
    /// <returns>How many verifications of each new proof the rule draws.</returns>
    public static int[] AdaptiveVerifications(IReadOnlyList<PoolRecord> kept, IReadOnlyList<IReadOnlyList<double?>> scores, int keep,
        IReadOnlyList<IReadOnlyList<bool>>? fatal = null)
    {
        int n = scores.Count;
        var used = new int[n];
        var open = Enumerable.Repeat(true, n).ToArray();
        int waves = scores.Select(s => s.Count).DefaultIfEmpty(0).Max();
        for (int j = 0; j < waves; j++)
        {
            for (int i = 0; i < n; i++)
                if (open[i] && j < scores[i].Count) used[i] = j + 1;
            var still = Open(kept, scores.Select((s, i) => (IReadOnlyList<double?>)s.Take(used[i]).ToList()).ToList(), scores.Select(s => s.Count).ToList(), keep,
                fatal?.Select((f, i) => (IReadOnlyList<bool>)f.Take(used[i]).ToList()).ToList());
            for (int i = 0; i < n; i++) open[i] &= still[i];
        }
        return used;
    }

    /// <summary>
    /// Which proofs still need verifications: a proof stops once at least keep others surely rank above its best
    /// possible place — the kept proofs of earlier rounds as they are, this round's at their worst (their remaining
    /// verifications all 0, and, with refutation on, refuted if they still can be) above it at its best (its
    /// remaining all 1, refuted only if it already is). Bounds only tighten as verifications arrive, so a stopped
    /// proof stays stopped, and it can never be in the top keep.
    /// </summary>
    /// <param name="seen">Each proof's verification scores so far, in index order (null: unparsable).</param>
    /// <param name="total">Each proof's full budget of verifications.</param>
    /// <param name="fatal">With refutation on: whether each of the verifications so far is a meta-confirmed fatal issue; null: off.</param>
    public static bool[] Open(IReadOnlyList<PoolRecord> kept, IReadOnlyList<IReadOnlyList<double?>> seen, IReadOnlyList<int> total, int keep,
        IReadOnlyList<IReadOnlyList<bool>>? fatal = null)
    {
        int n = seen.Count;
        var bounds = Enumerable.Range(0, n).Select(i => Bounds(seen[i], total[i] - seen[i].Count)).ToList();
        // Refuted now; refuted at worst (already, or while a verification that may be a confirmed 0 is still to come).
        var refuted = Enumerable.Range(0, n).Select(i => fatal != null && fatal[i].Any(f => f)).ToArray();
        var mayBeRefuted = Enumerable.Range(0, n).Select(i => refuted[i] || (fatal != null && seen[i].Count < total[i])).ToArray();
        // (refuted, mean) ranks above (refuted', mean') when not refuted against refuted, or in the same group by a higher mean.
        static bool Above(bool refutedA, double meanA, bool refutedB, double meanB) => refutedA != refutedB ? !refutedA : meanA > meanB;
        var open = new bool[n];
        for (int i = 0; i < n; i++)
        {
            if (seen[i].Count >= total[i]) continue;
            double upper = bounds[i].Upper;
            int surelyAbove = kept.Count(k => Above(k.Refuted, k.MeanScore, refuted[i], upper));
            for (int k = 0; k < n && surelyAbove < keep; k++)
                if (k != i && Above(mayBeRefuted[k], bounds[k].Lower, refuted[i], upper)) surelyAbove++;
            open[i] = surelyAbove < keep;
        }
        return open;
    }

    /// <summary>The lowest and highest mean a proof can end with, given its scores so far and how many are left.</summary>
    static (double Lower, double Upper) Bounds(IReadOnlyList<double?> seen, int left)
    {
        double sum = 0;
        int parsed = 0;
        foreach (var score in seen)
            if (score is { } v) { sum += v; parsed++; }
        if (parsed + left == 0) return (0, 0);
        // Remaining ones all 0 (or unparsable) at worst, all 1 at best.
        return (sum / (parsed + left), (sum + left) / (parsed + left));
    }

    /// <summary>Proof ids are (problem, round, prompt, sample): problem|round|prompt|sample.</summary>
    public static string ProofId(string problemId, int round, int prompt, int sample) => $"{problemId}|{round}|{prompt}|{sample}";

    public static string PromptId(string problemId, int round, int prompt) => $"{problemId}|{round}|{prompt}";

    /// <summary>(problem, round, prompt) of a prompt id; the problem id may itself hold '|'.</summary>
    public static (string ProblemId, int Round, int Prompt) ParsePromptId(string id)
    {
        int b = id.LastIndexOf('|'), a = b > 0 ? id.LastIndexOf('|', b - 1) : -1;
        if (a <= 0 || !int.TryParse(id.AsSpan(a + 1, b - a - 1), out int round) || !int.TryParse(id.AsSpan(b + 1), out int prompt))
            throw new FormatException($"'{id}' is not a search prompt id (problem|round|prompt)");
        return (id[..a], round, prompt);
    }
}
