using Microsoft.Extensions.DependencyInjection;

namespace MathV2.Activities;

/// <summary>The activities both hosts run, registered in one place (each takes its clients from the container).</summary>
public static class ActivityServices
{
    public static IServiceCollection AddMathV2Activities(this IServiceCollection services)
    {
        services.AddSingleton(StorageResilience.Create());
        services.AddSingleton<PrepareLapDatasets>();
        services.AddSingleton<CreateAnnotationBatch>();
        services.AddSingleton<OracleAnnotate>();
        services.AddSingleton<BuildLabelledDataset>();
        services.AddSingleton<WriteVerificationPrompts>();
        services.AddSingleton<MeasureSamples>();
        services.AddSingleton<WriteProofPrompts>();
        services.AddSingleton<WriteMetaPrompts>();
        services.AddSingleton<AutoLabel>();
        services.AddSingleton<MergeDatasets>();
        services.AddSingleton<WriteLapReport>();
        services.AddSingleton<SubmitGpuJob>();
        services.AddSingleton<GetJobStatus>();
        services.AddSingleton<RequeueStaleGpuJob>();
        services.AddSingleton<FailGpuJob>();
        return services;
    }
}
