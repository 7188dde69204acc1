using System.Collections.Immutable;
using Azure;
using MathV2.Core.Storage;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Middleware;

namespace MathV2.Functions.Tests;

/// <summary>The Functions app's activities: storage being unavailable becomes the failure orchestrations retry.</summary>
public sealed class StorageFaultMiddlewareTests
{
    sealed class Binding(string type) : BindingMetadata
    {
        public override string Name => "input";
        public override string Type => type;
        public override BindingDirection Direction => BindingDirection.In;
    }

    sealed class Definition(string trigger) : FunctionDefinition
    {
        public override ImmutableArray<FunctionParameter> Parameters => [];
        public override string PathToAssembly => "";
        public override string EntryPoint => "";
        public override string Id => "f";
        public override string Name => "f";
        public override IImmutableDictionary<string, BindingMetadata> InputBindings { get; } = ImmutableDictionary<string, BindingMetadata>.Empty.Add("input", new Binding(trigger));
        public override IImmutableDictionary<string, BindingMetadata> OutputBindings => ImmutableDictionary<string, BindingMetadata>.Empty;
    }

    sealed class Context(string trigger) : FunctionContext
    {
        public override string InvocationId => "i";
        public override string FunctionId => "f";
        public override TraceContext TraceContext => null!;
        public override BindingContext BindingContext => null!;
        public override RetryContext RetryContext => null!;
        public override IServiceProvider InstanceServices { get; set; } = null!;
        public override FunctionDefinition FunctionDefinition { get; } = new Definition(trigger);
        public override IDictionary<object, object> Items { get; set; } = new Dictionary<object, object>();
        public override IInvocationFeatures Features => null!;
    }

    static readonly AggregateException RetryFailed = new("Retry failed after 4 tries.",
        new RequestFailedException(0, "Connection refused", new HttpRequestException("Connection refused (127.0.0.1:10000)")));

    static Task Invoke(string trigger, Exception e) => new StorageFaultMiddleware().Invoke(new Context(trigger), _ => throw e);

    [Fact]
    public async Task An_activity_whose_storage_is_unavailable_fails_with_StorageUnavailableException()
    {
        var e = await Assert.ThrowsAsync<StorageUnavailableException>(() => Invoke("activityTrigger", RetryFailed));
        Assert.Equal("storage unavailable: Connection refused (127.0.0.1:10000)", e.Message);
        Assert.Same(RetryFailed, e.InnerException);
    }

    [Fact]
    public async Task Other_failures_and_other_functions_pass_unchanged()
    {
        var notFound = new RequestFailedException(404, "no such blob");
        Assert.Same(notFound, await Assert.ThrowsAsync<RequestFailedException>(() => Invoke("activityTrigger", notFound)));
        // An HTTP or queue trigger keeps its own error handling.
        Assert.Same(RetryFailed, await Assert.ThrowsAsync<AggregateException>(() => Invoke("httpTrigger", RetryFailed)));
        await new StorageFaultMiddleware().Invoke(new Context("activityTrigger"), _ => Task.CompletedTask);
    }
}
