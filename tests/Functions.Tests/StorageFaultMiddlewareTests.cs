using System.Collections.Immutable;
using Azure;
using MathV2.Core.Storage;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Middleware;
using Microsoft.Extensions.Logging.Abstractions;

namespace MathV2.Functions.Tests;

/// <summary>The Functions app's activities ride out a storage outage in place; other functions and failures pass unchanged.</summary>
public sealed class StorageFaultMiddlewareTests
{
    sealed class Binding(string type) : BindingMetadata
    {
        public override string Name => "input";
        public override string Type => type;
        public override BindingDirection Direction => BindingDirection.In;
    }

    sealed class Definition(string trigger, string name) : FunctionDefinition
    {
        public override ImmutableArray<FunctionParameter> Parameters => [];
        public override string PathToAssembly => "";
        public override string EntryPoint => "";
        public override string Id => "f";
        public override string Name => name;
        public override IImmutableDictionary<string, BindingMetadata> InputBindings { get; } = ImmutableDictionary<string, BindingMetadata>.Empty.Add("input", new Binding(trigger));
        public override IImmutableDictionary<string, BindingMetadata> OutputBindings => ImmutableDictionary<string, BindingMetadata>.Empty;
    }

    sealed class Context(string trigger, string name) : FunctionContext
    {
        public override string InvocationId => "i";
        public override string FunctionId => "f";
        public override TraceContext TraceContext => null!;
        public override BindingContext BindingContext => null!;
        public override RetryContext RetryContext => null!;
        public override IServiceProvider InstanceServices { get; set; } = null!;
        public override FunctionDefinition FunctionDefinition { get; } = new Definition(trigger, name);
        public override IDictionary<object, object> Items { get; set; } = new Dictionary<object, object>();
        public override IInvocationFeatures Features => null!;
    }

    static readonly AggregateException RetryFailed = new("Retry failed after 4 tries.",
        new RequestFailedException(0, "Connection refused", new HttpRequestException("Connection refused (127.0.0.1:10000)")));

    static readonly ActivityOutage Quick = new(TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(40));

    static StorageFaultMiddleware Middleware() => new(NullLogger<StorageFaultMiddleware>.Instance) { Outage = Quick };

    /// <summary>Invokes the middleware on a function that throws what <c>fail</c> gives for the n-th call (null: succeeds).</summary>
    static async Task<int> Invoke(string trigger, Func<int, Exception?> fail, string name = "WriteProofPrompts")
    {
        int calls = 0;
        await Middleware().Invoke(new Context(trigger, name), _ => fail(++calls) is { } e ? throw e : Task.CompletedTask);
        return calls;
    }

    [Fact]
    public async Task An_activity_whose_storage_is_unavailable_is_run_again_in_place_until_storage_is_back()
    {
        Assert.Equal(3, await Invoke("activityTrigger", n => n <= 2 ? RetryFailed : null));
        Assert.Equal(1, await Invoke("activityTrigger", _ => null));
    }

    [Fact]
    public async Task An_outage_longer_than_the_patience_fails_with_StorageUnavailableException()
    {
        int calls = 0;
        var e = await Assert.ThrowsAsync<StorageUnavailableException>(() => Invoke("activityTrigger", _ => { calls++; return RetryFailed; }));
        Assert.Equal("storage unavailable: Connection refused (127.0.0.1:10000)", e.Message);
        Assert.Same(RetryFailed, e.InnerException);
        Assert.True(calls > 3, $"{calls} calls");
    }

    [Fact]
    public async Task Other_failures_and_other_functions_pass_unchanged_at_once()
    {
        var notFound = new RequestFailedException(404, "no such blob");
        int calls = 0;
        Assert.Same(notFound, await Assert.ThrowsAsync<RequestFailedException>(() => Invoke("activityTrigger", _ => { calls++; return notFound; })));
        // An HTTP or queue trigger keeps its own error handling: no retry.
        Assert.Same(RetryFailed, await Assert.ThrowsAsync<AggregateException>(() => Invoke("httpTrigger", _ => { calls++; return RetryFailed; })));
        // FailGpuJob's second run would read as a rewind: it fails with the storage error.
        Assert.Same(RetryFailed, await Assert.ThrowsAsync<AggregateException>(() => Invoke("activityTrigger", _ => { calls++; return RetryFailed; }, "FailGpuJob")));
        Assert.Equal(3, calls);
    }
}
