using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using MathV2.Core.Search;
using MathV2.Core.Probes;
using MathV2.Core.Storage;
using MathV2.Core.Telemetry;
using MathV2.Tests;
using MathV2.Orchestrations;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Converters;
using Microsoft.DurableTask.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace MathV2.Functions.Tests;

/// <summary>The Functions app's real service configuration (the isolated worker's builder, the Durable extension, our setup).</summary>
public sealed class FunctionsConfigurationTests
{
    static FunctionsApplicationBuilder Builder(Dictionary<string, string?> settings)
    {
        var b = FunctionsApplication.CreateBuilder([]);
        b.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["MATHV2_TASKHUB"] = "mathv2" });
        b.Configuration.AddInMemoryCollection(settings);
        b.ConfigureFunctionsWebApplication();
        return b;
    }

    static ServiceProvider Services() =>
        FunctionsSetup.Configure(Builder(new() { ["MATHV2_STORAGE"] = MathV2Storage.DevelopmentConnectionString })).Services.BuildServiceProvider();

    /// <summary>A value of every orchestration input, output and custom status type, filled in.</summary>
    static readonly object[] Samples = SampleValues();

    static object[] SampleValues()
    {
        var spec = new LapSpec();
        var artifacts = new LapArtifacts { Base = "lap-1-1a-bootstrap.out", Dv = "lap-1-1a.dv", Batch1A = "lap-1-1a-batch", VerifierV1 = "v1", Verifier = "v1" };
        var outcome = new GpuJobOutcome { JobId = "lap-1-1b-verifier-v1", Status = GpuJobStatus.Succeeded, Attempt = 2, ResultArtifactId = "v1", WorkerId = "w-1",
            Summary = JsonSerializer.SerializeToElement(new { gflops = 12.5 }) };
        var phase = new PhaseResult { Phase = "1b", Artifacts = artifacts, Metrics = new() { ["verifierV1.accuracy"] = 0.94 }, Jobs = [outcome],
            Started = new DateTime(2026, 11, 30, 6, 0, 0, DateTimeKind.Utc), Finished = new DateTime(2026, 11, 30, 6, 5, 0, DateTimeKind.Utc), ReusedFrom = "lap-0" };
        var lapLap = new FlywheelLap { LapId = "lap-f_1", Number = 1, Report = "lap-f_1.report", VerifierAccuracy = 0.93, BestVerifier = "verifierV2", Artifacts = artifacts };
        return
        [
            new GpuJobSpec { JobId = "j-1", Kind = GpuJobKinds.Grpo, InstanceId = "lap-1-1b-verifier-v1", Lap = "lap-1", Phase = "1b", Inputs = ["base", "dv"],
                Parameters = JsonSerializer.SerializeToElement(new GrpoJobParameters { Policy = "base", Reference = "base", Reward = new RewardSpec { Kind = RewardSpec.VerifierV1 }, Options = spec.Verifier }, Json.Options) },
            outcome,
            new ProbeRequest { Size = 64, Jobs = 2, Repeats = 3, MinSeconds = 0.5, Limits = new GpuJobLimits { MaxAttempts = 2 } },
            new ProbeReport { Jobs = [outcome] },
            new LapInput { LapId = "lap-1", Spec = spec, Reused = [phase], RestartedFrom = "lap-0", Number = 2, Previous = artifacts, HumanFree = true },
            new LapResult { LapId = "lap-1", Phases = [phase], Report = "lap-1.report", Artifacts = artifacts },
            new PhaseInput { LapId = "lap-1", Spec = spec, Datasets = new LapDatasets { Problems = "p", Demonstrations = "d", HeldOut = "h" }, Artifacts = artifacts, Previous = artifacts, HumanFree = true },
            phase,
            new FlywheelInput { FlywheelId = "fly-1", Spec = new FlywheelSpec { Laps = 3 }, Next = 2, Laps = [lapLap], TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
            new FlywheelResult { FlywheelId = "fly-1", Laps = [lapLap], Stopped = "all 3 laps done" },
            LapStatus.Of("1c", [phase], artifacts),
            new PhaseStatus { Phase = "1a", Step = "proofs", Jobs = ["j-1"], Status = PhaseStatus.AwaitingAnnotation, BatchId = "b", Items = 4, Deadline = new DateTime(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc), Submit = "/api/laps/lap-1/annotations/b" },
            new FlywheelStatus { Lap = 2, Of = 3, LapId = "lap-f_2", Laps = [lapLap] },
            new JobWaitStatus { JobId = "j-1", Status = GpuJobStatus.Running, Attempt = 1, Worker = "w-1" },
            new SearchInput
            {
                SearchId = "search-1", Round = 2, Problems = "search-1.problems", State = "search-1.r1.pool", ChatDate = new DateTime(2026, 11, 30, 0, 0, 0, DateTimeKind.Utc),
                TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                Spec = new SearchSpec { Problems = [new() { Id = "p|1", Problem = "P" }], Generator = "g", Verifier = "v", Options = new() { Pool = 8, VerificationWaves = 2 }, Prompts = "compact" },
            },
            new SearchResult
            {
                SearchId = "search-1", Result = "search-1.result", Rounds = 3, Totals = new() { Problems = 2, Stopped = 2, Proofs = 40, Verifications = 160, AdaptiveVerifications = 150, VerificationBudget = 160, Solved = 1 },
                Report = new() { Problems = 2, Proofs = 40, Verifications = 160, AdaptiveVerifications = 150, VerificationBudget = 160, OraclePass1 = 0.25, OracleAnyPass = 0.5,
                    Rounds = [new() { Round = 1, Searching = 2, Proofs = 32, Verifications = 128, AdaptiveVerifications = 120, VerificationBudget = 128, MeanBestScore = 0.75, OraclePassRate = 0.5 }] },
            },
            new SearchStatus { Round = 2, Rounds = 16, Step = "verification", Jobs = ["search-1-r2-verification0"], Problems = "search-1.problems", State = "search-1.r1.pool", Totals = new() { Problems = 2 } },
        ];
    }

    [Fact]
    public void Durable_data_has_the_local_hosts_JSON_shape_for_every_orchestration_input_output_and_status()
    {
        // Every orchestrator's input and output type has a sample (and so does every custom status record).
        var types = Orchestrators.All.Select(t => t.BaseType!).Where(t => t.IsGenericType && t.GetGenericTypeDefinition() == typeof(TaskOrchestrator<,>))
            .SelectMany(t => t.GetGenericArguments()).Concat([typeof(LapStatus), typeof(PhaseStatus), typeof(FlywheelStatus), typeof(JobWaitStatus), typeof(SearchStatus)]).ToHashSet();
        Assert.Subset(Samples.Select(s => s.GetType()).ToHashSet(), types);

        using var sp = Services();
        DataConverter client = sp.GetRequiredService<IOptions<DurableTaskClientOptions>>().Value.DataConverter;
        DataConverter worker = sp.GetRequiredService<IOptions<DurableTaskWorkerOptions>>().Value.DataConverter;
        var local = new JsonDataConverter(Json.Options);   // the local host's
        foreach (var sample in Samples)
        {
            string expected = local.Serialize(sample)!;
            Assert.Equal(expected, client.Serialize(sample));
            Assert.Equal(expected, worker.Serialize(sample));
            // And back: what one engine wrote, the other reads to the same value.
            Assert.Equal(expected, local.Serialize(worker.Deserialize(expected, sample.GetType())));
            Assert.Equal(expected, worker.Serialize(local.Deserialize(expected, sample.GetType())));
        }
        Assert.Contains("\"phase\":\"1c\"", local.Serialize(Samples.OfType<LapStatus>().Single()));
    }

    [Theory]
    [InlineData(null, "MATHV2_TASKHUB is not set")]
    [InlineData("my-hub", "MATHV2_TASKHUB='my-hub' must be 3-45 letters and digits")]
    public void A_missing_or_invalid_task_hub_stops_the_app_naming_the_setting(string? hub, string message)
    {
        var e = Assert.Throws<SettingsException>(() => FunctionsSetup.Configure(Builder(new() { ["MATHV2_STORAGE"] = MathV2Storage.DevelopmentConnectionString, ["MATHV2_TASKHUB"] = hub })));
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData(null, "MATHV2_STORAGE is not set")]
    [InlineData("", "MATHV2_STORAGE is not set")]
    [InlineData("not a connection string", "MATHV2_STORAGE is not a storage connection string")]
    public void Missing_or_invalid_storage_settings_stop_the_app_naming_the_setting(string? value, string message)
    {
        var e = Assert.Throws<SettingsException>(() => FunctionsSetup.Configure(Builder(new() { ["MATHV2_STORAGE"] = value })));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void With_an_identity_based_connection_the_app_reaches_its_account_by_endpoints_and_no_key()
    {
        // App settings MATHV2_STORAGE__queueServiceUri etc. arrive in configuration as MATHV2_STORAGE:queueServiceUri.
        using var sp = FunctionsSetup.Configure(Builder(new()
        {
            ["MATHV2_STORAGE:blobServiceUri"] = "https://mathv2data42.blob.core.windows.net",
            ["MATHV2_STORAGE:queueServiceUri"] = "https://mathv2data42.queue.core.windows.net",
            ["MATHV2_STORAGE:tableServiceUri"] = "https://mathv2data42.table.core.windows.net",
            ["MATHV2_STORAGE:clientId"] = "00000000-0000-0000-0000-000000000001",
        })).Services.BuildServiceProvider();
        var storage = sp.GetRequiredService<MathV2Storage>();
        Assert.Null(storage.ConnectionString);
        Assert.Equal("mathv2data42", storage.Queues.AccountName);
        Assert.Equal(new Uri("https://mathv2data42.table.core.windows.net"), storage.Endpoints!.Table);
    }

    [Fact]
    public void Storage_is_made_ready_at_start_and_job_limits_are_checked_at_start()
    {
        var b = FunctionsSetup.Configure(Builder(new() { ["MATHV2_STORAGE"] = MathV2Storage.DevelopmentConnectionString }));
        Assert.Contains(b.Services, d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(StorageSetup));
        using var sp = b.Services.BuildServiceProvider();
        Assert.Equal(new GpuJobLimits(), sp.GetRequiredService<GpuJobLimits>());
        // A bad job limit stops the app while it is configured (Program.cs: exit 2), before it starts.
        Assert.Contains("MATHV2_JOB_POLL_S='soon'", Assert.Throws<SettingsException>(() =>
            FunctionsSetup.Configure(Builder(new() { ["MATHV2_STORAGE"] = MathV2Storage.DevelopmentConnectionString, ["MATHV2_JOB_POLL_S"] = "soon" }))).Message);
        Assert.Contains("MATHV2_MAX_ACTIVE_RUNS='-1'", Assert.Throws<SettingsException>(() =>
            FunctionsSetup.Configure(Builder(new() { ["MATHV2_STORAGE"] = MathV2Storage.DevelopmentConnectionString, ["MATHV2_MAX_ACTIVE_RUNS"] = "-1" }))).Message);
        Assert.Equal(0, sp.GetRequiredService<MathV2.Api.RunLimits>().MaxActiveRuns);   // no limit unless set
    }

    [Fact]
    public async Task With_a_connection_string_the_app_sends_every_span_and_its_meters_to_application_insights()
    {
        // The app's real telemetry pipeline (the Functions worker's OpenTelemetry defaults and ours) to an ingestion
        // endpoint of the test's own: each of MathV2's spans arrives, none sampled away, and its meters.
        await using var ingestion = new IngestionEndpoint();
        using var services = FunctionsSetup.Configure(Builder(new()
        {
            ["MATHV2_STORAGE"] = MathV2Storage.DevelopmentConnectionString, ["APPLICATIONINSIGHTS_CONNECTION_STRING"] = ingestion.ConnectionString,
        })).Services.BuildServiceProvider();
        var tracer = services.GetRequiredService<TracerProvider>();
        var meter = services.GetRequiredService<MeterProvider>();
        var t = DateTime.UtcNow;
        for (int i = 0; i < 20; i++) MathV2Telemetry.EmitInstanceSpan("Phase1A", $"lap-functions-{i}-1a", null, t.AddSeconds(-1), t, null);
        MathV2Telemetry.Attempts.Add(1, new KeyValuePair<string, object?>("mathv2.job_kind", "functions-test"));
        Assert.True(tracer.ForceFlush(30_000));
        Assert.True(meter.ForceFlush(30_000));
        var items = ingestion.Items();
        for (int i = 0; i < 20; i++) Assert.Single(items, l => l.Contains($"\"lap-functions-{i}-1a\""));
        Assert.Contains(items, l => l.Contains("mathv2.gpu_job.attempts") && l.Contains("functions-test"));
    }
}
