using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using MathV2.Core.Search;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>
/// The paper's test-time search (docs/search.md), one round per generation: prompts (round 1: generation; later:
/// refinements of the best proofs with their lowest-scored analyses) → sharded generation jobs → the proofs →
/// sharded verification jobs → the round's pool and each problem's state. Proofs and analyses live in artifacts;
/// the orchestration carries artifact ids and totals only, and continues as new after each round, so its history
/// stays one round long however many rounds run.
/// </summary>
public sealed class Search : TaskOrchestrator<SearchInput, SearchResult>
{
    public override async Task<SearchResult> RunAsync(TaskOrchestrationContext context, SearchInput input)
    {
        var spec = input.Spec;
        var o = spec.Options;
        int round = input.Round;
        string problems = input.Problems ?? (await context.CallActivityAsync<SearchStepResult>(TaskNames.PrepareSearch, input)).Artifact;
        // From here on the problems are read from their artifact: inline ones leave the history with the first round.
        if (spec.Problems != null) input = input with { Spec = spec = spec with { Problems = null } };
        // One chat date for the whole search (strftime_now cannot change a prompt between rounds).
        if (spec.ChatTemplate && input.ChatDate == null) input = input with { ChatDate = context.CurrentUtcDateTime.Date };
        void Status(string step, IReadOnlyList<string>? jobs = null, SearchTotals? totals = null) => context.SetCustomStatus(new SearchStatus
        {
            Round = round, Rounds = o.Rounds, Step = step, Jobs = jobs ?? [], Problems = problems, State = input.State, Totals = totals,
        });

        Status("prompts");
        var prompts = await context.CallActivityAsync<SearchStepResult>(TaskNames.WriteSearchPrompts, new SearchPromptsInput
        {
            SearchId = input.SearchId, Round = round, Problems = problems, State = input.State, Spec = spec,
        });
        var generation = await SampleAsync(context, input, "generation", spec.Generator!, SearchFiles.Prompts, prompts.Artifact, o.SamplesPerPrompt, o.MaxNewTokens, o.Seed * 7919 + round, Status);
        var proofs = await context.CallActivityAsync<SearchStepResult>(TaskNames.WriteSearchProofs, new SearchProofsInput
        {
            SearchId = input.SearchId, Round = round, Prompts = prompts.Artifact, Completions = generation, PromptSet = spec.PromptSet,
        });
        // Each sample's stream is keyed by its proof and index, so drawing in waves gives the samples of drawing at once.
        long verifySeed = o.Seed * 7919 + 4099 + round;
        List<string> analyses = [], metas = [];
        // Meta-verification of a step's issue reports, right after it: a report judged bogus counts as 1 in the mean,
        // and every drawn report has its verdicts before the next wave is planned.
        async Task MetaAsync(List<string> drawn, int wave)
        {
            if (o.MetaVerifications == 0) return;
            var metaPrompts = await context.CallActivityAsync<SearchStepResult>(TaskNames.WriteSearchMetaPrompts, new SearchMetaPromptsInput
            {
                SearchId = input.SearchId, Round = round, Problems = problems, Proofs = proofs.Artifact, Analyses = drawn, PromptSet = spec.PromptSet, Wave = wave,
            });
            if (metaPrompts.Rows > 0)
                metas.AddRange(await SampleAsync(context, input, wave > 0 ? $"meta-w{wave}" : "meta", spec.Verifier!, SearchFiles.MetaPrompts, metaPrompts.Artifact,
                    o.MetaVerifications, o.VerificationMaxNewTokens, o.Seed * 7919 + 8191 + round, Status));
        }
        if (o.VerificationWaves == 1)
        {
            analyses = await SampleAsync(context, input, "verification", spec.Verifier!, LapFiles.VerificationPrompts, proofs.Artifact, o.Verifications, o.VerificationMaxNewTokens, verifySeed, Status);
            await MetaAsync(analyses, 0);
        }
        else
            for (int w = 0; w < o.VerificationWaves; w++)
            {
                var wave = await context.CallActivityAsync<SearchStepResult>(TaskNames.PlanSearchVerification, new SearchWaveInput
                {
                    SearchId = input.SearchId, Round = round, Wave = w, Proofs = proofs.Artifact, Analyses = analyses, Metas = metas, State = input.State, Options = o,
                });
                if (wave.Rows == 0) break;
                var drawn = await SampleAsync(context, input, $"verification-w{w + 1}", spec.Verifier!, SearchFiles.VerificationWave, wave.Artifact, o.Verifications, o.VerificationMaxNewTokens, verifySeed, Status);
                analyses.AddRange(drawn);
                await MetaAsync(drawn, w + 1);
            }
        Status("scoring");
        var scored = await context.CallActivityAsync<ScoreSearchRoundResult>(TaskNames.ScoreSearchRound, new ScoreSearchRoundInput
        {
            SearchId = input.SearchId, Round = round, Problems = problems, Proofs = proofs.Artifact, Analyses = analyses, Metas = metas, State = input.State, Options = o,
        });
        if (scored.Totals.Stopped < scored.Totals.Problems)
        {
            context.ContinueAsNew(input with { Round = round + 1, Problems = problems, State = scored.State });
            return null!;
        }
        input = input with { State = scored.State };
        Status("result", totals: scored.Totals);
        var result = await context.CallActivityAsync<SearchResultSummary>(TaskNames.WriteSearchResult, new SearchResultInput
        {
            SearchId = input.SearchId, Problems = problems, State = scored.State, Options = o,
        });
        Status("done", totals: scored.Totals);
        return new SearchResult { SearchId = input.SearchId, Result = result.Artifact, Rounds = round, Totals = scored.Totals, Report = result.Report };
    }

    /// <summary>A sample job over a prompts file, split into the spec's shards (rows i % shards): its result artifacts.</summary>
    static async Task<List<string>> SampleAsync(TaskOrchestrationContext context, SearchInput input, string step, string model, string file, string prompts,
        int n, int maxNewTokens, long seed, Action<string, IReadOnlyList<string>?, SearchTotals?> status)
    {
        var o = input.Spec.Options;
        int shards = o.Shards;
        // generation0, verification1; a wave's verification-w2-0.
        string JobId(int s) => $"{input.SearchId}-r{input.Round}-{step}{(shards == 1 ? "" : char.IsDigit(step[^1]) ? $"-{s}" : $"{s}")}";
        status(step, Enumerable.Range(0, shards).Select(JobId).ToList(), null);
        var tasks = Enumerable.Range(0, shards).Select(s => GpuJobRuns.RunAsync(context, JobId(s), input.SearchId, $"r{input.Round}", new SampleJobParameters
        {
            Model = model, Prompts = ArtifactFileRef.Of(prompts, file), N = n, BatchSize = o.BatchSize, MaxNewTokens = maxNewTokens,
            Temperature = o.Temperature, TopP = o.TopP, Seed = seed, Shard = shards > 1 ? new SampleShard(s, shards) : null, StreamsByPrompt = true,
        }, [model, prompts], input.Spec.Limits ?? new GpuJobLimits(), input.Spec.ChatTemplate, input.ChatDate, $"round {input.Round} ({step})",
            Traced.ChildTraceParent(context, input))).ToList();
        return (await Task.WhenAll(tasks)).Select(x => x.ResultArtifactId!).ToList();
    }
}
