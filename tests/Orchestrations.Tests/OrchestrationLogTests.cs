using System.Collections.Concurrent;
using System.Diagnostics;
using MathV2.Core;
using MathV2.Core.Telemetry;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.Logging;

namespace MathV2.Orchestrations.Tests;

/// <summary>
/// Orchestrators log their start and their end once, however often they replay (Traced, replay-safe); a traced one
/// emits a span per activity it calls, once, under its own span.
/// </summary>
public sealed class OrchestrationLogTests
{
    sealed class Lines : ILoggerProvider
    {
        public ConcurrentQueue<(string Category, LogLevel Level, string Text)> All { get; } = new();
        public ILogger CreateLogger(string categoryName) => new Sink(this, categoryName);
        public void Dispose() { }

        sealed class Sink(Lines lines, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.All.Enqueue((category, logLevel, formatter(state, exception)));
        }
    }

    /// <summary>Every MathV2 span stopped while the listener lives, recorded.</summary>
    static ActivityListener Listen(ConcurrentQueue<Activity> spans)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == MathV2Telemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    /// <summary>Three activities in a row: the orchestration replays at least three times.</summary>
    sealed class Steps : TaskOrchestrator<int, int>
    {
        public override async Task<int> RunAsync(TaskOrchestrationContext context, int fail)
        {
            int sum = 0;
            for (int i = 1; i <= 3; i++) sum += await context.CallActivityAsync<int>("Step", i);
            if (fail != 0) throw new InvalidOperationException("the last step was wrong\nand more");
            return sum;
        }
    }

    [Fact]
    public async Task An_orchestrator_logs_its_start_and_its_end_or_failure_once_however_often_it_replays()
    {
        var lines = new Lines();
        using var factory = LoggerFactory.Create(b => b.AddProvider(lines).SetMinimumLevel(LogLevel.Information));
        int steps = 0;
        await using var host = await DurableTaskTestHost.StartAsync(r =>
        {
            r.AddOrchestrator(new TaskName("Steps"), () => new TracedOrchestrator(new Steps()));
            r.AddActivityFunc<int, int>("Step", (_, i) => { Interlocked.Increment(ref steps); return i; });
        }, new DurableTaskTestHostOptions { Port = LoopbackPorts.FreeRange(1), LoggerFactory = factory });

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        string ok = await host.Client.ScheduleNewOrchestrationInstanceAsync("Steps", 0);
        string bad = await host.Client.ScheduleNewOrchestrationInstanceAsync("Steps", 1);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await host.Client.WaitForInstanceCompletionAsync(ok, cts.Token)).RuntimeStatus);
        Assert.Equal(OrchestrationRuntimeStatus.Failed, (await host.Client.WaitForInstanceCompletionAsync(bad, cts.Token)).RuntimeStatus);
        Assert.Equal(6, steps);

        var mine = lines.All.Where(l => l.Category == Traced.LogCategory).ToList();
        string Only(string id, string what) => Assert.Single(mine, l => l.Text.StartsWith($"Steps {id} {what}")).Text;
        Only(ok, "started");
        Only(ok, "completed in ");
        Only(bad, "started");
        Assert.Equal("the last step was wrong", Only(bad, "failed after ").Split(": ", 2)[1]);
        Assert.Equal(LogLevel.Warning, mine.Single(l => l.Text.StartsWith($"Steps {bad} failed")).Level);
        Assert.Equal(4, mine.Count);
    }

    [Fact]
    public async Task A_traced_orchestrator_emits_one_span_per_activity_call_under_its_own_span_never_on_replay()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var listener = Listen(spans);
        // Registered under a traced orchestrator's name (a probe's), so it runs with activity spans.
        await using var host = await DurableTaskTestHost.StartAsync(r =>
        {
            r.AddOrchestrator(new TaskName(TaskNames.Probe), () => new TracedOrchestrator(new Steps()));
            r.AddActivityFunc<int, int>("Step", (_, i) => i == 3 ? throw new InvalidOperationException("step 3 broke") : i);
        }, new DurableTaskTestHostOptions { Port = LoopbackPorts.FreeRange(1) });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        string id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.Probe, 0);
        Assert.Equal(OrchestrationRuntimeStatus.Failed, (await host.Client.WaitForInstanceCompletionAsync(id, cts.Token)).RuntimeStatus);

        var mine = spans.Where(s => s.GetTagItem("mathv2.orchestration_id") as string == id || s.GetTagItem("mathv2.instance_id") as string == id).ToList();
        var run = Assert.Single(mine, s => s.DisplayName == TaskNames.Probe);
        var steps = mine.Where(s => s.DisplayName == "activity Step").OrderBy(s => s.StartTimeUtc).ToList();
        Assert.Equal(3, steps.Count);   // three calls, three spans, though the orchestration replayed after each
        Assert.All(steps, s => Assert.Equal((run.TraceId, run.SpanId), (s.TraceId, s.ParentSpanId)));
        Assert.Equal(3, steps.Select(s => s.SpanId).Distinct().Count());
        Assert.Equal([ActivityStatusCode.Unset, ActivityStatusCode.Unset, ActivityStatusCode.Error], steps.Select(s => s.Status));
        Assert.Contains("step 3 broke", steps[2].StatusDescription);
        Assert.Equal(ActivityStatusCode.Error, run.Status);
    }

    public sealed record Turns : ITracedGenerations
    {
        public int Turn { get; init; } = 1;
        public string? TraceParent { get; init; }
        int ITracedGenerations.Generation => Turn;
    }

    /// <summary>Three generations (ContinueAsNew), an activity in each.</summary>
    sealed class Wheel : TaskOrchestrator<Turns, int>
    {
        public override async Task<int> RunAsync(TaskOrchestrationContext context, Turns input)
        {
            // The activity records the traceparent this generation hands its children.
            int got = await context.CallActivityAsync<int>("Trace", $"{input.Turn} {Traced.ChildTraceParent(context, input)}");
            if (input.Turn == 3) return got;
            context.ContinueAsNew(input with { Turn = input.Turn + 1 });
            return 0;
        }
    }

    [Fact]
    public async Task Each_generation_of_a_flywheel_or_search_is_a_span_under_the_trace_it_started_in_with_its_activities_beneath()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var listener = Listen(spans);
        var handed = new ConcurrentDictionary<string, string>();   // "instance turn" → the traceparent its children got
        await using var host = await DurableTaskTestHost.StartAsync(r =>
        {
            r.AddOrchestrator(new TaskName(TaskNames.Flywheel), () => new TracedOrchestrator(new Wheel()));
            r.AddActivityFunc<string, int>("Trace", (c, x) => { var parts = x.Split(' '); handed[$"{c.InstanceId} {parts[0]}"] = parts[1]; return int.Parse(parts[0]); });
        }, new DurableTaskTestHostOptions { Port = LoopbackPorts.FreeRange(1) });
        const string post = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        string id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.Flywheel, new Turns { TraceParent = post });
        string bare = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.Flywheel, new Turns());
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await host.Client.WaitForInstanceCompletionAsync(id, cts.Token)).RuntimeStatus);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await host.Client.WaitForInstanceCompletionAsync(bare, cts.Token)).RuntimeStatus);

        List<Activity> Turns(string instance) => [.. spans.Where(s => s.GetTagItem("mathv2.orchestration_id") as string == instance && s.DisplayName == TaskNames.Flywheel)
            .OrderBy(s => (string)s.GetTagItem("mathv2.instance_id")!)];
        var turns = Turns(id);
        Assert.Equal([$"{id}#1", $"{id}#2", $"{id}#3"], turns.Select(s => (string)s.GetTagItem("mathv2.instance_id")!));
        Assert.All(turns, t => Assert.Equal(("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"), (t.TraceId.ToHexString(), t.ParentSpanId.ToHexString())));
        Assert.Equal(turns.Select(t => MathV2Telemetry.SpanIdOf((string)t.GetTagItem("mathv2.instance_id")!)), turns.Select(t => t.SpanId));
        // Each generation's activity beneath it, and the traceparent each generation hands its children names it.
        var steps = spans.Where(s => s.GetTagItem("mathv2.orchestration_id") as string == id && s.DisplayName == "activity Trace").ToList();
        Assert.Equal(turns.Select(t => t.SpanId.ToHexString()).Order(), steps.Select(s => s.ParentSpanId.ToHexString()).Order());
        for (int k = 1; k <= 3; k++)
            Assert.Equal(MathV2Telemetry.TraceParentOf(new ActivityContext(turns[k - 1].TraceId, turns[k - 1].SpanId, ActivityTraceFlags.Recorded)), handed[$"{id} {k}"]);
        // Started with no trace around it, its generations still share one trace (its instance's).
        var bareTurns = Turns(bare);
        Assert.Equal(3, bareTurns.Count);
        Assert.All(bareTurns, t => Assert.Equal(MathV2Telemetry.TraceIdOf(bare), t.TraceId));
        Assert.All(Enumerable.Range(1, 3), k => Assert.Contains(MathV2Telemetry.TraceIdOf(bare).ToHexString(), handed[$"{bare} {k}"]));
    }
}
