using System.Text.RegularExpressions;

namespace MathV2.Core.Method;

/// <summary>What the parser extracted from a verification or meta-verification output.</summary>
public sealed record AnalysisParse
{
    public double? Score { get; init; }
    /// <summary>Lead phrase, closing phrase and a valid boxed score all present (R_format = 1).</summary>
    public bool FormatOk { get; init; }
    public ParseFailure Failure { get; init; }
    /// <summary>The analysis between the lead and closing phrases (or the whole text when they are missing).</summary>
    public string Analysis { get; init; } = "";
    public string? RawBoxed { get; init; }
}

/// <summary>What the parser extracted from a generation: the proof and its self-evaluation.</summary>
public sealed record GenerationParse
{
    public string? Proof { get; init; }
    public string? SelfEvaluation { get; init; }
    public double? SelfScore { get; init; }
    public bool FormatOk { get; init; }
    public ParseFailure Failure { get; init; }
}

/// <summary>
/// Parsers of model outputs; a rejection always carries its reason. They accept the compact set's formats and the
/// reference code's: "## Solution" / "**Solution**" headings, the split at the first self-evaluation, the last
/// non-empty box, the paper's meta phrases.
/// </summary>
public static class Parsers
{
    const string SolutionWord = @"Solution", SelfEvalWord = @"Self[\s-]*Evaluation";
    static readonly Regex SolutionHeading = Heading(SolutionWord);
    static readonly Regex SelfEvalHeading = Heading(SelfEvalWord);

    /// <summary>A line that is "## Word" (any level, optional colon) or "**Word**" (the reference code's bold form).</summary>
    static Regex Heading(string word) =>
        new($@"^\s*(?:#{{1,6}}\s*{word}\s*:?|\*+\s*{word}\s*:?\s*\*+)\s*$", RegexOptions.IgnoreCase | RegexOptions.Multiline | RegexOptions.Compiled);

    /// <param name="finishReason">"stop" or "length"; unfinished outputs are rejected.</param>
    public static AnalysisParse Verification(string text, string finishReason = "stop") =>
        Analysis(text, finishReason, Prompts.VerificationLead, Prompts.VerificationClosing);

    public static AnalysisParse MetaVerification(string text, string finishReason = "stop") =>
        Analysis(text, finishReason, Prompts.MetaLead, Prompts.MetaClosing);

    static AnalysisParse Analysis(string text, string finishReason, KeyPhrase lead, KeyPhrase closing)
    {
        if (finishReason == "length") return new AnalysisParse { Failure = ParseFailure.Unfinished };
        string body = Boxed.AfterThinking(text);
        if (string.IsNullOrWhiteSpace(body)) return new AnalysisParse { Failure = ParseFailure.Empty };
        var box = Boxed.LastAt(body);
        string? raw = box?.Content;
        double? score = raw == null ? null : Scores.Normalize(raw);
        int leadEnd = lead.LastEnd(body) is var le && le >= 0 ? le : -1;
        int closeStart = closing.LastStart(body);
        string analysis = (leadEnd >= 0 && closeStart > leadEnd ? body[leadEnd..closeStart] : body).Trim();
        ParseFailure failure =
            raw == null ? ParseFailure.NoBoxedScore :
            score == null ? ParseFailure.InvalidScore :
            leadEnd < 0 ? ParseFailure.MissingLeadPhrase :
            closeStart < 0 ? ParseFailure.MissingClosingPhrase :
            box!.Value.Index < closeStart ? ParseFailure.ScoreBeforeClosingPhrase :
            ParseFailure.None;
        return new AnalysisParse { Score = score, RawBoxed = raw, Analysis = analysis, Failure = failure, FormatOk = failure == ParseFailure.None };
    }

    /// <summary>
    /// Splits a generation as the reference code does: the proof runs from the first Solution heading to the next
    /// Solution heading or the first Self Evaluation heading; the self-evaluation runs from the first Self
    /// Evaluation heading to the next one or the end, and is parsed as a verification.
    /// </summary>
    public static GenerationParse Generation(string text, string finishReason = "stop")
    {
        if (finishReason == "length") return new GenerationParse { Failure = ParseFailure.Unfinished };
        string body = Boxed.AfterThinking(text);
        if (string.IsNullOrWhiteSpace(body)) return new GenerationParse { Failure = ParseFailure.Empty };
        var sol = SolutionHeading.Matches(body);
        var self = SelfEvalHeading.Matches(body);
        if (sol.Count == 0) return new GenerationParse { Failure = ParseFailure.MissingSolution };
        var solution = sol[0];
        int proofStart = solution.Index + solution.Length;
        int nextSolution = sol.Count > 1 ? sol[1].Index : body.Length;
        if (self.Count == 0)
            return new GenerationParse { Proof = body[proofStart..nextSolution].Trim(), Failure = ParseFailure.MissingSelfEvaluation };
        var selfEval = self[0];
        // A self-evaluation before the proof, or headings that overlap (their patterns may span blank lines): no proof.
        if (selfEval.Index < proofStart) return new GenerationParse { Failure = ParseFailure.MissingSolution };
        string proof = body[proofStart..Math.Min(nextSolution, selfEval.Index)].Trim();
        if (proof.Length == 0) return new GenerationParse { Failure = ParseFailure.MissingSolution };
        int evaluationStart = selfEval.Index + selfEval.Length;
        int evaluationEnd = self.Cast<Match>().FirstOrDefault(m => m.Index >= evaluationStart)?.Index ?? body.Length;
        string evaluation = body[evaluationStart..evaluationEnd].Trim();
        var a = Verification(evaluation);
        return new GenerationParse
        {
            Proof = proof,
            SelfEvaluation = evaluation,
            SelfScore = a.Score,
            Failure = a.Failure,
            FormatOk = a.FormatOk,
        };
    }
}
