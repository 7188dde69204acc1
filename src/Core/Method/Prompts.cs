namespace MathV2.Core.Method;

/// <summary>
/// A versioned prompt template. Placeholders are {name}; a lap spec may override the text (and must then
/// bump the version so artifacts record which prompt produced them).
/// </summary>
public sealed record PromptTemplate
{
    public required string Name { get; init; }
    public required int Version { get; init; }
    public required string Text { get; init; }

    public string Render(IReadOnlyDictionary<string, string> values)
    {
        // One pass, so that a value containing "{proof}" is not substituted again.
        return System.Text.RegularExpressions.Regex.Replace(Text, @"\{(\w+)\}", m => values.TryGetValue(m.Groups[1].Value, out string? v) ? v : m.Value);
    }
}

/// <summary>The four templates a lap uses; <see cref="Prompts.Standard"/> or <see cref="Prompts.Compact"/>, or a spec's own.</summary>
public sealed record PromptSet
{
    public required string Name { get; init; }
    public required PromptTemplate Verification { get; init; }
    public required PromptTemplate MetaVerification { get; init; }
    public required PromptTemplate Generation { get; init; }
    public required PromptTemplate Refinement { get; init; }
}

/// <summary>The method's prompts (docs/method.md): verification, meta-verification, generation with self-evaluation, refinement.</summary>
public static class Prompts
{
    /// <summary>Lead and closing phrases of an analysis (verification and self-evaluation).</summary>
    public static readonly KeyPhrase VerificationLead = new("Here is my evaluation of the solution:");
    public static readonly KeyPhrase VerificationClosing = new("Based on my evaluation, the final overall score should be:", ("overall", "overall?"));
    public static readonly KeyPhrase MetaLead = new("Here is my analysis of the evaluation:");
    public static readonly KeyPhrase MetaClosing = new("Based on my analysis, the quality score of the evaluation should be:");

    public const string Rubric = """
        Score the proof:
        - 1: completely correct; every step is justified and shown.
        - 0.5: generally correct, with minor errors or omitted details.
        - 0: wrong, with a fatal error or severe omissions, or it does not address the problem.
        """;

    public static readonly PromptTemplate Verification = new()
    {
        Name = "verification",
        Version = 1,
        Text = """
            ## Task
            Evaluate the proof of the problem below, step by step.

            ## Problem
            {problem}

            ## Proof
            {proof}

            ## Rubric
            {rubric}

            Answer in this form: "Here is my evaluation of the solution:", your step-by-step analysis naming every
            defect, then "Based on my evaluation, the final overall score should be:" and the score in \boxed{}.
            """,
    };

    public static readonly PromptTemplate MetaVerification = new()
    {
        Name = "meta-verification",
        Version = 1,
        Text = """
            ## Task
            Judge the evaluation of a proof below (not the proof itself): are the restated steps faithful, does every
            claimed defect really exist, are the expressions accurate, and is the score consistent with the defects?
            Rate 0 if all claimed defects are bogus, 0.5 if some are bogus or the wording or score is off, else 1.

            ## Problem
            {problem}

            ## Proof
            {proof}

            ## Evaluation
            {analysis}

            Answer in this form: "Here is my analysis of the evaluation:", your analysis, then "Based on my analysis,
            the quality score of the evaluation should be:" and the rating in \boxed{}.
            """,
    };

    public static readonly PromptTemplate Generation = new()
    {
        Name = "generation",
        Version = 1,
        Text = """
            ## Task
            Prove the statement below. Then evaluate your own proof honestly with the rubric.

            ## Problem
            {problem}

            ## Rubric
            {rubric}

            Answer with "## Solution" followed by your proof, then "## Self Evaluation" followed by "Here is my
            evaluation of the solution:", the analysis, "Based on my evaluation, the final overall score should be:"
            and the score in \boxed{}.
            """,
    };

    public static readonly PromptTemplate Refinement = new()
    {
        Name = "refinement",
        Version = 1,
        Text = """
            ## Task
            Earlier proofs of the problem below were evaluated; the weakest come first. Write an improved proof that
            fixes every defect the evaluations found, then evaluate it.

            ## Problem
            {problem}

            {candidates}

            ## Rubric
            {rubric}

            Answer with "## Solution" followed by your proof, then "## Self Evaluation" in the evaluation format,
            ending with "Based on my evaluation, the final overall score should be:" and the score in \boxed{}.
            """,
    };

    /// <summary>
    /// Compact templates for tiny models (the demo on a CPU): a short instruction at the end, right before the
    /// answer, and no rubric (the model learns it from its demonstrations); the answer formats and key phrases are the same.
    /// </summary>
    public static readonly PromptSet Compact = new()
    {
        Name = "compact",
        Verification = new() { Name = "verification-compact", Version = 1, Text = "Problem: {problem}\nProof:\n{proof}\nVerify the proof; score 1, 0.5 or 0.\n" },
        MetaVerification = new() { Name = "meta-verification-compact", Version = 1, Text = "Problem: {problem}\nProof:\n{proof}\nEvaluation:\n{analysis}\nJudge the evaluation; rate 1, 0.5 or 0.\n" },
        Generation = new() { Name = "generation-compact", Version = 1, Text = "Problem: {problem}\nProve it, then evaluate your proof.\n" },
        // The problem last, right before the answer: a tiny model copies the expression from what it read last.
        Refinement = new() { Name = "refinement-compact", Version = 2, Text = "{candidates}\nProblem: {problem}\nImprove the proof, then evaluate it.\n" },
    };

    /// <summary>The full templates above, as a set.</summary>
    public static readonly PromptSet Standard = new()
    {
        Name = "standard", Verification = Verification, MetaVerification = MetaVerification, Generation = Generation, Refinement = Refinement,
    };

    public static PromptSet Set(string? name) => name switch
    {
        null or "" or "standard" => Standard,
        "compact" => Compact,
        _ => throw new ArgumentException($"unknown prompt set '{name}' (standard, compact)"),
    };

    public static string RenderVerification(string problem, string proof, PromptTemplate? t = null) =>
        (t ?? Verification).Render(new Dictionary<string, string> { ["problem"] = problem, ["proof"] = proof, ["rubric"] = Rubric });

    public static string RenderMetaVerification(string problem, string proof, string analysis, PromptTemplate? t = null) =>
        (t ?? MetaVerification).Render(new Dictionary<string, string> { ["problem"] = problem, ["proof"] = proof, ["analysis"] = analysis });

    public static string RenderGeneration(string problem, PromptTemplate? t = null) =>
        (t ?? Generation).Render(new Dictionary<string, string> { ["problem"] = problem, ["rubric"] = Rubric });

    /// <summary>Candidates with their analyses, lowest score first (ties keep their order).</summary>
    public static string RenderRefinement(string problem, IEnumerable<(string Proof, string Analysis, double Score)> candidates, PromptTemplate? t = null)
    {
        var blocks = candidates.Select((c, i) => (c, i)).OrderBy(x => x.c.Score).ThenBy(x => x.i)
            .Select((x, n) => $"## Candidate {n + 1} (score {x.c.Score:0.#})\n{x.c.Proof}\n\n## Evaluation of candidate {n + 1}\n{x.c.Analysis}");
        return (t ?? Refinement).Render(new Dictionary<string, string> { ["problem"] = problem, ["candidates"] = string.Join("\n\n", blocks), ["rubric"] = Rubric });
    }
}
