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
    public void Without_it_a_cpu_worker_plans_for_the_memory_available_and_a_cuda_worker_for_its_gpu()
    {
        var options = WorkerOptions.FromEnvironment(Env(null));
        Assert.Null(options.MemoryGb);
        var cpu = MemoryBudget.Of(options, "cpu")!;
        long available = long.Parse(File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemAvailable:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        Assert.InRange(cpu.Bytes, available / 2, available * 2);
        Assert.Contains("MemAvailable", cpu.Source);
        // CUDA: the GPU's memory from nvidia-smi, less the context's share; without nvidia-smi no check.
        string? asked = null;
        var gpu = MemoryBudget.Of(options, "cuda", i => { asked = i; return "81559\n"; })!;
        Assert.Equal((long)(81559L * 1024 * 1024 * MemoryBudget.GpuUsable), gpu.Bytes);
        Assert.Contains("81559 MiB (nvidia-smi)", gpu.Source);
        Assert.Equal(Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES")?.Split(',')[0] is { Length: > 0 } v ? v : "0", asked);
        Assert.Null(MemoryBudget.Of(options, "cuda", _ => null));
        Assert.Null(MemoryBudget.ParseNvidiaSmi("[N/A]"));
        Assert.Null(MemoryBudget.ParseNvidiaSmi(""));
        Assert.Equal((long)(40960L * 1024 * 1024 * MemoryBudget.GpuUsable), MemoryBudget.ParseNvidiaSmi(" 40960 \n 81559\n")!.Bytes);   // the first GPU listed
    }

    [Fact]
    public void On_a_machine_without_nvidia_smi_a_cuda_worker_does_not_check()
    {
        bool hasSmi = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, "nvidia-smi")));
        var budget = MemoryBudget.Of(WorkerOptions.FromEnvironment(Env(null)), "cuda");
        if (hasSmi) Assert.NotNull(budget);
        else Assert.Null(budget);
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
