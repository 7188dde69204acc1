using DurableTask.AzureStorage;
using DurableTask.Core;
using Grpc.Core;
using Microsoft.DurableTask.Protobuf;
using Microsoft.DurableTask.Testing.Sidecar.Grpc;
using Microsoft.Extensions.Options;

namespace MathV2.Host;

/// <summary>
/// The gRPC sidecar of the local durable engine, with Rewind added: the packaged sidecar leaves it
/// unimplemented, while the Azure Storage backend supports it.
/// </summary>
public sealed class MathV2Sidecar(
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggerFactory,
    IOrchestrationService service,
    IOrchestrationServiceClient client,
    IOptions<TaskHubGrpcServerOptions> options,
    AzureStorageOrchestrationService azure)
    : TaskHubGrpcServer(lifetime, loggerFactory, service, client, options)
{

    public override async Task<RewindInstanceResponse> RewindInstance(RewindInstanceRequest request, ServerCallContext context)
    {
        await azure.RewindTaskOrchestrationAsync(request.InstanceId, request.Reason ?? "rewind");
        return new RewindInstanceResponse();
    }
}
