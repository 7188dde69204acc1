using MathV2.Core.Models;

namespace MathV2.Gpu.Worker.Jobs;

/// <summary>The memory a job may plan for, and where the figure comes from (named in a refusal).</summary>
public sealed record MemoryBudget(long Bytes, string Source)
{
    /// <summary>MATHV2_WORKER_MEMORY_GB; else on CPU the memory available now (/proc/meminfo); else none (no check).</summary>
    public static MemoryBudget? Of(WorkerOptions options, string device)
    {
        if (options.MemoryGb is { } gb) return new((long)(gb * 1e9), $"MATHV2_WORKER_MEMORY_GB={gb}");
        if (device != "cpu" || !File.Exists("/proc/meminfo")) return null;
        var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemAvailable:", StringComparison.Ordinal));
        return line != null && long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], out long kb)
            ? new(kb * 1024, "the memory available on this machine (MemAvailable)") : null;
    }

    /// <summary>Logs the plan; a plan over the budget stops the job before it loads anything, with the numbers.</summary>
    public static void Check(GpuJobContext context, MemoryPlan plan)
    {
        context.Log($"memory plan: {plan.Describe()}{(context.Memory is { } m ? $"; budget {MemoryPlan.Gb(m.Bytes)} GB ({m.Source})" : "")}");
        if (context.Memory is { } budget && plan.Total > budget.Bytes)
            throw new InvalidDataException($"{plan.Job}: the job needs about {plan.Describe()}, more than the {MemoryPlan.Gb(budget.Bytes)} GB of {budget.Source}; " +
                "lower batchSize or maxSeqLen (grpo: promptsPerStep, groupSize, maxNewTokens), use gradientCheckpointing, moments \"8bit\" or bf16 on a CUDA worker " +
                "(grpo: klCoef 0 loads no reference), or run it on a worker with more memory");
    }
}
