using MathV2.Core.Artifacts;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;
using MathV2.Tests;
using static MathV2.Tests.HttpTestKit;

namespace MathV2.Api.Tests;

/// <summary>A spec the worker would reject is refused at the door: 400 problem+json naming the field, nothing started.</summary>
public sealed class LapSpecDoorTests
{
    static readonly MathV2Storage Unused = new("UseDevelopmentStorage=true");
    readonly LapHandlers _laps = new(Unused, new ArtifactStore(Unused), new GpuJobClient(Unused), new GpuJobLimits());
    readonly RecordingDurableTaskClient _client = new();

    public static IEnumerable<object[]> Cases() => MalformedRequests.All().Select(c => new object[] { c.Route, c.Body, c.Field });

    [Fact]
    public void The_corpus_has_at_least_150_cases_each_once() =>
        Assert.True(MalformedRequests.All().DistinctBy(c => (c.Route, c.Body)).Count() >= 150, $"{MalformedRequests.All().Count} cases");

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Malformed_starts_get_400_problem_json_naming_the_field(string route, string body, string field)
    {
        var ctx = Context("POST", route, body);
        var result = route == "/api/laps" ? await _laps.StartLapAsync(ctx.Request, _client) : await _laps.StartFlywheelAsync(ctx.Request, _client);
        var (status, type, json) = await Run(ctx, result);
        Assert.Equal(400, status);
        Assert.Equal("application/problem+json", type);
        var errors = json.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out _), $"errors should name {field}: {errors}");
        Assert.Empty(_client.Scheduled);
    }

    [Fact]
    public async Task Every_problem_of_a_spec_is_listed_at_once()
    {
        var ctx = Context("POST", "/api/laps", "{\"generator\": {\"steps\": 0, \"temperature\": -1}, \"bootstrap\": {\"config\": {\"hidden_size\": -128}}, \"consensus\": {\"k\": 99}}");
        var (status, _, json) = await Run(ctx, await _laps.StartLapAsync(ctx.Request, _client));
        Assert.Equal(400, status);
        var fields = json.GetProperty("errors").EnumerateObject().Select(p => p.Name).ToHashSet();
        Assert.Superset(new HashSet<string> { "generator.steps", "generator.temperature", "bootstrap.config.hidden_size", "consensus.k" }, fields);
    }

    [Fact]
    public async Task A_valid_nested_option_reaches_the_lap_input_typed()
    {
        var ctx = Context("POST", "/api/laps", "{\"verifier\": {\"learningRate\": 2e-5, \"steps\": 10}, \"bootstrap\": {\"config\": {\"hidden_size\": 64, \"num_attention_heads\": 4}}}");
        var (status, _, _) = await Run(ctx, await _laps.StartLapAsync(ctx.Request, _client));
        Assert.Equal(202, status);
        var input = Assert.IsType<MathV2.Core.Laps.LapInput>(Assert.Single(_client.Scheduled).Input);
        Assert.Equal((2e-5, 10), (input.Spec.Verifier.LearningRate, input.Spec.Verifier.Steps));
        // Fields the object leaves out take the job's defaults (an object replaces the lap default whole).
        Assert.Equal(new GrpoOptions().GroupSize, input.Spec.Verifier.GroupSize);
        Assert.Equal(64, input.Spec.Bootstrap.Config.HiddenSize);
    }

    [Fact]
    public async Task A_typo_names_the_nearest_known_field()
    {
        var ctx = Context("POST", "/api/laps", "{\"verifier\": {\"learningRat\": 1e-4}}");
        var (status, _, json) = await Run(ctx, await _laps.StartLapAsync(ctx.Request, _client));
        Assert.Equal(400, status);
        string message = json.GetProperty("errors").GetProperty("verifier.learningRat")[0].GetString()!;
        Assert.StartsWith("unknown field 'learningRat'; did you mean 'learningRate'?", message);
        Assert.Contains("groupSize", message);
    }
}
