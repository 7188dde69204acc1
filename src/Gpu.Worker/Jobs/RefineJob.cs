using System.Diagnostics;
using System.Text;
using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Datasets;
using MathV2.Core.Models;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using MathV2.Core.Method;
using MathV2.Gpu.Worker.Text;

namespace MathV2.Gpu.Worker.Jobs;

/// <summary>
/// The refine job (phase 3's inference-time refinement): for each problem, draft a proof with a self-evaluation;
/// while the self-score is below 1 and iterations remain, show the latest attempts with their self-evaluations
/// in the refinement prompt and draft again. Problems still refining are batched together. refinements.jsonl
/// has every attempt, so pass@1 can be read for any cap up to MaxIterations; completions.jsonl has each
/// trajectory's answer in a sample job's form (phase 1A's refined cold-start proofs).
/// </summary>
public sealed class RefineJob : IGpuJobHandler
{
    public string Kind => GpuJobKinds.Refine;

    public async Task<JsonElement?> RunAsync(GpuJobContext context, CancellationToken ct)
    {
        var p = context.GetParameters<RefineJobParameters>();
        if (p.MaxIterations is < 1 or > 64) throw new ArgumentException("refine: maxIterations must be between 1 and 64");
        if (p.Samples is < 1 or > 64) throw new ArgumentException("refine: samples must be between 1 and 64");
        if (p.Candidates < 1) throw new ArgumentException("refine: candidates must be at least 1");
        if (p.BatchSize < 1) throw new ArgumentException("refine: batchSize must be at least 1");
        if (p.MaxNewTokens < 1) throw new ArgumentException("refine: maxNewTokens must be at least 1");
        if (p.Prompts is null) throw new ArgumentException("refine: prompts is required");
        if (p.Prompts.Validate().FirstOrDefault() is { Field: not null } bad) throw new ArgumentException($"refine: {bad.Field} {bad.Message}");
        var set = p.Prompts;
        string work = ModelArtifacts.WorkDir(context);
        try
        {
            string file = p.Problems?.File ?? "";
            var rows = Jsonl.Read<ProblemRow>(await ModelArtifacts.ReadTextAsync(context, p.Problems, "problems", ct), file).Rows;
            // Every problem's first trajectory, then every problem's second, …: one record per (sample, problem).
            var problems = Enumerable.Range(0, p.Samples).SelectMany(_ => rows).ToList();
            // A refinement prompt holds the problem, the last proof and its analysis: bounded by the problem's bytes,
            // two answers' tokens and the prompt set's own text.
            var config = await ModelArtifacts.ConfigOfAsync(context, p.Model, "model", ct);
            long promptTokens = Math.Min(config.MaxPositions, rows.Select(r => System.Text.Encoding.UTF8.GetByteCount(r.Problem)).DefaultIfEmpty(0).Max() + 2L * p.MaxNewTokens + 2048);
            MemoryBudget.Check(context, MemoryPlan.Sample(config, Math.Min(p.BatchSize, Math.Max(1, problems.Count)), promptTokens, p.MaxNewTokens, 4) with { Job = "refine" });
            var (model, tok) = await ModelArtifacts.LoadAsync(context, p.Model, "model", work, ct);
            using var _ = model;
            model.eval();
            var attempts = problems.Select(_ => new List<(RefinementAttempt Attempt, GenerationParse Parse)>()).ToList();
            var sw = Stopwatch.StartNew();
            long tokens = 0;
            var active = Enumerable.Range(0, problems.Count).ToList();
            for (int iteration = 1; iteration <= p.MaxIterations && active.Count > 0; iteration++)
            {
                ct.ThrowIfCancellationRequested();
                var prompts = active.Select(i => iteration == 1
                    ? Prompts.RenderGeneration(problems[i].Problem, set.Generation)
                    : Prompts.RenderRefinement(problems[i].Problem, attempts[i].TakeLast(p.Candidates).Select(Candidate), set)).ToList();
                var samples = Sampler.Generate(model, tok, prompts, new SamplingOptions
                {
                    MaxNewTokens = p.MaxNewTokens, Temperature = p.Temperature, TopP = p.TopP, Seed = p.Seed * 1_000_003 + iteration * 10_007,
                    BatchSize = p.BatchSize, OnRowDone = (_, _) => ct.ThrowIfCancellationRequested(),
                });
                for (int k = 0; k < active.Count; k++)
                {
                    var s = samples[k];
                    tokens += s.Tokens.Length;
                    var parse = Parsers.Generation(s.Text, s.FinishReason);
                    attempts[active[k]].Add((new RefinementAttempt { Iteration = iteration, Completion = s.Text, FinishReason = s.FinishReason, SelfScore = parse.FormatOk ? parse.SelfScore : null }, parse));
                }
                active = active.Where(i => attempts[i][^1].Attempt.SelfScore is not >= 1).ToList();
                context.ReportProgress(new GpuJobProgress { Iteration = iteration, StillRefining = active.Count, Trajectories = problems.Count, TokensPerSecond = Math.Round(tokens / sw.Elapsed.TotalSeconds, 1) });
            }
            var sb = new StringBuilder();
            for (int i = 0; i < problems.Count; i++)
                sb.Append(Json.Serialize(new RefinementRecord { Id = problems[i].Id, Problem = problems[i].Problem, Sample = i / rows.Count, Attempts = attempts[i].Select(a => a.Attempt).ToList() })).Append('\n');
            await context.Output.AddTextAsync(LapFiles.Refinements, sb.ToString(), ct);
            // Each trajectory's answer (its last attempt) as a sample job's completion, for whoever reads those.
            var answers = new StringBuilder();
            for (int i = 0; i < problems.Count; i++)
            {
                var last = attempts[i][^1].Attempt;
                answers.Append(Json.Serialize(new SampleCompletion { Id = problems[i].Id, Index = i / rows.Count, Completion = last.Completion, FinishReason = last.FinishReason })).Append('\n');
            }
            await context.Output.AddTextAsync(LapFiles.Completions, answers.ToString(), ct);
            return JsonSerializer.SerializeToElement(new
            {
                problems = rows.Count, samples = p.Samples, trajectories = problems.Count, maxIterations = p.MaxIterations,
                meanIterations = problems.Count == 0 ? 0 : Math.Round(attempts.Average(a => (double)a.Count), 3),
                selfAccepted = attempts.Count(a => a.Count > 0 && a[^1].Attempt.SelfScore >= 1),
                tokens, seconds = Math.Round(sw.Elapsed.TotalSeconds, 2), device = ModelArtifacts.Device.type.ToString().ToLowerInvariant(),
            }, Json.Options);
        }
        finally { try { Directory.Delete(work, true); } catch (IOException) { } }
    }

    /// <summary>An attempt as a refinement candidate: its proof (or the raw text) and self-evaluation, scored 0 when unreadable.</summary>
    static (string Proof, string Analysis, double Score) Candidate((RefinementAttempt Attempt, GenerationParse Parse) a) =>
        (a.Parse.Proof is { Length: > 0 } proof ? proof : a.Attempt.Completion.Trim() is { Length: > 0 } t ? t : "(empty output)",
         a.Parse.SelfEvaluation ?? "(no self-evaluation)", a.Attempt.SelfScore ?? 0);
}
