using System.Globalization;
using MathV2.Core.Jobs;

namespace MathV2.Core.Models;

/// <summary>One part of a job's memory: what it is and how many bytes.</summary>
public sealed record MemoryPart(string Name, long Bytes);

/// <summary>
/// What a GPU job will hold at its peak, planned before it loads anything: weights, gradients, AdamW moments,
/// activations at the job's batch and sequence length (as the worker's model keeps them for the backward pass),
/// frozen reference and reward models, the KV cache of sampling. The worker refuses a job whose plan does not fit
/// its memory, with these numbers.
/// </summary>
public sealed record MemoryPlan(string Job, IReadOnlyList<MemoryPart> Parts)
{
    public long Total => Parts.Sum(p => p.Bytes);

    public string Describe() => $"{Gb(Total)} GB ({string.Join(", ", Parts.Where(p => p.Bytes > 0).Select(p => $"{p.Name} {Gb(p.Bytes)}"))})";

    public static string Gb(long bytes) => (bytes / 1e9).ToString(bytes < 10_000_000 ? "F3" : "F2", CultureInfo.InvariantCulture);

    /// <summary>Parameters of a model of this config (the tensors of its checkpoint).</summary>
    public static long Parameters(LlamaConfig c) => LlamaTensors.Expected(c).Values.Sum(shape => shape.Aggregate(1L, (a, x) => a * x));

    /// <summary>
    /// Peak activation bytes of one training forward and backward over batch × seq tokens: per layer the tensors
    /// autograd keeps (the block's input, both norms' intermediate and output, the attention's query, key, value,
    /// K/V repeated per query head for the fused causal kernel, its output and re-laid copy, the residual, the MLP's
    /// gate, SiLU, up and product), the final norm, the logits four times over (logits, log-softmax, their
    /// gradients), and the backward's transient gradients. With activation checkpointing only each layer's input is
    /// kept, then the larger of the head's (final norm, logits) and one layer's activations. Checked against the peak resident memory of the worker's own
    /// training step on CPU (bench memory).
    /// </summary>
    public static long Activations(LlamaConfig c, long batch, long seq, int elementBytes, int logitBytes, bool checkpoint = false)
    {
        long n = batch * seq, h = c.HiddenSize, q = (long)c.Heads * c.HeadDim, kv = (long)c.KvHeads * c.HeadDim, i = c.IntermediateSize;
        long repeated = c.Heads > c.KvHeads ? 2 * q : 0;
        long perLayer = n * (6 * h + 3 * q + 2 * kv + repeated + 4 * i + (c.QkNorm ? 2 * (q + kv) : 0)) * elementBytes + n * c.Heads * 4L;
        long final = n * 3 * h * elementBytes;
        long logits = 4 * n * (long)c.VocabSize * logitBytes;
        long transient = 2 * n * Math.Max(i, q) * elementBytes;
        // Checkpointed, the head and loss are freed before the layers are recomputed one at a time.
        return checkpoint
            ? c.Layers * n * h * elementBytes + Math.Max(final + logits, perLayer + transient)
            : c.Layers * perLayer + final + logits + transient;
    }

    /// <summary>
    /// Sampling batch rows of prompt tokens then new tokens: the slots' KV cache, the prefill's own KV cache (held
    /// while it is copied into the slots), the prefill's mask and transients, and the last position's logits (the
    /// sampler asks for no others).
    /// </summary>
    public static long Sampling(LlamaConfig c, long batch, long promptTokens, long newTokens, int elementBytes)
    {
        long kvCache = 2L * c.Layers * batch * (2 * promptTokens + newTokens) * c.KvHeads * c.HeadDim * elementBytes;
        long prefill = batch * promptTokens * 3L * Math.Max(Math.Max(c.IntermediateSize, c.HiddenSize), c.Heads * c.HeadDim) * elementBytes
            + batch * (c.Heads / Math.Max(1, c.KvHeads)) * promptTokens * (promptTokens + newTokens) * elementBytes
            + batch * (long)c.VocabSize * 4 * 3;
        return kvCache + prefill;
    }

    /// <summary>
    /// Weights, gradients and AdamW's two moments of a trained model: the moments in the weights' dtype ("auto"), in
    /// fp32, or 8-bit (a byte per element and a 4-byte scale per 64, for every tensor of 4096 elements or more).
    /// </summary>
    static IEnumerable<MemoryPart> Trained(string name, LlamaConfig c, int elementBytes, TrainOptions o)
    {
        long n = Parameters(c), p = n * elementBytes;
        yield return new($"{name} weights", p);
        yield return new("gradients", p);
        long moments = o.Moments switch
        {
            "fp32" => 2 * n * 4,
            "8bit" => 2 * LlamaTensors.Expected(c).Values.Select(shape => shape.Aggregate(1L, (a, x) => a * x))
                .Sum(e => e >= 4096 ? (e + 63) / 64 * (64 + 4) : e * 4),
            _ => 2 * p,
        };
        yield return new(o.Moments is "fp32" or "8bit" ? $"AdamW moments ({o.Moments})" : "AdamW moments", moments);
    }

    static string ActivationsName(TrainOptions o) =>
        $"activations (batch {o.BatchSize} × {o.MaxSeqLen} tokens{(o.GradientCheckpointing ? ", checkpointed" : "")})";

    public static MemoryPlan Sft(LlamaConfig c, TrainOptions o, int elementBytes) => new("sft",
    [
        .. Trained("model", c, elementBytes, o),
        new(ActivationsName(o), Activations(c, o.BatchSize, o.MaxSeqLen, elementBytes, elementBytes, o.GradientCheckpointing)),
    ]);

    /// <summary>
    /// GRPO: the policy trained; its reference (null when klCoef is 0: none is loaded) and the reward models frozen
    /// (rewardModels: those that do not share the reference's copy); the peak is the larger of training (batch ×
    /// maxSeqLen) and sampling (promptsPerStep × groupSize rows, maxSeqLen − maxNewTokens prompt tokens, then
    /// maxNewTokens).
    /// </summary>
    public static MemoryPlan Grpo(LlamaConfig policy, LlamaConfig? reference, IReadOnlyList<LlamaConfig> rewardModels, GrpoOptions o, int elementBytes)
    {
        long rows = (long)o.PromptsPerStep * o.GroupSize;
        long prompt = Math.Max(1, o.MaxSeqLen - o.MaxNewTokens);
        long training = Activations(policy, o.BatchSize, o.MaxSeqLen, elementBytes, 4, o.GradientCheckpointing);
        long sampling = new[] { policy }.Concat(rewardModels).Max(c => Sampling(c, rows, prompt, o.MaxNewTokens, elementBytes));
        return new("grpo",
        [
            .. Trained("policy", policy, elementBytes, o),
            new("reference weights", reference is null ? 0 : Parameters(reference) * elementBytes),
            new($"reward models' weights ({rewardModels.Count})", rewardModels.Sum(c => Parameters(c) * elementBytes)),
            training >= sampling
                ? new(ActivationsName(o), training)
                : new($"sampling ({rows} rows, KV cache and prefill)", sampling),
        ]);
    }

    public static MemoryPlan Sample(LlamaConfig c, int batch, long promptTokens, int newTokens, int elementBytes) => new("sample",
    [
        new("model weights", Parameters(c) * elementBytes),
        new($"sampling ({batch} rows of {promptTokens} + {newTokens} tokens, KV cache and prefill)", Sampling(c, batch, promptTokens, newTokens, elementBytes)),
    ]);
}
