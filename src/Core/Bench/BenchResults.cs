using MathV2.Core.Models;

namespace MathV2.Core.Bench;

/// <summary>`bench worker` (run in a worker process, printed as JSON, read by the CLI): training MFU, KV cache and batching.</summary>
public sealed record WorkerBenchResult
{
    public string Benchmark { get; init; } = "worker";
    public required string Device { get; init; }
    public int Threads { get; init; }
    public double MatmulGflops { get; init; }
    public required IReadOnlyList<TrainingBench> Training { get; init; }
    public required SamplingBench Sampling { get; init; }
    /// <summary>GRPO's sampling: G completions of one prompt, its prefill shared vs. each row prefilling it.</summary>
    public GroupSamplingBench? GroupSampling { get; init; }
    /// <summary>Sampling the demo's completion lengths: continuous batching vs. static batches.</summary>
    public ContinuousBatchingBench? ContinuousBatching { get; init; }
    /// <summary>The demo bootstrap's sft on its demonstrations: packed rows vs. padded rows.</summary>
    public SftPackingBench? SftPacking { get; init; }
    public required WorkerBenchTargets Targets { get; init; }
}

/// <param name="MatmulGflops">The matmul baseline of this measure: the mean of the matmul measured just before and just after it.</param>
public sealed record TrainingBench(string Config, long Parameters, int BatchSize, int SeqLen, double TokensPerSecond, double ModelGflops, double Mfu, double MatmulGflops = 0);

public sealed record SamplingBench(string Config, int PromptTokens, int NewTokens, double CachedTokensPerSecond, double UncachedTokensPerSecond, double CacheSpeedup,
    int ShortPromptTokens, double ShortPromptCacheSpeedup,
    int Batch, double BatchedTokensPerSecond, double OneByOneTokensPerSecond, double BatchSpeedup);

public sealed record GroupSamplingBench(string Config, int Group, int PromptTokens, int NewTokens, double SharedSeconds, double SeparateSeconds, double Speedup,
    double SharedFirstTokenSeconds, double SeparateFirstTokenSeconds, double FirstTokenSpeedup);

public sealed record ContinuousBatchingBench(string Config, int Prompts, int BatchSize, int MeanNewTokens, int MaxNewTokens, double ContinuousTokensPerSecond, double StaticTokensPerSecond, double Speedup);

public sealed record SftPackingBench(string Config, int BatchSize, int Steps, double PaddedShare, double PackedTokensPerSecond, double PaddedTokensPerSecond, double Speedup);

public sealed record WorkerBenchTargets
{
    public double ContinuousBatchingSpeedup { get; init; }
    public bool ContinuousBatchingSpeedupMet { get; init; }
    public double SftPackingSpeedup { get; init; }
    public bool SftPackingSpeedupMet { get; init; }
    public double SharedPrefillSpeedup { get; init; }
    public bool SharedPrefillSpeedupMet { get; init; }
    public double TrainingMfuLarger { get; init; }
    public bool TrainingMfuLargerMet { get; init; }
    public double TrainingMfuDemo { get; init; }
    public bool TrainingMfuDemoMet { get; init; }
    public double CacheSpeedup { get; init; }
    public bool CacheSpeedupMet { get; init; }
}

/// <summary>`bench memory`: an sft step's memory plan against the peak resident memory it reaches on CPU.</summary>
public sealed record MemoryBenchResult
{
    public string Benchmark { get; init; } = "memory";
    public required string Device { get; init; }
    /// <summary>Whether freed tensors went back to the system (MALLOC_MMAP_THRESHOLD_ set), without which peaks read low.</summary>
    public bool ReturnsFreedMemory { get; init; }
    public required IReadOnlyList<MemoryBenchRow> Rows { get; init; }
    public double Tolerance { get; init; }
    public bool Met { get; init; }
}

public sealed record MemoryBenchRow(string Config, long Parameters, int BatchSize, int SeqLen, long PredictedBytes, long MeasuredBytes, double Ratio, IReadOnlyList<MemoryBenchPart> Plan);

public sealed record MemoryBenchPart(string Name, long Bytes);

/// <summary>`bench bootstrap`: the demo bootstrap before RL, once per tokenizer with the same seeds.</summary>
public sealed record BootstrapBenchResult
{
    public string Benchmark { get; init; } = "bootstrap";
    public required string Device { get; init; }
    public int Threads { get; init; }
    public int HeldOutProblems { get; init; }
    public int HeldOutProofs { get; init; }
    public required IReadOnlyList<BootstrapBenchRow> Results { get; init; }
}

public sealed record BootstrapBenchRow
{
    public required string Tokenizer { get; init; }
    public int Vocab { get; init; }
    public LlamaConfig? Config { get; init; }
    public int Demonstrations { get; init; }
    public int ProblemsPerDifficulty { get; init; }
    public int FactProblemsPerDifficulty { get; init; }
    public int Steps { get; init; }
    public int CurriculumSteps { get; init; }
    public int TrainTokens { get; init; }
    public double TrainSeconds { get; init; }
    public double? EvalLoss { get; init; }
    public double VerifierAccuracy { get; init; }
    public double VerifierFormatRate { get; init; }
    /// <summary>Held-out verification accuracy by the proof's defect kind.</summary>
    public Dictionary<string, double> VerifierByDefect { get; init; } = [];
    public double CheckAccuracy { get; init; }
    /// <summary>The first wrongly scored proof of each defect kind, with the analysis.</summary>
    public Dictionary<string, string> VerifierMisses { get; init; } = [];
    /// <summary>"greedy" and "sampled".</summary>
    public Dictionary<string, BootstrapGeneration> Generation { get; init; } = [];
    public double TotalSeconds { get; init; }
}

public sealed record BootstrapGeneration
{
    public double OraclePassRate { get; init; }
    public Dictionary<string, double> ByDifficulty { get; init; } = [];
    public double FormatRate { get; init; }
    public List<string> Examples { get; init; } = [];
}
