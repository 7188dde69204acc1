namespace MathV2.Activities;

/// <summary>
/// A round's prompts ({searchId}.r{round}.prompts): in round 1, pool / samplesPerPrompt generation prompts per problem;
/// later, one refinement prompt per kept proof of each problem still searching, with up to analysesPerPrompt of its
/// analyses, lowest scores first. Prompt ids are problem|round|prompt.
/// </summary>
[DurableTask(TaskNames.WriteSearchPrompts)]
public sealed class WriteSearchPrompts(ArtifactStore artifacts) : TaskActivity<SearchPromptsInput, SearchStepResult>
{
    public override Task<SearchStepResult> RunAsync(TaskActivityContext context, SearchPromptsInput input) => ExecuteAsync(input);

    public async Task<SearchStepResult> ExecuteAsync(SearchPromptsInput input)
    {
        string id = $"{input.SearchId}.r{input.Round}.prompts";
        if (await artifacts.GetAsync(id) != null)
            return new SearchStepResult { Artifact = id, Rows = Jsonl.Records<SearchPromptRow>(await LapStore.ReadArtifactTextAsync(artifacts, id, SearchFiles.Prompts)).Count };
        var o = input.Spec.Options;
        var set = input.Spec.PromptSet;
        var problems = await SearchStore.ProblemsAsync(artifacts, input.Problems);
        var rows = new List<SearchPromptRow>();
        if (input.Round == 1)
        {
            foreach (var p in problems)
            {
                string prompt = Prompts.RenderGeneration(p.Problem, set.Generation);
                for (int k = 0; k < o.Pool / o.SamplesPerPrompt; k++)
                    rows.Add(new SearchPromptRow { Id = SearchRanking.PromptId(p.Id, 1, k), Prompt = prompt, ProblemId = p.Id, Problem = p.Problem });
            }
        }
        else
        {
            var state = await SearchStore.StateAsync(artifacts, input.State) ?? throw new InvalidOperationException($"round {input.Round} needs the state of round {input.Round - 1}");
            var statements = problems.ToDictionary(p => p.Id, p => p.Problem);
            var analyses = await SearchStore.AnalysesAsync(artifacts, state.Problems.Where(p => !p.Stopped).SelectMany(p => p.Top));
            foreach (var p in state.Problems.Where(p => !p.Stopped))
                for (int k = 0; k < p.Top.Count; k++)
                {
                    var kept = p.Top[k];
                    // Analyses that report issues first: lowest scores, then unparsable ones last; ties by index.
                    // An issue report the meta-verifier judged bogus is not shown.
                    var shownAnalyses = analyses.GetValueOrDefault(kept.ProofId, []).Where(a => a.Verdict != PoolAnalysis.Bogus)
                        .OrderBy(a => a.Score ?? 2).ThenBy(a => a.Index).Take(o.AnalysesPerPrompt).ToList();
                    var shown = shownAnalyses.Select(a => a.Analysis).ToList();
                    // The candidate's score as a lap's refinement prompt gives it: the (first) shown evaluation's own.
                    double score = shownAnalyses.FirstOrDefault()?.Score ?? kept.MeanScore;
                    rows.Add(new SearchPromptRow
                    {
                        Id = SearchRanking.PromptId(p.ProblemId, input.Round, k), ProblemId = p.ProblemId, Problem = statements[p.ProblemId], ParentProofIds = [kept.ProofId],
                        Prompt = Prompts.RenderRefinement(statements[p.ProblemId], kept.Proof, score, shown, set),
                    });
                }
        }
        var w = artifacts.Create(id, "dataset-prompts", StorageNames.DatasetsContainer, id, SearchStore.Producer(input.SearchId, input.Round),
            input.State is { } s ? [input.Problems, s] : [input.Problems]);
        await w.AddTextAsync(SearchFiles.Prompts, SearchStore.Lines(rows));
        await LapStore.CommitOnceAsync(w);
        return new SearchStepResult { Artifact = id, Rows = rows.Count };
    }
}
