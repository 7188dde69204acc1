using System.Text.Json;
using MathV2.Core;
using Microsoft.AspNetCore.Http;
using static MathV2.Tests.HttpTestKit;

namespace MathV2.Api.Tests;

/// <summary>
/// The shared serializer options are used by every request at once: the first responses of a fresh host must not
/// race to complete them (ASP.NET Core's JSON result sets a resolver on options that are still mutable).
/// </summary>
public sealed class JsonOptionsRaceTests
{
    [Fact]
    public void The_shared_options_are_complete_and_read_only_before_first_use()
    {
        foreach (var options in new[] { Json.CreateOptions(indented: false), Json.CreateOptions(indented: true), Json.Options, Json.Indented })
        {
            Assert.True(options.IsReadOnly);
            Assert.NotNull(options.TypeInfoResolver);
        }
    }

    [Fact]
    public async Task A_json_result_never_writes_to_the_options_it_is_given()
    {
        // The race's precondition, checked without timing: before the fix the first result set a resolver here.
        var options = Json.CreateOptions(indented: false);
        var resolver = options.TypeInfoResolver;
        var ctx = Context("GET", "/api/laps");
        await Results.Json(new { id = "lap-1" }, options, statusCode: 202).ExecuteAsync(ctx);
        Assert.Same(resolver, options.TypeInfoResolver);
        Assert.Equal(202, ctx.Response.StatusCode);
    }

    /// <summary>
    /// The race itself: fresh options, many parallel first responses through the handlers' path. Its window is a few
    /// instructions wide, so this rarely failed before the fix; the test above fails on every run before it.
    /// </summary>
    [Fact]
    public void Many_parallel_first_responses_through_fresh_options_all_succeed()
    {
        const int rounds = 500, threads = 3;
        var errors = new List<Exception>();
        for (int round = 0; round < rounds; round++)
        {
            var options = Json.CreateOptions(indented: false);
            int ready = 0;
            var workers = Enumerable.Range(0, threads).Select(i => new Thread(() =>
            {
                Interlocked.Increment(ref ready);
                while (Volatile.Read(ref ready) < threads) Thread.SpinWait(1);
                try
                {
                    var ctx = Context("GET", "/api/laps");
                    Results.Json(new[] { new { id = $"lap-{i}", round } }, options).ExecuteAsync(ctx).GetAwaiter().GetResult();
                    ctx.Response.Body.Position = 0;
                    using var doc = JsonDocument.Parse(ctx.Response.Body);
                    if (doc.RootElement[0].GetProperty("id").GetString() != $"lap-{i}") throw new InvalidDataException("wrong body");
                }
                catch (Exception e) { lock (errors) errors.Add(e); }
            })).ToList();
            workers.ForEach(t => t.Start());
            workers.ForEach(t => t.Join());
        }
        Assert.True(errors.Count == 0, $"{errors.Count} of {rounds * threads} first responses failed; the first: {errors.FirstOrDefault()}");
    }
}
