using MathV2.Core.Jobs;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using MathV2.Core;
using MathV2.Gpu.Worker.Model;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Training;

/// <summary>
/// The loop both trainers share: steps with a scheduled learning rate, metrics per step, evaluation every
/// EvalEvery steps, and a resumable checkpoint (weights, AdamW moments, step, metrics; randomness is derived
/// from the seed and the step, so nothing else is needed) every CheckpointEvery steps and at the end.
/// </summary>
public abstract class Trainer : IDisposable
{
    const string Magic = "MV2TRAIN1";

    protected Trainer(LlamaForCausalLM model, TrainOptions options)
    {
        options.ThrowIfInvalid(GetType().Name);
        Model = model;
        Options = options;
        Optimizer = new AdamW(model.named_parameters().Select(p => (p.name, p.parameter)), options);
    }

    public LlamaForCausalLM Model { get; }
    public TrainOptions Options { get; }
    protected AdamW Optimizer { get; }
    protected Device Device => Model.model.embed_tokens.weight!.device;

    /// <summary>Steps completed (by this and earlier attempts).</summary>
    public int StepsDone { get; private set; }
    public List<StepMetrics> Metrics { get; } = [];
    /// <summary>The attempt number written into metrics.</summary>
    public int Attempt { get; set; } = 1;

    /// <summary>Called after every step with its metrics.</summary>
    public Action<StepMetrics>? OnStep { get; set; }
    /// <summary>Called with a serialized training checkpoint every CheckpointEvery steps and at the end.</summary>
    public Func<byte[], Task>? OnCheckpoint { get; set; }

    /// <summary>Runs the remaining steps; cancellation stops between steps.</summary>
    public void Run(CancellationToken ct = default)
    {
        if (OnCheckpoint != null) throw new InvalidOperationException("a trainer with OnCheckpoint runs with RunAsync");
        RunAsync(ct).GetAwaiter().GetResult();
    }

    /// <summary>Runs the remaining steps, awaiting each checkpoint's upload between steps; cancellation stops between steps.</summary>
    public async Task RunAsync(CancellationToken ct = default)
    {
        while (StepsDone < Options.Steps)
        {
            ct.ThrowIfCancellationRequested();
            RunStep();
            if (OnCheckpoint != null && (StepsDone % Options.CheckpointEvery == 0 || StepsDone == Options.Steps))
                await OnCheckpoint(SaveState());
        }
    }

    /// <summary>The next step, with its evaluation when one is due; its metrics (Seconds: the step's own time).</summary>
    public StepMetrics RunStep()
    {
        if (StepsDone >= Options.Steps) throw new InvalidOperationException($"all {Options.Steps} steps are done");
        Model.train();
        int step = StepsDone;
        double lr = LrSchedule.At(Options, step);
        var sw = Stopwatch.StartNew();
        var m = TrainStep(step, lr);
        double seconds = sw.Elapsed.TotalSeconds;
        m = m with
        {
            Step = step + 1, Steps = Options.Steps, LearningRate = lr, Seconds = Math.Round(seconds, 4), Attempt = Attempt,
            Time = Math.Round(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0, 3),
        };
        if ((step + 1) % Options.EvalEvery == 0 || step + 1 == Options.Steps)
            if (Evaluate() is { } evalLoss) m = m with { EvalLoss = evalLoss };
        Metrics.Add(m);
        StepsDone = step + 1;
        OnStep?.Invoke(m);
        return m;
    }

    /// <summary>One optimizer step (or GRPO step); returns metrics with Loss and whatever else it measures.</summary>
    protected abstract StepMetrics TrainStep(int step, double lr);

    /// <summary>Held-out loss, when the trainer has held-out data.</summary>
    public virtual double? Evaluate() => null;

    protected double ClipAndNorm()
    {
        var ps = Optimizer.Parameters.Where(p => p.grad is not null).ToList();
        if (ps.Count == 0) return 0;
        if (Options.GradClip > 0) return torch.nn.utils.clip_grad_norm_(ps, Options.GradClip);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        return torch.stack(ps.Select(p => p.grad!.norm()).ToArray()).norm().item<float>();
    }

    public byte[] SaveState()
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, t) in Model.state_dict()) tensors[$"model.{name}"] = t.cpu();
        foreach (var (name, t) in Optimizer.State()) tensors[$"opt.{name}"] = t.cpu();
        var header = Encoding.UTF8.GetBytes(Json.Serialize(new TrainingStateHeader
        {
            StepsDone = StepsDone,
            OptimizerSteps = Optimizer.StepCount,
            Seed = Options.Seed,
            Steps = Options.Steps,
            Metrics = Metrics,
        }));
        using var body = new MemoryStream();
        Safetensors.SaveStateDict(body, tensors);
        using var ms = new MemoryStream();
        ms.Write(Encoding.ASCII.GetBytes(Magic));
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(len, header.Length);
        ms.Write(len);
        ms.Write(header);
        ms.Write(body.ToArray());
        return ms.ToArray();
    }

    /// <summary>Restores a checkpoint written by <see cref="SaveState"/>: weights, moments, step and metrics so far.</summary>
    public void LoadState(byte[] data)
    {
        if (data.Length < Magic.Length + 4 || Encoding.ASCII.GetString(data, 0, Magic.Length) != Magic)
            throw new InvalidDataException("not a MathV2 training checkpoint");
        int len = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(Magic.Length, 4));
        var header = Json.Deserialize<TrainingStateHeader>(Encoding.UTF8.GetString(data, Magic.Length + 4, len));
        if (header.Seed != Options.Seed || header.Steps != Options.Steps)
            throw new InvalidDataException($"training checkpoint was written with seed {header.Seed} / {header.Steps} steps, this run has seed {Options.Seed} / {Options.Steps} steps");
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        using var body = new MemoryStream(data, Magic.Length + 4 + len, data.Length - Magic.Length - 4 - len);
        var tensors = Safetensors.LoadStateDict(body);
        var modelState = Model.state_dict();
        foreach (var (name, t) in modelState)
        {
            if (!tensors.TryGetValue($"model.{name}", out var saved)) throw new InvalidDataException($"training checkpoint lacks {name}");
            t.copy_(saved);
        }
        Optimizer.Load(tensors.Where(kv => kv.Key.StartsWith("opt.")).ToDictionary(kv => kv.Key[4..], kv => kv.Value.to(Device)), header.OptimizerSteps);
        StepsDone = header.StepsDone;
        Metrics.Clear();
        Metrics.AddRange(header.Metrics);
    }

    public virtual void Dispose() => Optimizer.Dispose();

    sealed record TrainingStateHeader
    {
        public int StepsDone { get; init; }
        public long OptimizerSteps { get; init; }
        public long Seed { get; init; }
        public int Steps { get; init; }
        public List<StepMetrics> Metrics { get; init; } = [];
    }

    /// <summary>The n-th index drawn from [0, count): epochs are permutations seeded by (seed, purpose, epoch).</summary>
    protected int Shuffled(long n, int count, int purpose)
    {
        long epoch = n / count;
        if (_order.Epoch != epoch || _order.Purpose != purpose || _order.Order.Length != count)
        {
            var order = Enumerable.Range(0, count).ToArray();
            new Random((int)(Derive(Options.Seed, purpose, epoch) & int.MaxValue)).Shuffle(order);
            _order = (purpose, epoch, order);
        }
        return _order.Order[n % count];
    }

    (int Purpose, long Epoch, int[] Order) _order = (-1, -1, []);

    /// <summary>A seed for (seed, purpose, index) that does not depend on how many steps ran before in this process.</summary>
    protected static long Derive(long seed, int purpose, long index) =>
        (long)(((ulong)seed * 0x9E3779B97F4A7C15UL) ^ ((ulong)purpose * 0xBF58476D1CE4E5B9UL) ^ ((ulong)index * 0x94D049BB133111EBUL)) & long.MaxValue;
}
