using MathV2.Activities;
using MathV2.Api;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using MathV2.Core.Probes;
using MathV2.Core.Search;
using MathV2.Core.Storage;
using MathV2.Orchestrations;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;

namespace MathV2.Functions;

/// <summary>Orchestrator triggers over the shared orchestrators.</summary>
public static class OrchestratorFunctions
{
    [Function(TaskNames.RunGpuJob)]
    public static Task<GpuJobOutcome> RunGpuJob([OrchestrationTrigger] TaskOrchestrationContext context) =>
        Traced.Run(context, new RunGpuJob(), context.GetInput<GpuJobSpec>()!);

    [Function(TaskNames.Probe)]
    public static Task<ProbeReport> Probe([OrchestrationTrigger] TaskOrchestrationContext context) =>
        Traced.Run(context, new Probe(), context.GetInput<ProbeRequest>() ?? new ProbeRequest());

    [Function(TaskNames.Lap)]
    public static Task<LapResult> Lap([OrchestrationTrigger] TaskOrchestrationContext context) =>
        Traced.Run(context, new Lap(), context.GetInput<LapInput>()!);

    [Function(TaskNames.Phase1A)]
    public static Task<PhaseResult> Phase1A([OrchestrationTrigger] TaskOrchestrationContext context) =>
        Traced.Run(context, new Phase1A(), context.GetInput<PhaseInput>()!);

    [Function(TaskNames.Phase1B)]
    public static Task<PhaseResult> Phase1B([OrchestrationTrigger] TaskOrchestrationContext context) =>
        Traced.Run(context, new Phase1B(), context.GetInput<PhaseInput>()!);

    [Function(TaskNames.Phase1C)]
    public static Task<PhaseResult> Phase1C([OrchestrationTrigger] TaskOrchestrationContext context) =>
        Traced.Run(context, new Phase1C(), context.GetInput<PhaseInput>()!);

    [Function(TaskNames.Phase1D)]
    public static Task<PhaseResult> Phase1D([OrchestrationTrigger] TaskOrchestrationContext context) =>
        Traced.Run(context, new Phase1D(), context.GetInput<PhaseInput>()!);

    [Function(TaskNames.Phase2)]
    public static Task<PhaseResult> Phase2([OrchestrationTrigger] TaskOrchestrationContext context) =>
        Traced.Run(context, new Phase2(), context.GetInput<PhaseInput>()!);

    [Function(TaskNames.Phase3)]
    public static Task<PhaseResult> Phase3([OrchestrationTrigger] TaskOrchestrationContext context) =>
        Traced.Run(context, new Phase3(), context.GetInput<PhaseInput>()!);

    [Function(TaskNames.Phase4)]
    public static Task<PhaseResult> Phase4([OrchestrationTrigger] TaskOrchestrationContext context) =>
        Traced.Run(context, new Phase4(), context.GetInput<PhaseInput>()!);

    [Function(TaskNames.Flywheel)]
    public static Task<FlywheelResult> Flywheel([OrchestrationTrigger] TaskOrchestrationContext context) =>
        Traced.Run(context, new Flywheel(), context.GetInput<FlywheelInput>()!);

    [Function(TaskNames.Search)]
    public static Task<SearchResult> Search([OrchestrationTrigger] TaskOrchestrationContext context) =>
        Traced.Run(context, new Search(), context.GetInput<SearchInput>()!);
}

/// <summary>Activity triggers of the test-time search.</summary>
public sealed class SearchActivityFunctions(PrepareSearch prepare, WriteSearchPrompts prompts, WriteSearchProofs proofs, WriteSearchMetaPrompts metaPrompts, PlanSearchVerification wave, ScoreSearchRound score, WriteSearchResult result)
{
    [Function(TaskNames.PrepareSearch)]
    public Task<SearchStepResult> PrepareSearch([ActivityTrigger] SearchInput input) => prepare.ExecuteAsync(input);

    [Function(TaskNames.WriteSearchPrompts)]
    public Task<SearchStepResult> WriteSearchPrompts([ActivityTrigger] SearchPromptsInput input) => prompts.ExecuteAsync(input);

    [Function(TaskNames.WriteSearchProofs)]
    public Task<SearchStepResult> WriteSearchProofs([ActivityTrigger] SearchProofsInput input) => proofs.ExecuteAsync(input);

    [Function(TaskNames.WriteSearchMetaPrompts)]
    public Task<SearchStepResult> WriteSearchMetaPrompts([ActivityTrigger] SearchMetaPromptsInput input) => metaPrompts.ExecuteAsync(input);

    [Function(TaskNames.PlanSearchVerification)]
    public Task<SearchStepResult> PlanSearchVerification([ActivityTrigger] SearchWaveInput input) => wave.ExecuteAsync(input);

    [Function(TaskNames.ScoreSearchRound)]
    public Task<ScoreSearchRoundResult> ScoreSearchRound([ActivityTrigger] ScoreSearchRoundInput input) => score.ExecuteAsync(input);

    [Function(TaskNames.WriteSearchResult)]
    public Task<SearchResultSummary> WriteSearchResult([ActivityTrigger] SearchResultInput input) => result.ExecuteAsync(input);
}

/// <summary>Activity triggers of the lap.</summary>
public sealed class LapActivityFunctions(PrepareLapDatasets prepare, PrepareHeldOutMeta heldOutMeta, CreateAnnotationBatch batch, OracleAnnotate oracle, BuildLabelledDataset labelled, WriteVerificationPrompts prompts)
{
    [Function(TaskNames.PrepareLapDatasets)]
    public Task<LapDatasets> PrepareLapDatasets([ActivityTrigger] LapInput input) => prepare.ExecuteAsync(input);

    [Function(TaskNames.PrepareHeldOutMeta)]
    public Task<string?> PrepareHeldOutMeta([ActivityTrigger] LapInput input) => heldOutMeta.ExecuteAsync(input);

    [Function(TaskNames.CreateAnnotationBatch)]
    public Task<AnnotationBatch> CreateAnnotationBatch([ActivityTrigger] CreateAnnotationBatchInput input) => batch.ExecuteAsync(input);

    [Function(TaskNames.OracleAnnotate)]
    public Task<int> OracleAnnotate([ActivityTrigger] AnnotationBatch input) => oracle.ExecuteAsync(input);

    [Function(TaskNames.BuildLabelledDataset)]
    public Task<string> BuildLabelledDataset([ActivityTrigger] AnnotationBatch input) => labelled.ExecuteAsync(input);

    [Function(TaskNames.WriteVerificationPrompts)]
    public Task<string> WriteVerificationPrompts([ActivityTrigger] VerificationPromptsInput input) => prompts.ExecuteAsync(input);
}

/// <summary>Activity triggers of phases 2–4 and the report.</summary>
public sealed class MeasureActivityFunctions(MeasureSamples measure, WriteProofPrompts proofPrompts, PlanConsensusWave consensusWave, AutoLabel autoLabel, BuildConsensusDv consensusDv, MergeDatasets merge, WriteLapReport report)
{
    [Function(TaskNames.MeasureSamples)]
    public Task<Dictionary<string, double>> MeasureSamples([ActivityTrigger] MeasureInput input) => measure.ExecuteAsync(input);

    [Function(TaskNames.WriteProofPrompts)]
    public Task<string> WriteProofPrompts([ActivityTrigger] ProofPromptsInput input) => proofPrompts.ExecuteAsync(input);

    [Function(TaskNames.PlanConsensusWave)]
    public Task<ConsensusWaveResult> PlanConsensusWave([ActivityTrigger] ConsensusWaveInput input) => consensusWave.ExecuteAsync(input);

    [Function(TaskNames.AutoLabel)]
    public Task<AutoLabelResult> AutoLabel([ActivityTrigger] AutoLabelInput input) => autoLabel.ExecuteAsync(input);

    [Function(TaskNames.BuildConsensusDv)]
    public Task<ConsensusDvResult> BuildConsensusDv([ActivityTrigger] ConsensusDvInput input) => consensusDv.ExecuteAsync(input);

    [Function(TaskNames.MergeDatasets)]
    public Task<string> MergeDatasets([ActivityTrigger] MergeDatasetsInput input) => merge.ExecuteAsync(input);

    [Function(TaskNames.WriteLapReport)]
    public Task<string> WriteLapReport([ActivityTrigger] LapReportInput input) => report.ExecuteAsync(input);
}

/// <summary>Activity triggers over the shared activities.</summary>
public sealed class ActivityFunctions(SubmitGpuJob submit, GetJobStatus status, RequeueStaleGpuJob requeue, FailGpuJob fail)
{
    [Function(TaskNames.SubmitGpuJob)]
    public Task<GpuJobRecord> SubmitGpuJob([ActivityTrigger] GpuJobSpec spec) => submit.ExecuteAsync(spec);

    [Function(TaskNames.GetJobStatus)]
    public Task<GpuJobRecord> GetJobStatus([ActivityTrigger] string jobId) => status.ExecuteAsync(jobId);

    [Function(TaskNames.RequeueStaleGpuJob)]
    public Task<GpuJobRecord> RequeueStaleGpuJob([ActivityTrigger] string jobId) => requeue.ExecuteAsync(jobId);

    [Function(TaskNames.FailGpuJob)]
    public Task<GpuJobRecord> FailGpuJob([ActivityTrigger] FailGpuJobInput input) => fail.ExecuteAsync(input);
}

/// <summary>Protocol step 5 in the cloud: the job-events queue trigger raises job-finished events.</summary>
public sealed class JobEventFunctions(ILogger<JobEventFunctions> log)
{
    [Function("JobEventPump")]
    public async Task Pump(
        [QueueTrigger(StorageNames.JobEventsQueue, Connection = "MATHV2_STORAGE")] string body,
        [DurableClient] DurableTaskClient client,
        CancellationToken ct)
    {
        // A malformed event fails the invocation: the Functions host retries it (maxDequeueCount) and then sets it
        // aside in job-events-poison, as the local pump does at once.
        if (await JobEvents.DeliverAsync(client, body, log, ct) == JobEvents.Delivery.Malformed)
            throw new InvalidDataException("malformed job event (kept in job-events-poison once the retries are spent)");
    }
}
