using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

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
        return Regex.Replace(Text, @"\{(\w+)\}", m => values.TryGetValue(m.Groups[1].Value, out string? v) ? v : m.Value);
    }

    /// <summary>Whether the text has the placeholder {name}.</summary>
    public bool Has(string placeholder) => Text.Contains($"{{{placeholder}}}", StringComparison.Ordinal);
}

/// <summary>How a refinement prompt lists its candidates.</summary>
public enum CandidateStyle
{
    /// <summary>
    /// As the reference code: best first (by score, ties in order), each "--- Solution k ---" (k from 0) followed by
    /// its evaluations "=== Evaluation j of Solution k ===".
    /// </summary>
    Reference,
    /// <summary>The compact set's: weakest first, "## Candidate n (score s)" and "## Evaluation of candidate n".</summary>
    WeakestFirst,
}

/// <summary>
/// The four templates a lap uses: a built-in set (<see cref="Prompts.Standard"/>, <see cref="Prompts.Compact"/>) or
/// a spec's own (for one, the authors' templates imported with <c>mathv2 prompts import</c>). In JSON a built-in set
/// is its name and any other set an object.
/// </summary>
[JsonConverter(typeof(PromptSetConverter))]
public sealed record PromptSet
{
    public required string Name { get; init; }
    /// <summary>Placeholders {problem}, {proof}, {rubric}.</summary>
    public required PromptTemplate Verification { get; init; }
    /// <summary>Placeholders {problem}, {proof}, {analysis}, {rubric}.</summary>
    public required PromptTemplate MetaVerification { get; init; }
    /// <summary>Placeholders {problem}, {rubric}.</summary>
    public required PromptTemplate Generation { get; init; }
    /// <summary>Placeholders {candidates}, {problem}, {instruction} (the rendered generation prompt), {rubric}.</summary>
    public required PromptTemplate Refinement { get; init; }
    public CandidateStyle Candidates { get; init; } = CandidateStyle.Reference;
    /// <summary>The lead and closing phrases its meta-verification prompt asks for (what demonstrations write).</summary>
    public string MetaLead { get; init; } = Prompts.PaperMetaLead;
    public string MetaClosing { get; init; } = Prompts.PaperMetaClosing;

    [JsonIgnore] internal bool BuiltIn { get; init; }

    public static implicit operator PromptSet(string name) => Prompts.Set(name);

    /// <summary>This set written out in full even when built in (to read or copy; a copy needs a name of its own).</summary>
    public PromptSet Expanded() => this with { BuiltIn = false };

    /// <summary>Problems of a spec's own set: required placeholders, names, phrases the parsers know.</summary>
    public IEnumerable<(string Field, string Message)> Validate(string prefix = "prompts")
    {
        if (BuiltIn) yield break;
        if (string.IsNullOrWhiteSpace(Name) || Name.Length > 100) yield return ($"{prefix}.name", "must be 1 to 100 characters");
        else if (Prompts.BuiltInNames.Contains(Name)) yield return ($"{prefix}.name", $"'{Name}' is a built-in set's name; give your set another");
        foreach (var (field, t, required) in new (string, PromptTemplate?, string[])[]
        {
            ("verification", Verification, ["problem", "proof"]),
            ("metaVerification", MetaVerification, ["problem", "proof", "analysis"]),
            ("generation", Generation, ["problem"]),
            ("refinement", Refinement, ["candidates"]),
        })
        {
            if (t is null) { yield return ($"{prefix}.{field}", "is required"); continue; }
            if (string.IsNullOrWhiteSpace(t.Text)) yield return ($"{prefix}.{field}.text", "is required");
            if (t.Version < 1) yield return ($"{prefix}.{field}.version", "must be at least 1");
            foreach (string r in required)
                if (!t.Has(r)) yield return ($"{prefix}.{field}.text", $"must contain the placeholder {{{r}}}");
        }
        if (Refinement is { } rt && !rt.Has("problem") && !rt.Has("instruction"))
            yield return ($"{prefix}.refinement.text", "must contain {problem} or {instruction}");
        if (!Prompts.MetaLead.Alternatives.Contains(MetaLead)) yield return ($"{prefix}.metaLead", $"must be one the parsers know: {string.Join(" | ", Prompts.MetaLead.Alternatives)}");
        if (!Prompts.MetaClosing.Alternatives.Contains(MetaClosing)) yield return ($"{prefix}.metaClosing", $"must be one the parsers know: {string.Join(" | ", Prompts.MetaClosing.Alternatives)}");
    }
}

/// <summary>A built-in set reads and writes as its name; any other set as an object.</summary>
public sealed class PromptSetConverter : JsonConverter<PromptSet>
{
    sealed record Body
    {
        public string Name { get; init; } = "";
        public PromptTemplate? Verification { get; init; }
        public PromptTemplate? MetaVerification { get; init; }
        public PromptTemplate? Generation { get; init; }
        public PromptTemplate? Refinement { get; init; }
        public CandidateStyle Candidates { get; init; } = CandidateStyle.Reference;
        public string MetaLead { get; init; } = Prompts.PaperMetaLead;
        public string MetaClosing { get; init; } = Prompts.PaperMetaClosing;
    }

    public override PromptSet? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            string name = reader.GetString()!;
            if (name.Length == 0) throw new JsonException($"a prompt set's name is empty (built-in: {string.Join(", ", Prompts.BuiltInNames)})");
            return Prompts.TryGet(name) ?? throw new JsonException(Names.Unknown("prompt set", name, Prompts.BuiltInNames) + "; a set of one's own is an object with name, verification, metaVerification, generation, refinement");
        }
        if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException("a prompt set is a built-in name or an object");
        Body? b;
        try { b = JsonSerializer.Deserialize<Body>(ref reader, options); }
        catch (JsonException e) when (e.Path is { Length: > 1 })
        {
            // A nested read reports paths from the set; the outer reader adds where the set is (Json.RelativePath).
            var outer = new JsonException(e.Message.Split(" Path:")[0], e);
            outer.Data[Json.RelativePathKey] = e.Path.TrimStart('$', '.');
            throw outer;
        }
        if (b is null) throw new JsonException("a prompt set is a built-in name or an object");
        // Missing templates are left null here and reported by Validate with their field names.
        return new PromptSet
        {
            Name = b.Name, Verification = b.Verification!, MetaVerification = b.MetaVerification!, Generation = b.Generation!, Refinement = b.Refinement!,
            Candidates = b.Candidates, MetaLead = b.MetaLead, MetaClosing = b.MetaClosing,
        };
    }

    public override void Write(Utf8JsonWriter writer, PromptSet value, JsonSerializerOptions options)
    {
        if (value.BuiltIn) { writer.WriteStringValue(value.Name); return; }
        JsonSerializer.Serialize(writer, new Body
        {
            Name = value.Name, Verification = value.Verification, MetaVerification = value.MetaVerification, Generation = value.Generation,
            Refinement = value.Refinement, Candidates = value.Candidates, MetaLead = value.MetaLead, MetaClosing = value.MetaClosing,
        }, options);
    }
}

/// <summary>The method's prompts (docs/method.md): verification, meta-verification, generation with self-evaluation, refinement.</summary>
public static class Prompts
{
    public const string PaperMetaLead = "Here is my analysis of the \"solution evaluation\":";
    public const string PaperMetaClosing = "Based on my analysis, I will rate the \"solution evaluation\" as:";
    public const string CompactMetaLead = "Here is my analysis of the evaluation:";
    public const string CompactMetaClosing = "Based on my analysis, the quality score of the evaluation should be:";

    /// <summary>Lead and closing phrases of an analysis (verification and self-evaluation).</summary>
    public static readonly KeyPhrase VerificationLead = new("Here is my evaluation of the solution:");
    public static readonly KeyPhrase VerificationClosing = new("Based on my evaluation, the final overall score should be:", ("overall", "overall?"));
    /// <summary>Lead and closing phrases of a meta-verification: the compact set's or the paper's.</summary>
    public static readonly KeyPhrase MetaLead = new([CompactMetaLead, PaperMetaLead]);
    public static readonly KeyPhrase MetaClosing = new([CompactMetaClosing, PaperMetaClosing]);

    /// <summary>The verifier's scoring rules, shown to the verifier, the meta-verifier and the generator.</summary>
    public const string Rubric = """
        - 1: the solution is completely correct; every step is carried out properly and shown clearly.
        - 0.5: the solution is generally correct, with some details omitted or minor errors.
        - 0: the solution does not address the problem, has a fatal error, or has severe omissions.
        - Citing a result from a paper does not replace proving it: a citation is acceptable only when the solution
          also proves what it cites, correctly; otherwise score the solution by the rules above, and never with 1.
        """;

    const string AnalysisGuide =
        "... // Your evaluation. Go through the key steps of the solution and every step whose correctness you doubted, and say for each " +
        "whether it is right: for a correct step, why you doubted it and why it holds; for a wrong step, what the error is and what it does to the solution.";

    public static readonly PromptTemplate Verification = new()
    {
        Name = "verification",
        Version = 2,
        Text = $$"""
            ## Instruction

            Your task is to evaluate the quality of a solution to a problem. The problem may ask for a proof, or for an
            answer; when an answer is required, the solution must state it and prove rigorously that it is valid.

            Score the solution by these rules:
            {rubric}

            Reason carefully about the solution, then give a detailed evaluation followed by your score, in this format:

            Here is my evaluation of the solution:
            {{AnalysisGuide}}

            Based on my evaluation, the final overall score should be:
            \boxed{...} // the final overall score by the rules above: 0, 0.5 or 1, and nothing else

            ---

            Here is your task input:

            ## Problem
            {problem}

            ## Solution
            {proof}
            """,
    };

    public static readonly PromptTemplate MetaVerification = new()
    {
        Name = "meta-verification",
        Version = 2,
        Text = $$"""
            You are given a "problem", a "solution" and a "solution evaluation"; judge whether the "solution evaluation" is reasonable.

            The "solution evaluation" was written by a verifier that scored the "solution" by these rules (they are not your rules):

            ```
            {rubric}
            ```

            Your rules for judging the "solution evaluation":

            1. Judge only the "solution evaluation". You need not solve the "problem", nor decide yourself whether the
               "solution" is right.

            2. Look at the "solution evaluation" from these sides:
               - Step restatement: where it restates what the "solution" does, check the "solution" really does it.
               - Defect analysis: check that each error or defect it reports in the "solution" is real.
               - Expression analysis: check that what it says is accurate.
               - Score analysis: check that its final score follows, by the rules above, from the defects it found.

            3. Defect analysis matters most, and it covers only the defects reported. What the "solution evaluation" calls
               correct is outside your scope, even when it is wrong: an evaluation that finds no defect in a solution with
               obvious errors still has a reasonable defect analysis. For each reported defect decide both whether it
               really exists and whether the evaluation analyses it accurately.

            4. Expression errors include, among others: calling conclusions wrong because they depend on a step it found
               wrong (it may only call them "not rigorously demonstrated"); typos and calculation errors of the evaluation;
               restating the "solution" inaccurately. Calling a wrong step of the "solution" correct is not an expression error.

            5. Rate the "solution evaluation":
               - If at least one reported defect is unreasonable, judge the defects only: 0 if all of them are
                 unreasonable, 0.5 if some are reasonable and some are not.
               - Otherwise (no defect reported, or all reported defects reasonable): 0.5 if it has an expression error or
                 a score that does not follow from the rules, else 1.

            Your output should follow this format:

            {{PaperMetaLead}}
            ... // Your analysis.

            {{PaperMetaClosing}}
            \boxed{...} // your rating of the "solution evaluation": 0, 0.5 or 1, and nothing else, by the rules above

            ---

            Here is your task input:

            ## Problem
            {problem}

            ## Solution
            {proof}

            ## Solution Evaluation
            {analysis}
            """,
    };

    public static readonly PromptTemplate Generation = new()
    {
        Name = "generation",
        Version = 2,
        Text = $$"""
            Your task is to solve a problem. The problem may ask you to prove a statement, or to find an answer; when an
            answer is required, find it and prove rigorously that it is valid.

            Make your final solution complete and easy to follow. It will be scored by these rules:

            ```
            {rubric}
            ```

            You can score a solution yourself, so reason carefully, evaluate your approach by these rules, and fix the
            issues you find until you can make no further progress.

            Your final response presents your solution followed by your evaluation of it.
            - Look hard for issues in your own solution, by the rules above, and fix as many as you can.
            - Present your progress faithfully: the best solution you can give and an honest evaluation of it.
            - Score your solution 1 only when you find no issue in it.
            - If you find issues you cannot resolve, say so plainly in your evaluation; that is fine.
            - The worst response is a wrong solution claimed to be correct, or claimed correct without careful checking.
              A better one names its errors honestly. Dishonest self-evaluations are detected and penalised.

            Your final response must be in this format:

            ## Solution // start your solution with exactly this heading
            ... // your final solution

            ## Self Evaluation // start your evaluation with exactly this heading

            Here is my evaluation of the solution: // start your analysis with exactly this phrase
            {{AnalysisGuide}} Be honest: name every issue your solution still has.

            Based on my evaluation, the final overall score should be:
            \boxed{...} // the final overall score by the rules above: 0, 0.5 or 1, and nothing else, reached only after re-examining your solution

            ---

            Here is your task input:

            ## Problem
            {problem}
            """,
    };

    public static readonly PromptTemplate Refinement = new()
    {
        Name = "refinement",
        Version = 2,
        Text = """
            {instruction}

            ## Candidate Solution(s) to Refine
            Here are earlier solutions with their evaluations. Write a better solution: fix the issues the evaluations
            raise, reuse the promising ideas of the candidates, or both.

            {candidates}

            ## Final Instruction
            Answer in the format above: a `## Solution` section followed by a `## Self Evaluation` section.
            """,
    };

    /// <summary>
    /// Compact templates for tiny models (the demo on a CPU): a short instruction at the end, right before the
    /// answer, and no rubric (the model learns it from its demonstrations); the answer formats are the same, with
    /// shorter meta-verification phrases, and refinement lists the weakest candidate first.
    /// </summary>
    public static readonly PromptSet Compact = new()
    {
        Name = "compact",
        BuiltIn = true,
        Candidates = CandidateStyle.WeakestFirst,
        MetaLead = CompactMetaLead,
        MetaClosing = CompactMetaClosing,
        Verification = new() { Name = "verification-compact", Version = 1, Text = "Problem: {problem}\nProof:\n{proof}\nVerify the proof; score 1, 0.5 or 0.\n" },
        MetaVerification = new() { Name = "meta-verification-compact", Version = 1, Text = "Problem: {problem}\nProof:\n{proof}\nEvaluation:\n{analysis}\nJudge the evaluation; rate 1, 0.5 or 0.\n" },
        Generation = new() { Name = "generation-compact", Version = 1, Text = "Problem: {problem}\nProve it, then evaluate your proof.\n" },
        // The problem last, right before the answer: a tiny model copies the expression from what it read last.
        Refinement = new() { Name = "refinement-compact", Version = 2, Text = "{candidates}\nProblem: {problem}\nImprove the proof, then evaluate it.\n" },
    };

    /// <summary>
    /// The full templates above: the structure, rules, answer formats, key phrases and candidate order of the
    /// authors' published templates, in this project's words (their text verbatim: <c>mathv2 prompts import</c>).
    /// </summary>
    public static readonly PromptSet Standard = new()
    {
        Name = "standard", BuiltIn = true, Verification = Verification, MetaVerification = MetaVerification, Generation = Generation, Refinement = Refinement,
    };

    public static readonly string[] BuiltInNames = ["standard", "compact"];

    public static PromptSet? TryGet(string? name) => name switch
    {
        null or "" or "standard" => Standard,
        "compact" => Compact,
        _ => null,
    };

    public static PromptSet Set(string? name) =>
        TryGet(name) ?? throw new ArgumentException($"unknown prompt set '{name}' ({string.Join(", ", BuiltInNames)})");

    public static string RenderVerification(string problem, string proof, PromptTemplate? t = null) =>
        (t ?? Verification).Render(new Dictionary<string, string> { ["problem"] = problem, ["proof"] = proof, ["rubric"] = Rubric });

    public static string RenderMetaVerification(string problem, string proof, string analysis, PromptTemplate? t = null) =>
        (t ?? MetaVerification).Render(new Dictionary<string, string> { ["problem"] = problem, ["proof"] = proof, ["analysis"] = analysis, ["rubric"] = Rubric });

    public static string RenderGeneration(string problem, PromptTemplate? t = null) =>
        (t ?? Generation).Render(new Dictionary<string, string> { ["problem"] = problem, ["rubric"] = Rubric });

    /// <summary>
    /// A refinement prompt: the set's generation prompt as {instruction}, and the candidates with their analyses
    /// in the set's <see cref="CandidateStyle"/> (the reference: best first; compact: weakest first; ties keep their order).
    /// </summary>
    public static string RenderRefinement(string problem, IEnumerable<(string Proof, string Analysis, double Score)> candidates, PromptSet? set = null)
    {
        set ??= Standard;
        var indexed = candidates.Select((c, i) => (c, i));
        string blocks = set.Candidates == CandidateStyle.WeakestFirst
            ? string.Join("\n\n", indexed.OrderBy(x => x.c.Score).ThenBy(x => x.i)
                .Select((x, n) => $"## Candidate {n + 1} (score {x.c.Score:0.#})\n{x.c.Proof}\n\n## Evaluation of candidate {n + 1}\n{x.c.Analysis}"))
            : string.Join("\n\n\n", indexed.OrderByDescending(x => x.c.Score).ThenBy(x => x.i)
                .Select((x, k) => $"--- Solution {k} ---\n{x.c.Proof}\n\n=== Evaluation 0 of Solution {k} ===\n{x.c.Analysis}"));
        return RenderRefinementWith(problem, blocks, set);
    }

    static string RenderRefinementWith(string problem, string candidates, PromptSet set)
    {
        var values = new Dictionary<string, string> { ["problem"] = problem, ["candidates"] = candidates, ["rubric"] = Rubric };
        if (set.Refinement.Has("instruction")) values["instruction"] = RenderGeneration(problem, set.Generation).Trim();
        return set.Refinement.Render(values);
    }

    /// <summary>
    /// The test-time search's refinement prompt: one proof with several of its analyses (given lowest score first), as
    /// the reference code writes it ("=== Evaluation j of Solution 0 ===" each), or in the compact set's headings.
    /// </summary>
    public static string RenderRefinement(string problem, string proof, double score, IReadOnlyList<string> analyses, PromptSet? set = null)
    {
        set ??= Standard;
        string blocks = set.Candidates == CandidateStyle.WeakestFirst
            ? $"## Candidate 1 (score {score:0.#})\n{proof}" + string.Concat(analyses.Select(a => $"\n\n## Evaluation of candidate 1\n{a}"))
            : $"--- Solution 0 ---\n{proof}" + string.Concat(analyses.Select((a, j) => $"\n\n=== Evaluation {j} of Solution 0 ===\n{a}"));
        return RenderRefinementWith(problem, blocks, set);
    }
}
