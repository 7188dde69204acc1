using MathV2.Core.Jobs;
using System.Diagnostics;
using System.Text.Json;
using MathV2.Core.Method;
using MathV2.Gpu.Worker.Model;
using MathV2.Gpu.Worker.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Training;

/// <summary>
/// GRPO (DeepSeekMath): per step, PromptsPerStep prompts × G sampled completions; rewards; advantages normalised
/// within each group; loss per token −min(ρA, clip(ρ, 1±ε)A) + β·k3(π, π_ref), ρ = π/π_sampling, averaged per
/// sequence, then over sequences. Batches of BatchSize sequences, GradAccum of them per optimizer update,
/// UpdatesPerStep passes.
/// </summary>
public sealed class GrpoTrainer : Trainer
{
    readonly LlamaForCausalLM? _ref;
    readonly ITokenizer _tok;
    readonly IRewardFunction _reward;
    readonly IReadOnlyList<JsonElement> _rows;
    readonly GrpoOptions _g;

    /// <param name="reference">π_ref of the KL term; null when klCoef is 0 (no KL term, none loaded).</param>
    public GrpoTrainer(LlamaForCausalLM policy, LlamaForCausalLM? reference, ITokenizer tok, IReadOnlyList<JsonElement> rows, IRewardFunction reward, GrpoOptions options)
        : base(policy, options)
    {
        if (rows.Count == 0) throw new ArgumentException("grpo: the dataset is empty");
        if (reference is null && options.KlCoef > 0) throw new ArgumentException("grpo: klCoef > 0 needs a reference model");
        (_ref, _tok, _reward, _rows, _g) = (reference, tok, reward, rows, options);
        if (_ref is null) return;
        foreach (var p in _ref.parameters()) p.requires_grad_(false);
        _ref.eval();
    }

    /// <summary>The samples of the last step (for inspection).</summary>
    public IReadOnlyList<Sample> LastSamples { get; private set; } = [];

    protected override StepMetrics TrainStep(int step, double lr)
    {
        var sw = Stopwatch.StartNew();
        var rows = Enumerable.Range(0, _g.PromptsPerStep).Select(k => _rows[Pick((long)step * _g.PromptsPerStep + k)]).ToList();
        var prompts = rows.Select(_reward.Prompt).ToList();
        var expanded = Enumerable.Range(0, rows.Count * _g.GroupSize).Select(i => i / _g.GroupSize).ToList();
        Model.eval();
        var samples = Sampler.Generate(Model, _tok, expanded.Select(i => prompts[i]).ToList(), new SamplingOptions
        {
            MaxNewTokens = _g.MaxNewTokens,
            Temperature = _g.Temperature,
            TopP = _g.TopP,
            StopStrings = _g.StopStrings,
            Seed = Derive(Options.Seed, 2, step),
        });
        Model.train();
        LastSamples = samples;
        var rewards = _reward.Score(expanded.Select((p, i) => new RewardInput(rows[p], prompts[p], samples[i].Text, samples[i].FinishReason)).ToList());
        var advantages = new double[rewards.Length];
        for (int p = 0; p < rows.Count; p++)
        {
            var adv = Rewards.GroupAdvantages(rewards.Skip(p * _g.GroupSize).Take(_g.GroupSize).ToList());
            adv.CopyTo(advantages, p * _g.GroupSize);
        }
        var seqs = expanded.Select((p, i) => (Prompt: _tok.EncodePrompt(prompts[p]), Completion: samples[i].EndedWithEos ? [.. samples[i].Tokens, _tok.EosId] : samples[i].Tokens)).ToList();

        // The sampling policy's and the reference's log-probs, per batch, computed once.
        var batches = new List<(TokenBatch Batch, Tensor Adv, Tensor Old, Tensor? Ref)>();
        using (torch.no_grad())
            for (int i = 0; i < seqs.Count; i += Options.BatchSize)
            {
                var idx = Enumerable.Range(i, Math.Min(Options.BatchSize, seqs.Count - i)).ToList();
                var batch = TokenBatch.Build(idx.Select(j => seqs[j]).ToList(), _tok, Options.MaxSeqLen, Device);
                var adv = torch.tensor(idx.Select(j => (float)advantages[j]).ToArray(), device: Device).unsqueeze(1);
                batches.Add((batch, adv, TokenLogProbs(Model, batch).detach(), _ref is null ? null : TokenLogProbs(_ref, batch).detach()));
            }
        double loss = 0, kl = 0, clipped = 0, norm = 0;
        long tokens = 0;
        int updates = 0;
        try
        {
            for (int u = 0; u < _g.UpdatesPerStep; u++)
                for (int start = 0; start < batches.Count; start += Options.GradAccum)
                {
                    var group = batches.Skip(start).Take(Options.GradAccum).ToList();
                    int seqInGroup = group.Sum(b => (int)b.Batch.Inputs.shape[0]);
                    Optimizer.ZeroGrad();
                    foreach (var (batch, adv, old, refLp) in group)
                    {
                        using var scope = torch.NewDisposeScope();
                        var mask = batch.Mask;
                        var l = Model.Backward(batch.Inputs, logits =>
                        {
                            var logp = LogProbs(logits, batch);
                            var ratio = (logp - old).exp();
                            var surrogate = torch.minimum(ratio * adv, ratio.clamp(1 - _g.Clip, 1 + _g.Clip) * adv);
                            var perToken = -surrogate;
                            if (refLp is not null)
                            {
                                var diff = refLp - logp;
                                var k3 = diff.exp() - diff - 1;
                                perToken = perToken + _g.KlCoef * k3;
                                kl += (k3 * mask).sum().item<float>();
                            }
                            var perSeq = (perToken * mask).sum(1) / mask.sum(1).clamp_min(1);
                            clipped += (((ratio - 1).abs() > _g.Clip).to_type(ScalarType.Float32) * mask).sum().item<float>();
                            return perSeq.sum() / seqInGroup;
                        }, Options.GradientCheckpointing);
                        loss += l.item<float>();
                        tokens += (long)mask.sum().item<float>();
                    }
                    norm += ClipAndNorm();
                    Optimizer.Step(lr);
                    updates++;
                }
        }
        finally
        {
            foreach (var (b, a, o, r) in batches) { b.Dispose(); a.Dispose(); o.Dispose(); r?.Dispose(); }
        }
        var scored = rewards.Where(r => !Rewards.IsMasked(r)).ToList();
        double mean = scored.Count == 0 ? 0 : scored.Average();
        double std = scored.Count == 0 ? 0 : Math.Sqrt(scored.Sum(r => (r - mean) * (r - mean)) / scored.Count);
        long generated = samples.Sum(s => s.Tokens.Length);
        return new StepMetrics
        {
            Step = step, Steps = Options.Steps, LearningRate = lr,
            Loss = loss / updates,
            GradNorm = norm / updates,
            MeanReward = mean,
            RewardStd = std,
            AdvantageStd = Math.Sqrt(Math.Max(0, advantages.Sum(a => a * a) / Math.Max(1, advantages.Length) - Math.Pow(advantages.Sum() / Math.Max(1, advantages.Length), 2))),
            Kl = _ref is null ? null : tokens == 0 ? 0 : kl / tokens,
            ClipFraction = tokens == 0 ? 0 : clipped / tokens,
            MaskedRewards = scored.Count < rewards.Length ? rewards.Length - scored.Count : null,
            TokensPerSecond = (generated + tokens) / sw.Elapsed.TotalSeconds,
        };
    }

    /// <summary>log π(target) per position (0 where the target is ignored), at the sampling temperature.</summary>
    Tensor TokenLogProbs(LlamaForCausalLM model, TokenBatch b)
    {
        using var scope = torch.NewDisposeScope();
        return LogProbs(model.Forward(b.Inputs), b).MoveToOuterDisposeScope();
    }

    Tensor LogProbs(Tensor logits, TokenBatch b)
    {
        logits = logits.to_type(ScalarType.Float32);
        if (_g.Temperature != 1) logits = logits / _g.Temperature;
        var targets = b.Targets.clamp_min(0).unsqueeze(-1);
        return logits.log_softmax(-1).gather(-1, targets).squeeze(-1) * b.Mask;
    }

    int Pick(long n) => Shuffled(n, _rows.Count, purpose: 3);

    public override void Dispose()
    {
        base.Dispose();
        _reward.Dispose();
    }
}
