using System.Text.Json;
using MathV2.Core.Laps;
using MathV2.Core.Method;

namespace MathV2.Core.Tests;

public sealed class PromptSetTests
{
    // A file in the authors' format (a Python dict of triple-quoted str.format templates); the text is this test's own.
    const string Templates = """"
        math_templates = {
            "proof_verification": """
        ## Instruction
        Rate it as \\boxed{{...}} with \(0\) or 1.\
         Joined line; a quote \" and a tab\tend.

        ## Problem
        {statement}

        ## Solution
        {proof}
        """.strip(),

            "meta_verification": """
        Judge {rating} of {proof} for {statement}.
        """.strip(),

            'proof_generation': '''
        Solve {question}, then evaluate it.
        ''',

            "proof_refinement": """
        {instruction}

        ## Candidates
        {proofs_to_refine}
        """.strip()
        }
        """";

    [Fact]
    public void The_authors_format_imports_verbatim_with_escapes_undone_and_fields_renamed()
    {
        var set = PromptImport.FromPythonTemplates(Templates, "math_templates.py");
        Assert.Equal("paper", set.Name);
        Assert.Equal("## Instruction\nRate it as \\boxed{...} with \\(0\\) or 1. Joined line; a quote \" and a tab\tend.\n\n## Problem\n{problem}\n\n## Solution\n{proof}", set.Verification.Text);
        Assert.Equal("Judge {analysis} of {proof} for {problem}.", set.MetaVerification.Text);
        // No .strip(): the newlines around it are kept, as Python keeps them.
        Assert.Equal("\nSolve {problem}, then evaluate it.\n", set.Generation.Text);
        Assert.Equal(CandidateStyle.Reference, set.Candidates);
        Assert.Equal(Prompts.PaperMetaLead, set.MetaLead);
        string refine = Prompts.RenderRefinement("P", [("proof A", "eval A", 0.5), ("proof B", "eval B", 1)], set);
        Assert.Equal("Solve P, then evaluate it.\n\n## Candidates\n--- Solution 0 ---\nproof B\n\n=== Evaluation 0 of Solution 0 ===\neval B\n\n\n--- Solution 1 ---\nproof A\n\n=== Evaluation 0 of Solution 1 ===\neval A", refine);
    }

    [Fact]
    public void An_import_names_the_file_and_what_is_wrong()
    {
        var missing = Assert.Throws<FormatException>(() => PromptImport.FromPythonTemplates(Templates.Replace("\"meta_verification\"", "\"meta\""), "t.py"));
        Assert.StartsWith("t.py: no template 'meta_verification'", missing.Message);
        var field = Assert.Throws<FormatException>(() => PromptImport.FromPythonTemplates(Templates.Replace("{rating}", "{critique}"), "t.py"));
        Assert.Contains("template 'meta_verification' has the field {critique}", field.Message);
        var noProof = Assert.Throws<FormatException>(() => PromptImport.FromPythonTemplates(Templates.Replace("{proof}\n\"\"\".strip(),\n\n    \"meta", "\n\"\"\".strip(),\n\n    \"meta"), "t.py"));
        Assert.Contains("prompts.verification.text must contain the placeholder {proof}", noProof.Message);
        Assert.Throws<FormatException>(() => PromptImport.FromPythonTemplates("nothing here", "t.py"));
    }

    [Fact]
    public void A_built_in_set_is_its_name_in_json_and_a_set_of_ones_own_an_object()
    {
        Assert.Equal("\"compact\"", Json.Serialize<PromptSet>(Prompts.Compact));
        var own = PromptImport.FromPythonTemplates(Templates, "t.py");
        string json = Json.Serialize(own);
        Assert.StartsWith("{\"name\":\"paper\"", json);
        var back = JsonSerializer.Deserialize<PromptSet>(json, Json.Strict)!;
        Assert.Equal(own, back);
        Assert.Same(Prompts.Standard, JsonSerializer.Deserialize<PromptSet>("\"standard\"", Json.Strict));
        var unknown = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<PromptSet>("\"compcat\"", Json.Strict));
        Assert.Contains("unknown prompt set 'compcat'; did you mean 'compact'?", unknown.Message);
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<PromptSet>("{\"name\":\"x\",\"verificaton\":{}}", Json.Strict));
    }

    [Fact]
    public void A_lap_spec_carries_its_own_set_to_every_prompt_and_rejects_a_broken_one_by_field()
    {
        var own = PromptImport.FromPythonTemplates(Templates, "t.py");
        var spec = JsonSerializer.Deserialize<LapSpec>($$"""{"prompts": {{Json.Serialize(own)}}}""", Json.Strict)!;
        Assert.Empty(spec.Validate());
        Assert.Equal(own, spec.PromptSet);
        Assert.Equal(own, LapStore.DemoOptions(spec).Prompts);
        Assert.Equal(own, spec.Reward(new Jobs.RewardSpec { Kind = Jobs.RewardSpec.VerifierV1 }).Prompts);
        Assert.Same(Prompts.Compact, new LapSpec().PromptSet);

        var broken = spec with { Prompts = own with { Name = "standard", MetaVerification = own.MetaVerification with { Text = "{problem} {proof}" }, MetaLead = "Here is what I think:" } };
        var errors = broken.Validate().Select(e => $"{e.Field} {e.Message}").ToList();
        Assert.Contains(errors, e => e.StartsWith("prompts.name 'standard' is a built-in set's name", StringComparison.Ordinal));
        Assert.Contains("prompts.metaVerification.text must contain the placeholder {analysis}", errors);
        Assert.Contains(errors, e => e.StartsWith("prompts.metaLead must be one the parsers know", StringComparison.Ordinal));
    }

    [Fact]
    public void The_standard_set_has_the_papers_structure_phrases_and_candidate_order()
    {
        string meta = Prompts.RenderMetaVerification("P", "Y", "V");
        Assert.Contains(Prompts.PaperMetaLead, meta);
        Assert.Contains(Prompts.PaperMetaClosing, meta);
        Assert.EndsWith("## Problem\nP\n\n## Solution\nY\n\n## Solution Evaluation\nV", meta);
        Assert.Contains("Citing a result from a paper", meta);   // the verifier's rules are shown inside the meta prompt
        string generation = Prompts.RenderGeneration("P");
        Assert.Contains("## Self Evaluation", generation);
        Assert.Contains("Score your solution 1 only when you find no issue in it.", generation);
        string refinement = Prompts.RenderRefinement("P", [("weak", "bad", 0), ("strong", "good", 1)]);
        Assert.StartsWith(generation.Trim(), refinement);   // the generation instructions come first
        Assert.True(refinement.IndexOf("--- Solution 0 ---\nstrong", StringComparison.Ordinal) < refinement.IndexOf("--- Solution 1 ---\nweak", StringComparison.Ordinal));
        // What a model answers to the standard prompts parses.
        Assert.True(Parsers.MetaVerification($"{Prompts.PaperMetaLead}\nok\n{Prompts.PaperMetaClosing}\n\\boxed{{1}}").FormatOk);
    }

    [Fact]
    public void Prompt_sets_from_the_command_line_are_a_name_or_a_valid_file()
    {
        Assert.Same(Prompts.Compact, PromptSets.Read("compact"));
        string file = Path.Combine(Path.GetTempPath(), $"set-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(file, Json.Serialize(PromptImport.FromPythonTemplates(Templates, "t.py")));
            Assert.Equal("paper", PromptSets.Read(file).Name);
            File.WriteAllText(file, "{\"name\": \"mine\"}");
            var e = Assert.Throws<FormatException>(() => PromptSets.Read(file));
            Assert.Contains("prompts.verification is required", e.Message);
            Assert.Contains(file, e.Message);
        }
        finally { File.Delete(file); }
        Assert.Contains("neither a built-in prompt set", Assert.Throws<FormatException>(() => PromptSets.Read("standrd")).Message);
    }
}
