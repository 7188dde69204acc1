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

/// <summary>Parsers of model outputs; a rejection always carries its reason.</summary>
public static class Parsers
{
    static readonly Regex SolutionHeading = new(@"^\s*#{1,6}\s*Solution\s*:?\s*$", RegexOptions.IgnoreCase | RegexOptions.Multiline | RegexOptions.Compiled);
    static readonly Regex SelfEvalHeading = new(@"^\s*#{1,6}\s*Self[\s-]*Evaluation\s*:?\s*$", RegexOptions.IgnoreCase | RegexOptions.Multiline | RegexOptions.Compiled);

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
        string? raw = Boxed.Last(text);
        double? score = raw == null ? null : Scores.Normalize(raw);
        int leadEnd = lead.LastEnd(body) is var le && le >= 0 ? le : -1;
        int closeStart = closing.LastStart(body);
        string analysis = (leadEnd >= 0 && closeStart > leadEnd ? body[leadEnd..closeStart] : body).Trim();
        ParseFailure failure =
            raw == null ? ParseFailure.NoBoxedScore :
            score == null ? ParseFailure.InvalidScore :
            leadEnd < 0 ? ParseFailure.MissingLeadPhrase :
            closeStart < 0 ? ParseFailure.MissingClosingPhrase :
            ParseFailure.None;
        return new AnalysisParse { Score = score, RawBoxed = raw, Analysis = analysis, Failure = failure, FormatOk = failure == ParseFailure.None };
    }

    /// <summary>Splits "## Solution" / "## Self Evaluation" (the self-evaluation is parsed as a verification).</summary>
    public static GenerationParse Generation(string text, string finishReason = "stop")
    {
        if (finishReason == "length") return new GenerationParse { Failure = ParseFailure.Unfinished };
        string body = Boxed.AfterThinking(text);
        if (string.IsNullOrWhiteSpace(body)) return new GenerationParse { Failure = ParseFailure.Empty };
        var sol = SolutionHeading.Matches(body);
        var self = SelfEvalHeading.Matches(body);
        if (sol.Count == 0) return new GenerationParse { Failure = ParseFailure.MissingSolution };
        var solution = sol[0];
        var selfEval = self.Cast<Match>().LastOrDefault(m => m.Index > solution.Index);
        if (selfEval == null)
            return new GenerationParse { Proof = body[(solution.Index + solution.Length)..].Trim(), Failure = ParseFailure.MissingSelfEvaluation };
        // The headings' patterns may span blank lines, so the two matches can overlap: then there is no proof between them.
        if (selfEval.Index < solution.Index + solution.Length) return new GenerationParse { Failure = ParseFailure.MissingSolution };
        string proof = body[(solution.Index + solution.Length)..selfEval.Index].Trim();
        if (proof.Length == 0) return new GenerationParse { Failure = ParseFailure.MissingSolution };
        string evaluation = body[(selfEval.Index + selfEval.Length)..].Trim();
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
