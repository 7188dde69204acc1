using MathV2.Core.Jobs;
using MathV2.Gpu.Worker.Model;
using MathV2.Gpu.Worker.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Training;

/// <summary>A (prompt, completion) pair; the loss is taken on the completion and its end-of-sequence token.</summary>
/// <param name="Kind">The demonstration's kind (what a curriculum selects by).</param>
public sealed record SftExample(string Prompt, string Completion, string Kind = "");

/// <summary>
/// Token batches for causal LM training: inputs, next-token targets, and a mask of completion targets. Rows are
/// right-padded sequences, or, packed, one row of all the sequences end to end (no padding), each attending only
/// within itself at its own positions (<see cref="Packed"/>, <see cref="Positions"/>).
/// </summary>
public sealed class TokenBatch : IDisposable
{
    public const long Ignore = -100;

    public required Tensor Inputs { get; init; }
    /// <summary>Next-token targets; Ignore where no loss is taken (prompt and padding).</summary>
    public required Tensor Targets { get; init; }
    /// <summary>1 where the target is a completion token.</summary>
    public required Tensor Mask { get; init; }
    /// <summary>Packed: each position's index within its own sequence.</summary>
    public Tensor? Positions { get; init; }
    /// <summary>Packed: each sequence's start and length in the row.</summary>
    public IReadOnlyList<(long Start, long Length)>? Packed { get; init; }
    /// <summary>Tokens of the sequences (what the loss reads), without padding.</summary>
    public long Tokens { get; init; }
    /// <summary>Positions computed, padding included (rows × width).</summary>
    public long Cells { get; init; }

    /// <summary>Sequences are prompt (its start token included, <see cref="ITokenizer.EncodePrompt"/>) + completion; longer than maxLen + 1 tokens, the end is cut.</summary>
    public static TokenBatch Build(IReadOnlyList<(int[] Prompt, int[] Completion)> rows, ITokenizer tok, int maxLen, Device device, bool pack = false)
    {
        var seqs = rows.Select(r =>
        {
            int[] s = [.. r.Prompt, .. r.Completion];
            int promptLen = r.Prompt.Length;
            if (s.Length > maxLen + 1) s = s[..(maxLen + 1)];
            return (Seq: s, PromptLen: promptLen);
        }).Where(s => s.Seq.Length > 1 || !pack).ToList();
        if (seqs.Count == 0) throw new ArgumentException("a batch needs a sequence of at least two tokens");
        // Each row's sequences: one per row, or all of them end to end in one row.
        int n = pack ? 1 : seqs.Count;
        int width = pack ? seqs.Sum(s => s.Seq.Length - 1) : Math.Max(1, seqs.Max(s => s.Seq.Length - 1));
        var inputs = new long[n * width];
        var targets = new long[n * width];
        var mask = new float[n * width];
        var positions = new long[n * width];
        var packed = new List<(long Start, long Length)>();
        Array.Fill(inputs, tok.PadId);
        Array.Fill(targets, Ignore);
        long tokens = 0;
        int at = 0;
        for (int r = 0; r < seqs.Count; r++)
        {
            var (s, promptLen) = seqs[r];
            int start = pack ? at : r * width;
            for (int i = 0; i < s.Length - 1; i++)
            {
                inputs[start + i] = s[i];
                positions[start + i] = i;
                if (i + 1 >= promptLen) { targets[start + i] = s[i + 1]; mask[start + i] = 1; }
            }
            if (pack) packed.Add((at, s.Length - 1));
            at += s.Length - 1;
            tokens += s.Length;
        }
        return new TokenBatch
        {
            Inputs = torch.tensor(inputs, [n, width], device: device),
            Targets = torch.tensor(targets, [n, width], device: device),
            Mask = torch.tensor(mask, [n, width], device: device),
            Positions = pack ? torch.tensor(positions, [n, width], device: device) : null,
            Packed = pack ? packed : null,
            Tokens = tokens,
            Cells = (long)n * width,
        };
    }

    /// <summary>Logits [rows, width, vocab] of the batch's inputs: packed sequences attend within themselves.</summary>
    public Tensor Logits(LlamaForCausalLM model) =>
        Packed is null ? model.Forward(Inputs) : model.Forward(Inputs, Positions!, null, null, packed: Packed);

    public void Dispose() { Inputs.Dispose(); Targets.Dispose(); Mask.Dispose(); Positions?.Dispose(); }
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

    /// <summary>Training tokens this trainer's steps read (padding not counted), and positions they computed (padding counted).</summary>
    public long TokensSeen { get; private set; }
    public long CellsComputed { get; private set; }

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
            using var batch = TokenBatch.Build(rows, _tok, Options.MaxSeqLen, Device, Options.Pack);
            var l = Model.Backward(batch.Inputs, logits => CrossEntropy(logits, batch) / Options.GradAccum, Options.GradientCheckpointing, batch.Positions, batch.Packed);
            loss += l.item<float>();
            tokens += batch.Tokens;
            TokensSeen += batch.Tokens;
            CellsComputed += batch.Cells;
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

    Tensor Loss(TokenBatch b) => CrossEntropy(b.Logits(Model), b);

    static Tensor CrossEntropy(Tensor logits, TokenBatch b) =>
        nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), b.Targets.reshape(-1), ignore_index: TokenBatch.Ignore);

    /// <summary>Mean per-token loss on the held-out examples.</summary>
    public override double? Evaluate()
    {
        if (_eval.Count == 0) return null;
        using var noGrad = torch.no_grad();
        double sum = 0, count = 0;
        for (int i = 0; i < _eval.Count; i += Options.BatchSize)
        {
            using var scope = torch.NewDisposeScope();
            using var batch = TokenBatch.Build(_eval.Skip(i).Take(Options.BatchSize).ToList(), _tok, Options.MaxSeqLen, Device, Options.Pack);
            double n = batch.Mask.sum().item<float>();
            sum += Loss(batch).item<float>() * n;
            count += n;
        }
        return count == 0 ? null : sum / count;
    }
}
