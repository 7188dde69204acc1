using MathV2.Core.Demo;

namespace MathV2.Activities;

/// <summary>Writes the lap's demo datasets as artifacts (problems + generation prompts, demonstrations).</summary>
[DurableTask(TaskNames.PrepareLapDatasets)]
public sealed class PrepareLapDatasets(ArtifactStore artifacts) : TaskActivity<LapInput, LapDatasets>
{
    public override Task<LapDatasets> RunAsync(TaskActivityContext context, LapInput input) => ExecuteAsync(input);

    public async Task<LapDatasets> ExecuteAsync(LapInput input)
    {
        if (!input.Spec.IsDemo) return await UploadedAsync(input);
        var o = LapStore.DemoOptions(input.Spec);
        var set = o.Prompts;
        var producer = new ArtifactProducer { Lap = input.LapId, Phase = "datasets", Instance = input.LapId };
        string problems = $"{input.LapId}.problems", demos = $"{input.LapId}.demonstrations";
        if (await artifacts.GetAsync(problems) == null)
        {
            var w = artifacts.Create(problems, "dataset-problems", StorageNames.DatasetsContainer, problems, producer);
            await AddProblemsAsync(w, DemoDatasets.ProblemRows(o).ToList(), set, LapFiles.Problems, LapFiles.GenerationPrompts);
            await CommitOnceAsync(w);
        }
        if (await artifacts.GetAsync(demos) == null)
        {
            var w = artifacts.Create(demos, "dataset-demonstrations", StorageNames.DatasetsContainer, demos, producer);
            await w.AddTextAsync(LapFiles.Demonstrations, Jsonl.Write(DemoDatasets.Demonstrations(o)));
            await CommitOnceAsync(w);
        }
        string heldOut = $"{input.LapId}.heldout";
        if (await artifacts.GetAsync(heldOut) == null)
        {
            int per = input.Spec.Evaluation.HeldOutPerDifficulty;
            var rows = DemoDatasets.HeldOutProblems(o, per).Select(p => new ProblemRow { Id = p.Id, Problem = p.Statement, Difficulty = p.Difficulty }).ToList();
            var heldOutGraded = DemoDatasets.HeldOutGradedProofs(o, per).ToList();
            var w = artifacts.Create(heldOut, "dataset-heldout", StorageNames.DatasetsContainer, heldOut, producer);
            await AddHeldOutAsync(w, rows, heldOutGraded, set);
            await CommitOnceAsync(w);
        }
        string? graded = null;
        if (input.Spec.Demo.SeedGradedSets)
        {
            graded = $"{input.LapId}.graded";
            if (await artifacts.GetAsync(graded) == null)
            {
                var w = artifacts.Create(graded, "dataset-graded", StorageNames.DatasetsContainer, graded, producer);
                await w.AddTextAsync(LapFiles.GradedProofs, Jsonl.Write(DemoDatasets.GradedProofs(o)));
                await w.AddTextAsync(LapFiles.GradedAnalyses, Jsonl.Write(DemoDatasets.GradedAnalyses(o)));
                await CommitOnceAsync(w);
            }
        }
        return new LapDatasets { Problems = problems, Demonstrations = demos, HeldOut = heldOut, Graded = graded };
    }

    /// <summary>
    /// A dataset lap: the uploaded datasets as the lap's artifacts, in the files and with the prompts the phases read
    /// (the uploads are their parents); D_v's and D_mv's seeds are the graded proofs and rated analyses.
    /// </summary>
    async Task<LapDatasets> UploadedAsync(LapInput input)
    {
        var d = input.Spec.Datasets ?? throw new ArgumentException("a dataset lap needs its datasets");
        var set = input.Spec.PromptSet;
        var producer = new ArtifactProducer { Lap = input.LapId, Phase = "datasets", Instance = input.LapId };
        string problems = $"{input.LapId}.problems", heldOut = $"{input.LapId}.heldout", graded = $"{input.LapId}.graded";
        if (await artifacts.GetAsync(problems) == null)
        {
            var w = artifacts.Create(problems, "dataset-problems", StorageNames.DatasetsContainer, problems, producer, [d.Problems!]);
            await AddProblemsAsync(w, await LapDatasetFiles.ReadAsync<ProblemRow>(artifacts, d, "problems"), set, LapFiles.Problems, LapFiles.GenerationPrompts);
            await CommitOnceAsync(w);
        }
        if (await artifacts.GetAsync(heldOut) == null)
        {
            var rows = await LapDatasetFiles.ReadAsync<ProblemRow>(artifacts, d, "heldOutProblems");
            var heldOutGraded = await LapDatasetFiles.ReadAsync<GradedProofRow>(artifacts, d, "heldOutGradedProofs");
            var w = artifacts.Create(heldOut, "dataset-heldout", StorageNames.DatasetsContainer, heldOut, producer, [d.HeldOutProblems!, d.HeldOutGradedProofs!]);
            await AddHeldOutAsync(w, rows, heldOutGraded, set);
            await CommitOnceAsync(w);
        }
        if (await artifacts.GetAsync(graded) == null)
        {
            var proofs = await LapDatasetFiles.ReadAsync<GradedProofRow>(artifacts, d, "gradedProofs");
            var analyses = d.RatedAnalyses == null ? [] : await LapDatasetFiles.ReadAsync<GradedAnalysisRow>(artifacts, d, "ratedAnalyses");
            var w = artifacts.Create(graded, "dataset-graded", StorageNames.DatasetsContainer, graded, producer,
                d.RatedAnalyses == null ? [d.GradedProofs!] : [d.GradedProofs!, d.RatedAnalyses]);
            await w.AddTextAsync(LapFiles.GradedProofs, Jsonl.Write(proofs));
            await w.AddTextAsync(LapFiles.GradedAnalyses, Jsonl.Write(analyses));
            await CommitOnceAsync(w);
        }
        return new LapDatasets { Problems = problems, HeldOut = heldOut, Graded = graded };
    }

    static Task CommitOnceAsync(ArtifactWriter w) => LapStore.CommitOnceAsync(w);

    /// <summary>Problem rows and their generation prompts ({id, prompt}).</summary>
    static async Task AddProblemsAsync(ArtifactWriter w, IReadOnlyList<ProblemRow> rows, PromptSet set, string problemsFile, string promptsFile)
    {
        await w.AddTextAsync(problemsFile, Jsonl.Write(rows));
        await w.AddTextAsync(promptsFile, string.Concat(rows.Select(r =>
            Json.Serialize(new { id = r.Id, prompt = Prompts.RenderGeneration(r.Problem, set.Generation) }) + "\n")));
    }

    /// <summary>The held-out set: problems and their generation prompts, graded proofs and their verification prompts (ids row-N).</summary>
    static async Task AddHeldOutAsync(ArtifactWriter w, IReadOnlyList<ProblemRow> rows, IReadOnlyList<GradedProofRow> graded, PromptSet set)
    {
        await AddProblemsAsync(w, rows, set, LapFiles.HeldOutProblems, LapFiles.HeldOutGenerationPrompts);
        await w.AddTextAsync(LapFiles.HeldOutGradedProofs, Jsonl.Write(graded));
        await w.AddTextAsync(LapFiles.HeldOutVerificationPrompts, string.Concat(graded.Select((r, i) =>
            Json.Serialize(new { id = $"row-{i}", prompt = Prompts.RenderVerification(r.Problem, r.Proof, set.Verification) }) + "\n")));
    }
}
