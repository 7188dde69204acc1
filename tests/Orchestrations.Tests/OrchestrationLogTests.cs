using System.Collections.Concurrent;
using MathV2.Core;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.Logging;

namespace MathV2.Orchestrations.Tests;

/// <summary>Orchestrators log their start and their end once, however often they replay (Traced, replay-safe).</summary>
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
}
