namespace MathV2.Core;

/// <summary>Names of the orchestrators and activities, shared by the local host and the Functions app.</summary>
public static class TaskNames
{
    public const string RunGpuJob = nameof(RunGpuJob);
    public const string Probe = nameof(Probe);
    public const string SubmitGpuJob = nameof(SubmitGpuJob);
    public const string GetJobStatus = nameof(GetJobStatus);
    public const string RequeueStaleGpuJob = nameof(RequeueStaleGpuJob);
    public const string FailGpuJob = nameof(FailGpuJob);
    public const string Lap = nameof(Lap);
    public const string Phase1A = nameof(Phase1A);
    public const string Phase1B = nameof(Phase1B);
    public const string PrepareLapDatasets = nameof(PrepareLapDatasets);
    public const string PrepareHeldOutMeta = nameof(PrepareHeldOutMeta);
    public const string CreateAnnotationBatch = nameof(CreateAnnotationBatch);
    public const string OracleAnnotate = nameof(OracleAnnotate);
    public const string BuildLabelledDataset = nameof(BuildLabelledDataset);
    public const string WriteVerificationPrompts = nameof(WriteVerificationPrompts);
    public const string Phase1C = nameof(Phase1C);
    public const string Phase1D = nameof(Phase1D);
    public const string Phase2 = nameof(Phase2);
    public const string Phase3 = nameof(Phase3);
    public const string Phase4 = nameof(Phase4);
    public const string Flywheel = nameof(Flywheel);
    public const string MeasureSamples = nameof(MeasureSamples);
    public const string WriteProofPrompts = nameof(WriteProofPrompts);
    public const string PlanConsensusWave = nameof(PlanConsensusWave);
    public const string AutoLabel = nameof(AutoLabel);
    public const string BuildConsensusDv = nameof(BuildConsensusDv);
    public const string MergeDatasets = nameof(MergeDatasets);
    public const string WriteLapReport = nameof(WriteLapReport);
    public const string Search = nameof(Search);
    public const string PrepareSearch = nameof(PrepareSearch);
    public const string WriteSearchPrompts = nameof(WriteSearchPrompts);
    public const string WriteSearchProofs = nameof(WriteSearchProofs);
    public const string WriteSearchMetaPrompts = nameof(WriteSearchMetaPrompts);
    public const string PlanSearchVerification = nameof(PlanSearchVerification);
    public const string ScoreSearchRound = nameof(ScoreSearchRound);
    public const string WriteSearchResult = nameof(WriteSearchResult);
}
