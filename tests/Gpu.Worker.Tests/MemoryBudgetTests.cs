using MathV2.Core;
using MathV2.Gpu.Worker.Jobs;

namespace MathV2.Gpu.Worker.Tests;

public sealed class MemoryBudgetTests
{
    static Settings Env(string? memoryGb) => new(n => n == "MATHV2_WORKER_MEMORY_GB" ? memoryGb : null);

    [Fact]
    public void MATHV2_WORKER_MEMORY_GB_sets_the_budget_on_any_device_and_names_itself()
    {
        var options = WorkerOptions.FromEnvironment(Env("80"));
        Assert.Equal(80, options.MemoryGb);
        foreach (string device in new[] { "cpu", "cuda" })
        {
            var budget = MemoryBudget.Of(options, device)!;
            Assert.Equal(80_000_000_000, budget.Bytes);
            Assert.Equal("MATHV2_WORKER_MEMORY_GB=80", budget.Source);
        }
    }

    [Fact]
    public void Without_it_a_cpu_worker_plans_for_the_memory_available_and_a_cuda_worker_does_not_check()
    {
        var options = WorkerOptions.FromEnvironment(Env(null));
        Assert.Null(options.MemoryGb);
        var cpu = MemoryBudget.Of(options, "cpu")!;
        long available = long.Parse(File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemAvailable:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        Assert.InRange(cpu.Bytes, available / 2, available * 2);
        Assert.Contains("MemAvailable", cpu.Source);
        Assert.Null(MemoryBudget.Of(options, "cuda"));
    }

    [Theory]
    [InlineData("lots")]
    [InlineData("0")]
    [InlineData("-4")]
    public void A_mistyped_value_stops_the_worker_with_the_variable_named(string value)
    {
        var e = Assert.Throws<SettingsException>(() => WorkerOptions.FromEnvironment(Env(value)));
        Assert.Contains("MATHV2_WORKER_MEMORY_GB", e.Message);
    }
}
