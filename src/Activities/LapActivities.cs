using System.Text;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs.Models;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Datasets;
using MathV2.Core.Demo;
using MathV2.Core.Laps;
using MathV2.Core.Method;
using MathV2.Core.Storage;
using Microsoft.DurableTask;

namespace MathV2.Activities;

/// <summary>
/// The held-out rated analyses the meta-verifiers are measured on ({lapId}.heldout-meta: graded analyses of the
/// held-out graded proofs, and their meta-verification prompts), made when first asked for (idempotent), so laps
/// whose datasets were prepared before this measure existed can take it too.
/// </summary>
[DurableTask(TaskNames.PrepareHeldOutMeta)]
public sealed class PrepareHeldOutMeta(ArtifactStore artifacts) : TaskActivity<LapInput, string?>
{
    public override Task<string?> RunAsync(TaskActivityContext context, LapInput input) => ExecuteAsync(input);

    /// <summary>The artifact id, or null for a dataset lap without held-out rated analyses (no meta measures).</summary>
    public async Task<string?> ExecuteAsync(LapInput input)
    {
        string id = $"{input.LapId}.heldout-meta";
        if (await artifacts.GetAsync(id) != null) return id;
        var spec = input.Spec;
        var set = spec.PromptSet;
        List<GradedAnalysisRow> rows;
        List<string> parents = [];
        if (spec.IsDemo)
            rows = DemoDatasets.HeldOutGradedAnalyses(LapStore.DemoOptions(spec), spec.Evaluation.HeldOutPerDifficulty).ToList();
        else if (spec.Datasets?.HeldOutRatedAnalyses is { } uploaded)
        {
            rows = await LapDatasetFiles.ReadAsync<GradedAnalysisRow>(artifacts, spec.Datasets, "heldOutRatedAnalyses");
            parents.Add(uploaded);
        }
        else return null;
        var w = artifacts.Create(id, "dataset-heldout-meta", StorageNames.DatasetsContainer, id,
            new ArtifactProducer { Lap = input.LapId, Phase = "datasets", Instance = input.LapId }, parents);
        await w.AddTextAsync(LapFiles.HeldOutGradedAnalyses, Jsonl.Write(rows));
        await w.AddTextAsync(LapFiles.HeldOutMetaPrompts, string.Concat(rows.Select((r, i) =>
            Json.Serialize(new { id = $"row-{i}", prompt = Prompts.RenderMetaVerification(r.Problem, r.Proof, r.Analysis, set.MetaVerification) }) + "\n")));
        await LapStore.CommitOnceAsync(w);
        return id;
    }
}

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

/// <summary>Reads a dataset lap's role (DatasetArtifacts.Roles) from its uploaded artifact: the first of the role's files it holds.</summary>
static class LapDatasetFiles
{
    public static async Task<List<T>> ReadAsync<T>(ArtifactStore artifacts, DatasetArtifacts d, string role)
    {
        var (_, id, _, files) = d.Roles().Single(r => r.Role == role);
        var m = await artifacts.GetAsync(id ?? throw new ArgumentException($"datasets.{role} is not set"))
            ?? throw new InvalidOperationException($"datasets.{role}: artifact {id} does not exist");
        string file = files.FirstOrDefault(f => m.Files.Any(x => x.Path == f))
            ?? throw new InvalidOperationException($"datasets.{role}: artifact {id} has no {string.Join(" or ", files)}");
        var rows = Jsonl.Read<T>(Encoding.UTF8.GetString(await artifacts.ReadFileAsync(m, file)), $"{id}/{file}").Rows.ToList();
        // Problems are looked up by id (statements of proofs, measures): one row per id, found before any job runs.
        if (rows is List<ProblemRow> problems && problems.GroupBy(p => p.Id).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new InvalidDataException($"datasets.{role}: problem id '{twice.Key}' is on {twice.Count()} rows of {id}/{file}: ids must be unique");
        return rows;
    }
}

/// <summary>
/// Phase 1A: turns the base model's sampled proofs into a labelling batch (annotations/{batchId}/items.jsonl),
/// spread over problems. Unparsable generations are labelled too (as the whole text): the labels say they are wrong.
/// </summary>
[DurableTask(TaskNames.CreateAnnotationBatch)]
public sealed class CreateAnnotationBatch(MathV2Storage storage, ArtifactStore artifacts) : TaskActivity<CreateAnnotationBatchInput, AnnotationBatch>
{
    public override Task<AnnotationBatch> RunAsync(TaskActivityContext context, CreateAnnotationBatchInput input) => ExecuteAsync(input);

    public async Task<AnnotationBatch> ExecuteAsync(CreateAnnotationBatchInput input)
    {
        string batchId = $"{input.LapId}-{input.Phase}-batch";
        if (await LapStore.GetBatchAsync(storage, batchId) is { } existing) return existing;
        var m = await artifacts.GetAsync(input.Samples) ?? throw new InvalidOperationException($"samples artifact {input.Samples} does not exist");
        var completions = Encoding.UTF8.GetString(await artifacts.ReadFileAsync(m, "completions.jsonl"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        var ordered = AnnotationValidation.PickForBatch(completions, c => c.GetProperty("id").GetString() ?? "", c => c.GetProperty("index").GetInt32(), $"{input.Seed}-{input.Phase}", input.BatchSize);
        List<AnnotationItem> items;
        if (input.Kind == AnnotationKinds.Analyses)
        {
            var dvm = await artifacts.GetAsync(input.GradedProofs ?? "") ?? throw new InvalidOperationException($"graded proofs artifact {input.GradedProofs} does not exist");
            var rows = Jsonl.Read<GradedProofRow>(Encoding.UTF8.GetString(await artifacts.ReadFileAsync(dvm, LapFiles.GradedProofs)), LapFiles.GradedProofs).Rows;
            items = ordered.Select((c, n) =>
            {
                var row = rows[LapMeasures.RowIndex(c.GetProperty("id").GetString()!)];
                return new AnnotationItem { ItemId = $"item-{n:00000}", ProblemId = row.ProblemId, Problem = row.Problem, Proof = row.Proof, Analysis = NonEmpty(c.GetProperty("completion").GetString()) };
            }).ToList();
        }
        else
        {
            var problems = input.Problems is { } p
                ? Jsonl.Read<ProblemRow>(await LapStore.ReadArtifactTextAsync(artifacts, p, LapFiles.Problems), LapFiles.Problems).Rows.GroupBy(r => r.Id).ToDictionary(g => g.Key, g => g.First().Problem)
                : DemoProblems(completions.Select(c => c.GetProperty("id").GetString()!));
            items = ordered.Select((c, n) =>
            {
                string text = c.GetProperty("completion").GetString()!;
                string problemId = c.GetProperty("id").GetString()!;
                return new AnnotationItem
                {
                    ItemId = $"item-{n:00000}", ProblemId = problemId, Problem = problems.GetValueOrDefault(problemId, problemId),
                    Proof = ProofOf(text, c.GetProperty("finishReason").GetString() ?? "stop"),
                };
            }).ToList();
        }
        var batch = new AnnotationBatch
        {
            BatchId = batchId, LapId = input.LapId, Kind = input.Kind, InstanceId = input.InstanceId, Items = items.Count,
            ItemsPath = $"{batchId}/{LapFiles.Items}", LabelsPath = $"{batchId}/{LapFiles.Labels}", SamplesArtifact = input.Samples,
        };
        var container = storage.Container(StorageNames.AnnotationsContainer);
        await container.GetBlobClient(batch.ItemsPath).UploadAsync(BinaryData.FromString(AnnotationValidation.WriteItems(items)), overwrite: true);
        await container.GetBlobClient($"{batchId}/{LapFiles.Batch}").UploadAsync(BinaryData.FromString(Json.Serialize(batch, indented: true)), overwrite: true);
        return batch;
    }

    /// <summary>An empty output is still an output to label (it is wrong); datasets need non-empty text.</summary>
    public const string EmptyOutput = "(empty output)";

    static string NonEmpty(string? text) => string.IsNullOrWhiteSpace(text) ? EmptyOutput : text;

    /// <summary>The proof of a generation: its Solution section, or for an unparsable output the text itself (it is judged as written).</summary>
    public static string ProofOf(string text, string finishReason) =>
        NonEmpty(Parsers.Generation(text, finishReason).Proof ?? text.Split("## Self Evaluation")[0].Replace("## Solution", "").Trim());

    static Dictionary<string, string> DemoProblems(IEnumerable<string> ids) =>
        ids.Distinct().Select(id => (id, p: ArithmeticDomainIds.TryProblem(id))).Where(x => x.p != null).ToDictionary(x => x.id, x => x.p!.Statement);
}

/// <summary>The oracle annotator: labels a batch exactly (the demo domain's stand-in for experts).</summary>
[DurableTask(TaskNames.OracleAnnotate)]
public sealed class OracleAnnotate(MathV2Storage storage) : TaskActivity<AnnotationBatch, int>
{
    public override Task<int> RunAsync(TaskActivityContext context, AnnotationBatch batch) => ExecuteAsync(batch);

    public async Task<int> ExecuteAsync(AnnotationBatch batch)
    {
        var items = AnnotationValidation.ReadItems(await LapStore.ReadTextAsync(storage, StorageNames.AnnotationsContainer, batch.ItemsPath));
        var labels = items.Select(i =>
        {
            var p = ArithmeticDomainIds.TryProblem(i.ProblemId) ?? throw new InvalidOperationException($"item {i.ItemId}: {i.ProblemId} is not a demo problem (the oracle labels only the demo domain)");
            double score = i.Analysis is { } analysis ? Oracle.JudgeAnalysis(p, i.Proof, analysis) : Oracle.ScoreProof(p, i.Proof).Score;
            return new AnnotationLabel { ItemId = i.ItemId, Score = score };
        }).ToList();
        await LapStore.TryStoreLabelsAsync(storage, batch, labels);
        return labels.Count;
    }
}

/// <summary>Items + stored labels → D_v (graded-proofs.jsonl) or, for analysis batches, D_mv (graded-analyses.jsonl).</summary>
[DurableTask(TaskNames.BuildLabelledDataset)]
public sealed class BuildLabelledDataset(MathV2Storage storage, ArtifactStore artifacts) : TaskActivity<AnnotationBatch, string>
{
    public override Task<string> RunAsync(TaskActivityContext context, AnnotationBatch batch) => ExecuteAsync(batch);

    public async Task<string> ExecuteAsync(AnnotationBatch batch)
    {
        bool analyses = batch.Kind == AnnotationKinds.Analyses;
        string id = $"{batch.BatchId}.{(analyses ? "dmv" : "dv")}";
        if (await artifacts.GetAsync(id) != null) return id;
        var items = AnnotationValidation.ReadItems(await LapStore.ReadTextAsync(storage, StorageNames.AnnotationsContainer, batch.ItemsPath));
        var labels = Jsonl.Records<AnnotationLabel>(await LapStore.ReadTextAsync(storage, StorageNames.AnnotationsContainer, batch.LabelsPath))
            .ToDictionary(l => l.ItemId, l => l.Score);
        var labelled = items.Where(i => labels.ContainsKey(i.ItemId)).ToList();
        var w = artifacts.Create(id, analyses ? "dataset-graded-analyses" : "dataset-graded-proofs", StorageNames.DatasetsContainer, id,
            new ArtifactProducer { Lap = batch.LapId, Phase = batch.BatchId.Split('-')[^2], Instance = batch.InstanceId }, [batch.SamplesArtifact]);
        if (analyses)
            await w.AddTextAsync(LapFiles.GradedAnalyses, Jsonl.Write(labelled.Select(i => new GradedAnalysisRow
            {
                ProblemId = i.ProblemId, Problem = i.Problem, Proof = i.Proof, Analysis = i.Analysis ?? "", Score = labels[i.ItemId],
            })));
        else
            await w.AddTextAsync(LapFiles.GradedProofs, Jsonl.Write(labelled.Select(i => new GradedProofRow { ProblemId = i.ProblemId, Problem = i.Problem, Proof = i.Proof, Score = labels[i.ItemId] })));
        try { await w.CommitAsync(); }
        catch (RequestFailedException e) when (e.Status is 409 or 412) { }
        return id;
    }
}

/// <summary>Phase 1C: verification prompts for every D_v row (ids row-N), as a prompts artifact for a sample job.</summary>
[DurableTask(TaskNames.WriteVerificationPrompts)]
public sealed class WriteVerificationPrompts(ArtifactStore artifacts) : TaskActivity<VerificationPromptsInput, string>
{
    public override Task<string> RunAsync(TaskActivityContext context, VerificationPromptsInput input) => ExecuteAsync(input);

    public async Task<string> ExecuteAsync(VerificationPromptsInput input)
    {
        string id = $"{input.LapId}-{input.Phase}.verification-prompts";
        if (await artifacts.GetAsync(id) != null) return id;
        var dv = await artifacts.GetAsync(input.GradedProofs) ?? throw new InvalidOperationException($"graded proofs artifact {input.GradedProofs} does not exist");
        var rows = Jsonl.Read<GradedProofRow>(Encoding.UTF8.GetString(await artifacts.ReadFileAsync(dv, LapFiles.GradedProofs)), LapFiles.GradedProofs).Rows;
        var set = input.Prompts;
        var w = artifacts.Create(id, "dataset-prompts", StorageNames.DatasetsContainer, id,
            new ArtifactProducer { Lap = input.LapId, Phase = input.Phase }, [input.GradedProofs]);
        var picked = input.MaxRows is { } max && max < rows.Count
            ? Enumerable.Range(0, max).Select(k => (int)((long)k * rows.Count / max)).ToList()
            : Enumerable.Range(0, rows.Count).ToList();
        await w.AddTextAsync(LapFiles.VerificationPrompts, string.Concat(picked.Select(i =>
            Json.Serialize(new { id = $"row-{i}", prompt = Prompts.RenderVerification(rows[i].Problem, rows[i].Proof, set.Verification) }) + "\n")));
        try { await w.CommitAsync(); }
        catch (RequestFailedException e) when (e.Status is 409 or 412) { }
        return id;
    }
}


/// <summary>Held-out measures of sample (or refine) job results: see LapMeasures.</summary>
[DurableTask(TaskNames.MeasureSamples)]
public sealed class MeasureSamples(ArtifactStore artifacts) : TaskActivity<MeasureInput, Dictionary<string, double>>
{
    public override Task<Dictionary<string, double>> RunAsync(TaskActivityContext context, MeasureInput input) => ExecuteAsync(input);

    public async Task<Dictionary<string, double>> ExecuteAsync(MeasureInput input)
    {
        switch (input.Kind)
        {
            case "verifier":
                var rows = Jsonl.Read<GradedProofRow>(await LapStore.ReadArtifactTextAsync(artifacts, input.HeldOut ?? throw new ArgumentException("verifier measures need the held-out set"),
                    LapFiles.HeldOutGradedProofs), LapFiles.HeldOutGradedProofs).Rows;
                var measures = LapMeasures.Verifier(input.Subject, rows, await LapStore.ReadCompletionsAsync(artifacts, input.Samples), input.Oracle);
                if (input.Sampled.Count > 0)
                    LapMeasures.Merge(measures, LapMeasures.Verifier($"{input.Subject}.sampled", rows, await LapStore.ReadCompletionsAsync(artifacts, input.Sampled), input.Oracle));
                return measures;
            case "generator":
                return LapMeasures.Generator(input.Subject, await LapStore.ReadCompletionsAsync(artifacts, input.Samples), input.Oracle);
            case "meta":
                var analyses = Jsonl.Read<GradedAnalysisRow>(await LapStore.ReadArtifactTextAsync(artifacts, input.HeldOut ?? throw new ArgumentException("meta measures need the held-out set"),
                    LapFiles.HeldOutGradedAnalyses), LapFiles.HeldOutGradedAnalyses).Rows;
                return LapMeasures.MetaVerifier(input.Subject, analyses, await LapStore.ReadCompletionsAsync(artifacts, input.Samples));
            case "judged":
                var m = new Dictionary<string, double>();
                foreach (var g in (await LapStore.ReadCompletionsAsync(artifacts, input.Samples)).GroupBy(c => c.Id.Split('|')[0]))
                    LapMeasures.Merge(m, LapMeasures.JudgedByVerifier(g.Key, g.ToList()));
                return m;
            case "refinement":
                var records = new List<RefinementRecord>();
                foreach (string id in input.Samples)
                    records.AddRange(Jsonl.Records<RefinementRecord>(await LapStore.ReadArtifactTextAsync(artifacts, id, LapFiles.Refinements)));
                return LapMeasures.Refinement(records, input.MaxIterations, input.Oracle);
            default:
                throw new ArgumentException($"unknown measure kind '{input.Kind}'");
        }
    }
}

/// <summary>Verification prompts (and proofs.jsonl) for generated proofs; an unparsable output is judged as written.</summary>
[DurableTask(TaskNames.WriteProofPrompts)]
public sealed class WriteProofPrompts(ArtifactStore artifacts) : TaskActivity<ProofPromptsInput, string>
{
    public const string ProofsFile = "proofs.jsonl";

    public override Task<string> RunAsync(TaskActivityContext context, ProofPromptsInput input) => ExecuteAsync(input);

    public async Task<string> ExecuteAsync(ProofPromptsInput input)
    {
        string id = $"{input.LapId}-{input.Phase}.{input.Step}-prompts";
        if (await artifacts.GetAsync(id) != null) return id;
        var set = input.Prompts;
        var statements = new Dictionary<string, string>();
        foreach (var f in input.Problems)
            foreach (var r in Jsonl.Read<ProblemRow>(await LapStore.ReadArtifactTextAsync(artifacts, f.Artifact, f.File), f.File).Rows) statements.TryAdd(r.Id, r.Problem);
        var proofs = new List<ConsensusProof>();
        foreach (var (subject, sources) in input.Sources)
            foreach (var c in await LapStore.ReadCompletionsAsync(artifacts, sources))
            {
                string proof = CreateAnnotationBatch.ProofOf(c.Completion, c.FinishReason);
                string problem = statements.GetValueOrDefault(c.Id) ?? ArithmeticDomainIds.TryProblem(c.Id)?.Statement
                    ?? throw new InvalidOperationException($"problem {c.Id} of {string.Join(", ", sources)} is in none of the lap's problem files");
                proofs.Add(new ConsensusProof { Id = $"{subject}|{c.Id}|{c.Index}", ProblemId = c.Id, Problem = problem, Proof = proof });
            }
        // Refinement trajectories: the first attempt and the answer (the last), as subjects of their own.
        foreach (string source in input.Refinements)
            foreach (var r in Jsonl.Records<RefinementRecord>(await LapStore.ReadArtifactTextAsync(artifacts, source, LapFiles.Refinements)))
                if (r.Attempts.Count > 0)
                    foreach (var (subject, a) in new[] { ("refinement.firstAttempt", r.Attempts[0]), ("refinement.lastAttempt", r.Attempts[^1]) })
                        proofs.Add(new ConsensusProof
                        {
                            Id = $"{subject}|{r.Id}|{r.Sample}", ProblemId = r.Id, Problem = statements.GetValueOrDefault(r.Id) ?? r.Problem,
                            Proof = CreateAnnotationBatch.ProofOf(a.Completion, a.FinishReason),
                        });
        var w = artifacts.Create(id, "dataset-prompts", StorageNames.DatasetsContainer, id,
            new ArtifactProducer { Lap = input.LapId, Phase = input.Phase }, input.Sources.Values.SelectMany(x => x).Concat(input.Refinements).Distinct().ToList());
        await w.AddTextAsync(ProofsFile, string.Concat(proofs.Select(p => Json.Serialize(p) + "\n")));
        await w.AddTextAsync(LapFiles.VerificationPrompts, string.Concat(proofs.Select(p =>
            Json.Serialize(new { id = p.Id, prompt = Prompts.RenderVerification(p.Problem, p.Proof, set.Verification) }) + "\n")));
        await LapStore.CommitOnceAsync(w);
        return id;
    }

    public static async Task<List<ConsensusProof>> ReadProofsAsync(ArtifactStore artifacts, string id) =>
        Jsonl.Records<ConsensusProof>(await LapStore.ReadArtifactTextAsync(artifacts, id, ProofsFile));
}

/// <summary>
/// Phase 4's consensus, one wave ({lapId}-4.consensus-wave{w+1}): the adaptive rule replayed on each proof's samples
/// drawn so far; for each proof it leaves open, the samples it draws next (ConsensusWaves.Plan) as prompt rows
/// listing their indices: verification prompts (id the proof's) and meta-verification prompts ("{proofId}#{i}",
/// rendered from analysis i). Jobs sample them with streams keyed by (prompt id, index): the samples of one big job.
/// </summary>
[DurableTask(TaskNames.PlanConsensusWave)]
public sealed class PlanConsensusWave(ArtifactStore artifacts) : TaskActivity<ConsensusWaveInput, ConsensusWaveResult>
{
    public override Task<ConsensusWaveResult> RunAsync(TaskActivityContext context, ConsensusWaveInput input) => ExecuteAsync(input);

    public async Task<ConsensusWaveResult> ExecuteAsync(ConsensusWaveInput input)
    {
        string id = $"{input.LapId}-4.consensus-wave{input.Wave + 1}";
        if (await artifacts.GetAsync(id) is { } existing)
            return Json.Deserialize<ConsensusWaveResult>(Encoding.UTF8.GetString(await artifacts.ReadFileAsync(existing, WaveFile)));
        var o = new ConsensusOptions { N = input.N, M = input.M, K = input.K };
        var proofs = await WriteProofPrompts.ReadProofsAsync(artifacts, input.Proofs);
        var prompts = (await LapStore.ReadArtifactTextAsync(artifacts, input.Proofs, LapFiles.VerificationPrompts)).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).ToDictionary(e => e.GetProperty("id").GetString()!, e => e.GetProperty("prompt").GetString()!);
        var byProof = (await LapStore.ReadCompletionsAsync(artifacts, input.Analyses)).GroupBy(a => a.Id).ToDictionary(g => g.Key, g => g.ToList());
        var metaById = (await LapStore.ReadCompletionsAsync(artifacts, input.Metas)).GroupBy(m => m.Id).ToDictionary(g => g.Key, g => g.ToList());
        var analysisRows = new StringBuilder();
        var metaRows = new StringBuilder();
        int open = 0, analysisCount = 0, metaCount = 0, samples = 0;
        foreach (var proof in proofs)
        {
            var mine = byProof.GetValueOrDefault(proof.Id, []);
            var d = AutoLabelling.Draws(proof.Id, mine, metaById);
            if (ConsensusWaves.Replay(d, o).Result != null) continue;
            open++;
            var request = ConsensusWaves.Plan(d, o, input.Wave, input.Waves);
            samples += request.Count;
            if (request.Analyses.Count > 0)
            {
                analysisRows.Append(Json.Serialize(new { id = proof.Id, prompt = prompts[proof.Id], samples = request.Analyses })).Append('\n');
                analysisCount++;
            }
            foreach (var (i, js) in request.Metas.OrderBy(x => x.Key))
            {
                string analysis = mine.First(a => a.Index == i).Completion;
                metaRows.Append(Json.Serialize(new
                {
                    id = AutoLabelling.MetaId(proof.Id, i), prompt = Prompts.RenderMetaVerification(proof.Problem, proof.Proof, analysis, input.Prompts.MetaVerification), samples = js,
                })).Append('\n');
                metaCount++;
            }
        }
        var result1 = new ConsensusWaveResult { Artifact = id, Open = open, AnalysisRows = analysisCount, MetaRows = metaCount, Samples = samples };
        var w = artifacts.Create(id, "dataset-prompts", StorageNames.DatasetsContainer, id, new ArtifactProducer { Lap = input.LapId, Phase = "4" },
            [input.Proofs, .. input.Analyses, .. input.Metas]);
        await w.AddTextAsync(LapFiles.VerificationPrompts, analysisRows.ToString());
        await w.AddTextAsync(LapFiles.MetaPrompts, metaRows.ToString());
        await w.AddTextAsync(WaveFile, Json.Serialize(result1));
        await LapStore.CommitOnceAsync(w);
        return result1;
    }

    /// <summary>The wave's counts, so a repeated call returns what the first one did.</summary>
    public const string WaveFile = "wave.json";
}

/// <summary>
/// Phase 4's consensus labels: consensus.jsonl (every decision with its evidence, fixed and adaptive) and
/// discarded.jsonl (the proofs sent to humans) in {lapId}-4.consensus; with an audit size, the batch of labelled
/// proofs people check (items proof-{i}: the i-th line of consensus.jsonl).
/// </summary>
[DurableTask(TaskNames.AutoLabel)]
public sealed class AutoLabel(MathV2Storage storage, ArtifactStore artifacts) : TaskActivity<AutoLabelInput, AutoLabelResult>
{
    public override Task<AutoLabelResult> RunAsync(TaskActivityContext context, AutoLabelInput input) => ExecuteAsync(input);

    public async Task<AutoLabelResult> ExecuteAsync(AutoLabelInput input)
    {
        string consensusId = $"{input.LapId}-4.consensus";
        List<ConsensusLabel> labels;
        if (await artifacts.GetAsync(consensusId) is { } existing)
            labels = Jsonl.Records<ConsensusLabel>(Encoding.UTF8.GetString(await artifacts.ReadFileAsync(existing, LapFiles.Consensus)));
        else
        {
            var proofs = await WriteProofPrompts.ReadProofsAsync(artifacts, input.Proofs);
            labels = AutoLabelling.Label(proofs, await LapStore.ReadCompletionsAsync(artifacts, input.Analyses), await LapStore.ReadCompletionsAsync(artifacts, input.Metas),
                new ConsensusOptions { N = input.N, M = input.M, K = input.K }, input.Oracle);
            var w = artifacts.Create(consensusId, "consensus-labels", StorageNames.DatasetsContainer, consensusId,
                new ArtifactProducer { Lap = input.LapId, Phase = "4" }, [input.Proofs, .. input.Analyses, .. input.Metas]);
            await w.AddTextAsync(LapFiles.Consensus, string.Concat(labels.Select(l => Json.Serialize(l) + "\n")));
            await w.AddTextAsync(LapFiles.Discarded, string.Concat(labels.Where(l => l.Outcome.Decision == ConsensusDecision.Discarded).Select(l => Json.Serialize(l) + "\n")));
            await LapStore.CommitOnceAsync(w);
        }
        AnnotationBatch? audit = null;
        var picked = AutoLabelling.PickAudit(labels, input.AuditSize, $"{input.Seed}-4-audit");
        if (picked.Count > 0)
        {
            string batchId = $"{input.LapId}-4-audit";
            audit = await LapStore.GetBatchAsync(storage, batchId);
            if (audit == null)
            {
                var items = picked.Select(i => new AnnotationItem
                {
                    ItemId = AutoLabelling.AuditItemId(i), ProblemId = labels[i].Proof.ProblemId, Problem = labels[i].Proof.Problem, Proof = labels[i].Proof.Proof,
                }).ToList();
                audit = new AnnotationBatch
                {
                    BatchId = batchId, LapId = input.LapId, Kind = AnnotationKinds.Proofs, InstanceId = input.InstanceId, Items = items.Count,
                    ItemsPath = $"{batchId}/{LapFiles.Items}", LabelsPath = $"{batchId}/{LapFiles.Labels}", SamplesArtifact = consensusId,
                };
                var container = storage.Container(StorageNames.AnnotationsContainer);
                await container.GetBlobClient(audit.ItemsPath).UploadAsync(BinaryData.FromString(AnnotationValidation.WriteItems(items)), overwrite: true);
                await container.GetBlobClient($"{batchId}/{LapFiles.Batch}").UploadAsync(BinaryData.FromString(Json.Serialize(audit, indented: true)), overwrite: true);
            }
        }
        return new AutoLabelResult { Consensus = consensusId, Metrics = AutoLabelling.Measures(labels), Audit = audit };
    }
}

/// <summary>
/// D_v after phase 4 ({lapId}-4.dv): the earlier D_v and the consensus-labelled proofs; where people audited a
/// label, their score takes its place, and the measures give how often they agreed.
/// </summary>
[DurableTask(TaskNames.BuildConsensusDv)]
public sealed class BuildConsensusDv(MathV2Storage storage, ArtifactStore artifacts) : TaskActivity<ConsensusDvInput, ConsensusDvResult>
{
    public override Task<ConsensusDvResult> RunAsync(TaskActivityContext context, ConsensusDvInput input) => ExecuteAsync(input);

    public async Task<ConsensusDvResult> ExecuteAsync(ConsensusDvInput input)
    {
        string dvId = $"{input.LapId}-4.dv";
        var labels = Jsonl.Records<ConsensusLabel>(await LapStore.ReadArtifactTextAsync(artifacts, input.Consensus, LapFiles.Consensus));
        var people = new Dictionary<int, double>();
        if (input.Audit is { } audit)
            foreach (var l in Jsonl.Records<AnnotationLabel>(await LapStore.ReadTextAsync(storage, StorageNames.AnnotationsContainer, audit.LabelsPath)))
                people[int.Parse(l.ItemId.AsSpan("proof-".Length), System.Globalization.CultureInfo.InvariantCulture)] = l.Score;
        if (await artifacts.GetAsync(dvId) == null)
        {
            var earlier = Jsonl.Read<GradedProofRow>(await LapStore.ReadArtifactTextAsync(artifacts, input.Dv, LapFiles.GradedProofs), LapFiles.GradedProofs).Rows;
            var added = labels.Select((l, i) => (l, i)).Where(x => x.l.Outcome.Decision == ConsensusDecision.Labeled)
                .Select(x => new GradedProofRow { ProblemId = x.l.Proof.ProblemId, Problem = x.l.Proof.Problem, Proof = x.l.Proof.Proof, Score = people.TryGetValue(x.i, out var p) ? p : x.l.Outcome.Label!.Value });
            var w = artifacts.Create(dvId, "dataset-graded-proofs", StorageNames.DatasetsContainer, dvId, new ArtifactProducer { Lap = input.LapId, Phase = "4" }, [input.Dv, input.Consensus]);
            await w.AddTextAsync(LapFiles.GradedProofs, Jsonl.Write(earlier.Concat(added)));
            await LapStore.CommitOnceAsync(w);
        }
        return new ConsensusDvResult { Dv = dvId, Metrics = AutoLabelling.AuditMeasures(labels, people) };
    }
}

/// <summary>One JSONL file concatenated across artifacts (identical lines once): D_v or D_mv of a later lap.</summary>
[DurableTask(TaskNames.MergeDatasets)]
public sealed class MergeDatasets(ArtifactStore artifacts) : TaskActivity<MergeDatasetsInput, string>
{
    public override Task<string> RunAsync(TaskActivityContext context, MergeDatasetsInput input) => ExecuteAsync(input);

    public async Task<string> ExecuteAsync(MergeDatasetsInput input)
    {
        if (await artifacts.GetAsync(input.Id) != null) return input.Id;
        var lines = new List<string>();
        foreach (string parent in input.Parents)
            lines.AddRange((await LapStore.ReadArtifactTextAsync(artifacts, parent, input.File)).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var w = artifacts.Create(input.Id, input.Type, StorageNames.DatasetsContainer, input.Id, new ArtifactProducer { Lap = input.LapId, Phase = input.Phase }, input.Parents);
        await w.AddTextAsync(input.File, string.Concat(lines.Distinct().Select(l => l + "\n")));
        await LapStore.CommitOnceAsync(w);
        return input.Id;
    }
}

/// <summary>The lap report as an artifact ({lapId}.report: report.json, report.md) whose parents are the lap's artifacts.</summary>
[DurableTask(TaskNames.WriteLapReport)]
public sealed class WriteLapReport(ArtifactStore artifacts) : TaskActivity<LapReportInput, string>
{
    public override Task<string> RunAsync(TaskActivityContext context, LapReportInput input) => ExecuteAsync(input);

    /// <summary>This process's build, runtime, machine and the versions of the packages the lap's engine runs on.</summary>
    public static ReportRun CurrentRun()
    {
        static string? Informational(Type t) => t.Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion;
        static string? Version(Type t) => Informational(t)?.Split('+')[0];
        var packages = new Dictionary<string, string>();
        foreach (var (name, type) in new[]
        {
            ("Azure.Storage.Blobs", typeof(Azure.Storage.Blobs.BlobServiceClient)), ("Azure.Data.Tables", typeof(Azure.Data.Tables.TableClient)),
            ("Microsoft.DurableTask.Abstractions", typeof(Microsoft.DurableTask.TaskOrchestrationContext)), ("Polly.Core", typeof(Polly.ResiliencePipeline)),
        })
            if (Version(type) is { } v) packages[name] = v;
        return new ReportRun
        {
            CodeVersion = Informational(typeof(LapReport)),
            Dotnet = Environment.Version.ToString(), Os = System.Runtime.InteropServices.RuntimeInformation.OSDescription, Machine = Environment.MachineName,
            ProcessorCount = Environment.ProcessorCount, MemoryGb = Math.Round(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (double)(1L << 30), 1),
            Packages = packages,
        };
    }

    public async Task<string> ExecuteAsync(LapReportInput input)
    {
        string id = $"{input.LapId}.report";
        if (await artifacts.GetAsync(id) != null) return id;
        var report = LapReport.Build(input.LapId, input.Name, input.Number, input.Phases, input.Started, input.Finished, input.Artifacts, input.Domain)
            with { Spec = input.Spec, Run = CurrentRun() };
        var (plots, plotErrors) = await PlotsAsync(input, report.Measures);
        // Plots are for people: one that cannot be drawn is left out with the reason, never failing the finished lap.
        var pngs = new List<(PlotSpec Spec, byte[] Png)>();
        foreach (var plot in plots)
            try { pngs.Add((plot, ReportPlotter.Png(plot))); }
            catch (Exception e) when (e is not OutOfMemoryException) { plotErrors.Add($"{plot.File}: {e.GetType().Name}: {e.Message}"); }
        report = report with { Plots = [.. pngs.Select(p => new ReportPlot(p.Spec.File, p.Spec.Title))], PlotErrors = plotErrors.Count > 0 ? plotErrors : null };
        var parents = new List<string>();
        foreach (string a in input.Artifacts.Named().Select(x => x.Id).Distinct())
            if (await artifacts.GetAsync(a) != null) parents.Add(a); // batch ids are not artifacts
        var w = artifacts.Create(id, "lap-report", StorageNames.DatasetsContainer, id, new ArtifactProducer { Lap = input.LapId, Phase = "report" }, parents);
        foreach (var (plot, png) in pngs) await w.AddFileAsync(plot.File, png);
        await w.AddTextAsync(LapFiles.ReportJson, Json.Serialize(report, indented: true));
        await w.AddTextAsync(LapFiles.ReportMarkdown, report.ToMarkdown());
        await LapStore.CommitOnceAsync(w);
        return id;
    }

    /// <summary>The training curves of each phase that ran (its jobs' metrics.jsonl) and, in a flywheel, the held-out measures per lap.</summary>
    async Task<(List<PlotSpec> Plots, List<string> Errors)> PlotsAsync(LapReportInput input, IReadOnlyDictionary<string, double> measures)
    {
        var plots = new List<PlotSpec>();
        var errors = new List<string>();
        foreach (var phase in input.Phases.Where(p => p.ReusedFrom == null))
        {
            var runs = new List<LapPlots.TrainingRun>();
            foreach (var job in phase.Jobs.Where(j => j.ResultArtifactId != null))
                try
                {
                    var m = await artifacts.GetAsync(job.ResultArtifactId!);
                    if (m == null || !m.Files.Any(f => f.Path == LapFiles.Metrics)) continue;
                    string prefix = $"{input.LapId}-{phase.Phase}-";
                    string run = job.JobId.StartsWith(prefix, StringComparison.Ordinal) ? job.JobId[prefix.Length..] : job.JobId;
                    runs.Add(LapPlots.TrainingRun.Read(run, System.Text.Encoding.UTF8.GetString(await artifacts.ReadFileAsync(m, LapFiles.Metrics))));
                }
                catch (InvalidDataException e) { errors.Add($"{job.JobId}: {e.Message}"); }   // a bad or changed metrics.jsonl: that run left out
            plots.AddRange(LapPlots.Training(phase.Phase, runs));
        }
        var laps = new List<(int, IReadOnlyDictionary<string, double>)>();
        foreach (string earlier in input.EarlierReports)
            try
            {
                var r = Json.Deserialize<LapReport>(await LapStore.ReadArtifactTextAsync(artifacts, earlier, LapFiles.ReportJson));
                laps.Add((r.Number, r.Measures));
            }
            catch (Exception e) when (e is InvalidDataException or InvalidOperationException or System.Text.Json.JsonException) { errors.Add($"{earlier}: {e.Message}"); }
        laps.Add((input.Number, measures));
        if (LapPlots.HeldOut(laps) is { } heldOut) plots.Add(heldOut);
        return (plots, errors);
    }
}
