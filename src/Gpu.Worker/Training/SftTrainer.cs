using MathV2.Core.Jobs;
using MathV2.Gpu.Worker.Model;
using MathV2.Gpu.Worker.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Training;

/// <summary>A (prompt, completion) pair; the loss is taken on the completion and its end-of-sequence token.</summary>
/// <param name="Kind">The demonstration's kind (what a curriculum selects by).</param>
public sealed record SftExample(string Prompt, string Completion, string Kind = "");

/// <summary>Right-padded token batches for causal LM training: inputs, next-token targets, and a mask of completion targets.</summary>
public sealed class TokenBatch : IDisposable
{
    public const long Ignore = -100;

    public required Tensor Inputs { get; init; }
    /// <summary>Next-token targets; Ignore where no loss is taken (prompt and padding).</summary>
    public required Tensor Targets { get; init; }
    /// <summary>1 where the target is a completion token.</summary>
    public required Tensor Mask { get; init; }
    public long Tokens { get; init; }

    /// <summary>Sequences are prompt (its start token included, <see cref="ITokenizer.EncodePrompt"/>) + completion; longer than maxLen + 1 tokens, the end is cut.</summary>
    public static TokenBatch Build(IReadOnlyList<(int[] Prompt, int[] Completion)> rows, ITokenizer tok, int maxLen, Device device)
    {
        var seqs = rows.Select(r =>
        {
            int[] s = [.. r.Prompt, .. r.Completion];
            int promptLen = r.Prompt.Length;
            if (s.Length > maxLen + 1) s = s[..(maxLen + 1)];
            return (Seq: s, PromptLen: promptLen);
        }).ToList();
        int width = Math.Max(1, seqs.Max(s => s.Seq.Length - 1));
        var inputs = new long[rows.Count * width];
        var targets = new long[rows.Count * width];
        var mask = new float[rows.Count * width];
        Array.Fill(inputs, tok.PadId);
        Array.Fill(targets, Ignore);
        long tokens = 0;
        for (int r = 0; r < seqs.Count; r++)
        {
            var (s, promptLen) = seqs[r];
            for (int i = 0; i < s.Length - 1; i++)
            {
                inputs[r * width + i] = s[i];
                if (i + 1 >= promptLen) { targets[r * width + i] = s[i + 1]; mask[r * width + i] = 1; }
            }
            tokens += s.Length;
        }
        return new TokenBatch
        {
            Inputs = torch.tensor(inputs, [rows.Count, width], device: device),
            Targets = torch.tensor(targets, [rows.Count, width], device: device),
            Mask = torch.tensor(mask, [rows.Count, width], device: device),
            Tokens = tokens,
        };
    }

    public void Dispose() { Inputs.Dispose(); Targets.Dispose(); Mask.Dispose(); }
}

/// <summary>
/// Supervised fine-tuning: next-token cross-entropy on completion tokens only, AdamW, warm-up + cosine, clipping,
/// gradient accumulation, held-out loss. Examples are visited in a shuffled order fixed by (seed, epoch); with a
/// curriculum, the first CurriculumSteps steps visit only the examples of CurriculumKinds.
/// </summary>
public sealed class SftTrainer : Trainer
{
    readonly ITokenizer _tok;
    readonly List<(int[] Prompt, int[] Completion)> _train, _eval;
    readonly int[] _curriculum;

    public SftTrainer(LlamaForCausalLM model, ITokenizer tok, IReadOnlyList<SftExample> train, IReadOnlyList<SftExample> eval, TrainOptions options)
        : base(model, options)
    {
        if (train.Count == 0) throw new ArgumentException("sft: the training set is empty");
        _tok = tok;
        _train = train.Select(Encode).ToList();
        _eval = eval.Select(Encode).ToList();
        _curriculum = options.CurriculumSteps == 0 ? [] : train.Select((e, i) => (e, i)).Where(x => options.CurriculumKinds.Contains(x.e.Kind)).Select(x => x.i).ToArray();
        if (options.CurriculumSteps > 0 && _curriculum.Length == 0)
            throw new ArgumentException($"sft: curriculumKinds [{string.Join(", ", options.CurriculumKinds)}] match no training example (kinds: {string.Join(", ", train.Select(e => e.Kind).Distinct())})");
    }

    (int[], int[]) Encode(SftExample e) => (_tok.EncodePrompt(e.Prompt), [.. _tok.Encode(e.Completion), _tok.EosId]);

    protected override StepMetrics TrainStep(int step, double lr)
    {
        Optimizer.ZeroGrad();
        double loss = 0;
        long tokens = 0;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int micro = 0; micro < Options.GradAccum; micro++)
        {
            using var scope = torch.NewDisposeScope();
            var rows = Batch(step, micro).Select(i => _train[i]).ToList();
            using var batch = TokenBatch.Build(rows, _tok, Options.MaxSeqLen, Device);
            var l = Loss(batch);
            (l / Options.GradAccum).backward();
            loss += l.item<float>() / Options.GradAccum;
            tokens += batch.Tokens;
        }
        double norm = ClipAndNorm();
        Optimizer.Step(lr);
        return new StepMetrics { Step = step, Steps = Options.Steps, Loss = loss, LearningRate = lr, GradNorm = norm, TokensPerSecond = tokens / sw.Elapsed.TotalSeconds };
    }

    /// <summary>The training examples (indices) of a step's micro-batch: epochs are permutations seeded by (seed, epoch).</summary>
    public IReadOnlyList<int> Batch(int step, int micro = 0)
    {
        bool lead = step < Options.CurriculumSteps;
        long first = ((long)(lead ? step : step - Options.CurriculumSteps) * Options.GradAccum + micro) * Options.BatchSize;
        return Enumerable.Range(0, Options.BatchSize)
            .Select(k => lead ? _curriculum[Shuffled(first + k, _curriculum.Length, purpose: 3)] : Shuffled(first + k, _train.Count, purpose: 1)).ToList();
    }

    Tensor Loss(TokenBatch b)
    {
        var logits = Model.Forward(b.Inputs);
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), b.Targets.reshape(-1), ignore_index: TokenBatch.Ignore);
    }

    /// <summary>Mean per-token loss on the held-out examples.</summary>
    public override double? Evaluate()
    {
        if (_eval.Count == 0) return null;
        using var noGrad = torch.no_grad();
        double sum = 0, count = 0;
        for (int i = 0; i < _eval.Count; i += Options.BatchSize)
        {
            using var scope = torch.NewDisposeScope();
            using var batch = TokenBatch.Build(_eval.Skip(i).Take(Options.BatchSize).ToList(), _tok, Options.MaxSeqLen, Device);
            double n = batch.Mask.sum().item<float>();
            sum += Loss(batch).item<float>() * n;
            count += n;
        }
        return count == 0 ? null : sum / count;
    }
}
