using MathV2.Core.Models;

namespace MathV2.Gpu.Worker.Jobs;

/// <summary>The memory a job may plan for, and where the figure comes from (named in a refusal).</summary>
public sealed record MemoryBudget(long Bytes, string Source)
{
    /// <summary>Share of a GPU's memory a job may plan for: the rest is the CUDA context's and the allocator's.</summary>
    public const double GpuUsable = 0.95;

    /// <summary>
    /// MATHV2_WORKER_MEMORY_GB; else on CPU the memory available now (/proc/meminfo); on CUDA the first visible GPU's
    /// memory as nvidia-smi reports it, less the context's share; else none (no check).
    /// </summary>
    public static MemoryBudget? Of(WorkerOptions options, string device, Func<string, string?>? nvidiaSmi = null)
    {
        if (options.MemoryGb is { } gb) return new((long)(gb * 1e9), $"MATHV2_WORKER_MEMORY_GB={gb}");
        if (device == "cuda")
        {
            // nvidia-smi numbers GPUs physically; CUDA_VISIBLE_DEVICES' first entry (an index or a UUID) is the worker's GPU.
            string gpu = Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES")?.Split(',')[0].Trim() is { Length: > 0 } v ? v : "0";
            return ParseNvidiaSmi((nvidiaSmi ?? RunNvidiaSmi)(gpu));
        }
        if (device != "cpu" || !File.Exists("/proc/meminfo")) return null;
        var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemAvailable:", StringComparison.Ordinal));
        return line != null && long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], out long kb)
            ? new(kb * 1024, "the memory available on this machine (MemAvailable)") : null;
    }

    /// <summary>The budget from `nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits` (MiB), or null.</summary>
    public static MemoryBudget? ParseNvidiaSmi(string? output)
    {
        string? line = output?.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
        if (line is null || !long.TryParse(line, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long mib) || mib <= 0) return null;
        return new((long)(mib * 1024L * 1024 * GpuUsable), $"the GPU's {mib} MiB (nvidia-smi), less {1 - GpuUsable:P0} for the CUDA context");
    }

    static string? RunNvidiaSmi(string gpu)
    {
        try
        {
            using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("nvidia-smi", ["--query-gpu=memory.total", "--format=csv,noheader,nounits", "-i", gpu])
                { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
            if (p is null) return null;
            string output = p.StandardOutput.ReadToEnd();
            return p.WaitForExit(10_000) && p.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; }   // no nvidia-smi: no check
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
