using MathV2.Activities;
using MathV2.Api;
using MathV2.Core.Artifacts;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;
using MathV2.Functions;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.Services.AddMathV2FunctionServices();
builder.Build().Run();

namespace MathV2.Functions
{
    public static class ServiceSetup
    {
        /// <summary>The same services the local host registers, for the shells.</summary>
        public static IServiceCollection AddMathV2FunctionServices(this IServiceCollection services)
        {
            services.AddSingleton(_ => MathV2Storage.FromEnvironment());
            services.AddSingleton<GpuJobClient>();
            services.AddSingleton<ArtifactStore>();
            services.AddSingleton(StorageResilience.Create());
            services.AddSingleton(GpuJobLimits.FromEnvironment());
            services.AddSingleton<ApiHandlers>();
            services.AddSingleton<SubmitGpuJob>();
            services.AddSingleton<GetJobStatus>();
            services.AddSingleton<RequeueStaleGpuJob>();
            services.AddSingleton<FailGpuJob>();
            services.AddProblemDetails();
            return services;
        }
    }
}
