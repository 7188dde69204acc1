using DurableTask.AzureStorage;

namespace MathV2.Host;

/// <summary>
/// The sidecar hands the Azure Storage backend sub-orchestration tags as a protobuf MapField, which the
/// backend's message serializer writes with its type name and then cannot load again. Tags travel as a
/// plain Dictionary instead; every other type binds as the backend's default binder does.
/// </summary>
public sealed class ProtobufTagsTypeBinder : ICustomTypeBinder
{
    const string MapFieldPrefix = "Google.Protobuf.Collections.MapField`2";
    static readonly System.Reflection.Assembly Core = typeof(global::DurableTask.Core.TaskMessage).Assembly;
    static readonly System.Reflection.Assembly Azure = typeof(AzureStorageOrchestrationService).Assembly;

    public void BindToName(Type serializedType, out string? assemblyName, out string typeName)
    {
        assemblyName = null;
        typeName = serializedType.FullName!.StartsWith(MapFieldPrefix, StringComparison.Ordinal)
            ? typeof(Dictionary<string, string>).FullName!
            : serializedType.FullName!;
    }

    public Type BindToType(string? assemblyName, string typeName)
    {
        if (typeName.StartsWith(MapFieldPrefix, StringComparison.Ordinal)) return typeof(Dictionary<string, string>);
        if (typeName.StartsWith("DurableTask.Core", StringComparison.Ordinal)) return Core.GetType(typeName, throwOnError: true)!;
        if (typeName.StartsWith("DurableTask.AzureStorage", StringComparison.Ordinal)) return Azure.GetType(typeName, throwOnError: true)!;
        return Type.GetType(typeName, throwOnError: true)!;
    }
}
