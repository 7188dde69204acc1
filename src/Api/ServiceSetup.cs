using MathV2.Activities;
using MathV2.Core.Artifacts;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace MathV2.Api;

/// <summary>The services both hosts (local host and Functions app) need, registered in one place.</summary>
public static class ServiceSetup
{
    public static IServiceCollection AddMathV2Services(this IServiceCollection services, Func<IServiceProvider, MathV2Storage> storage)
    {
        services.AddSingleton(storage);
        services.AddSingleton<GpuJobClient>();
        services.AddSingleton<ArtifactStore>();
        services.AddSingleton(StorageResilience.Create());
        services.AddSingleton(GpuJobLimits.FromEnvironment());
        services.AddSingleton<ApiHandlers>();
        services.AddSingleton<LapHandlers>();
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
        services.AddProblemDetails();
        return services;
    }
}
