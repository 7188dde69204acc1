using Microsoft.Extensions.DependencyInjection;

namespace MathV2.Activities;

/// <summary>
/// Every activity of MathV2: the one list both hosts register (services here, the local host's task registry) and
/// the Functions app's shells are checked against. Each takes its clients from the container.
/// </summary>
public static class ActivityServices
{
    public static readonly Type[] All =
    [
        typeof(PrepareLapDatasets),
        typeof(PrepareHeldOutMeta),
        typeof(CreateAnnotationBatch),
        typeof(OracleAnnotate),
        typeof(BuildLabelledDataset),
        typeof(WriteVerificationPrompts),
        typeof(MeasureSamples),
        typeof(WriteProofPrompts),
        typeof(PlanConsensusWave),
        typeof(AutoLabel),
        typeof(BuildConsensusDv),
        typeof(MergeDatasets),
        typeof(WriteLapReport),
        typeof(PrepareSearch),
        typeof(WriteSearchPrompts),
        typeof(WriteSearchProofs),
        typeof(WriteSearchMetaPrompts),
        typeof(PlanSearchVerification),
        typeof(ScoreSearchRound),
        typeof(WriteSearchResult),
        typeof(SubmitGpuJob),
        typeof(GetJobStatus),
        typeof(RequeueStaleGpuJob),
        typeof(FailGpuJob),
    ];

    public static IServiceCollection AddMathV2Activities(this IServiceCollection services)
    {
        services.AddSingleton(StorageResilience.Create());
        foreach (var activity in All) services.AddSingleton(activity);
        return services;
    }
}
