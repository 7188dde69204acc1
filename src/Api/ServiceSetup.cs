using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace MathV2.Api;

/// <summary>The services both hosts (local host and Functions app) need for the API, registered in one place.</summary>
public static class ServiceSetup
{
    public static IServiceCollection AddMathV2Services(this IServiceCollection services, Func<IServiceProvider, MathV2Storage> storage)
    {
        services.AddSingleton(storage);
        services.AddSingleton<GpuJobClient>();
        services.AddSingleton<ArtifactStore>();
        services.AddSingleton<ArtifactUploads>();
        services.AddSingleton<UploadHandlers>();
        services.AddSettings(GpuJobLimits.FromEnvironment);
        services.AddSettings(RunLimits.FromEnvironment);
        services.AddSingleton<RunAdmission>();
        services.AddSingleton<ApiHandlers>();
        services.AddSingleton<LapHandlers>();
        services.AddSingleton<SearchHandlers>();
        services.AddProblemDetails();
        return services;
    }
}
