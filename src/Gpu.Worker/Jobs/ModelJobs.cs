using System.Runtime.CompilerServices;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Datasets;
using MathV2.Core.Jobs;
using MathV2.Core.Models;
using MathV2.Gpu.Worker.Model;
using MathV2.Gpu.Worker.Text;
using MathV2.Gpu.Worker.Training;
using TorchSharp;

namespace MathV2.Gpu.Worker.Jobs;

/// <summary>Reading checkpoints and datasets from artifacts, writing checkpoints into the job's result.</summary>
public static class ModelArtifacts
{
    public const string MetricsFile = "metrics.jsonl";
    public const string TrainStateName = "train-state";

    public static torch.Device Device => torch.cuda.is_available() ? torch.CUDA : torch.CPU;

    static void RequireInput(GpuJobContext context, string artifact, string field)
    {
        if (string.IsNullOrEmpty(artifact)) throw new ArgumentException($"{context.Spec.Kind}: {field} is required");
        if (!context.Spec.Inputs.Contains(artifact))
            throw new ArgumentException($"{context.Spec.Kind}: {field} artifact '{artifact}' is not among the job's inputs (inputs are the result's lineage parents)");
    }

    public static async Task<string> ReadTextAsync(GpuJobContext context, ArtifactFileRef? file, string field, CancellationToken ct)
    {
        if (file is null) throw new ArgumentException($"{context.Spec.Kind}: {field} is required");
        RequireInput(context, file.Artifact, $"{field}.artifact");
        var m = await context.Artifacts.GetAsync(file.Artifact, ct) ?? throw new FileNotFoundException($"{field}: artifact {file.Artifact} does not exist");
        return Encoding.UTF8.GetString(await context.Artifacts.ReadFileAsync(m, file.File, ct));
    }

    /// <summary>A checkpoint artifact's config.json, read before its weights (for the job's memory plan).</summary>
    public static async Task<LlamaConfig> ConfigOfAsync(GpuJobContext context, string? artifact, string field, CancellationToken ct)
    {
        RequireInput(context, artifact ?? "", field);
        var m = await context.Artifacts.GetAsync(artifact!, ct) ?? throw new FileNotFoundException($"{field}: artifact {artifact} does not exist");
        return LlamaConfig.Parse(System.Text.Encoding.UTF8.GetString(await context.Artifacts.ReadFileAsync(m, CheckpointFiles.Config, ct)));
    }

    /// <summary>Bytes per weight the job's models will have: bf16 on CUDA when asked for, else fp32.</summary>
    public static int ElementBytes(TrainOptions? o) => o is { Bf16: true } && Device.type == DeviceType.CUDA ? 2 : 4;

    /// <summary>Downloads a checkpoint artifact (config, weights, tokenizer) and loads it onto the job's device.</summary>
    public static async Task<(LlamaForCausalLM Model, ITokenizer Tok)> LoadAsync(GpuJobContext context, string? artifact, string field, string workDir, CancellationToken ct)
    {
        RequireInput(context, artifact ?? "", field);
        var m = await context.Artifacts.GetAsync(artifact!, ct) ?? throw new FileNotFoundException($"{field}: artifact {artifact} does not exist");
        // One download per artifact and job: the policy and its KL reference are often the same checkpoint.
        string dir = Path.Combine(workDir, artifact!), done = Path.Combine(dir, ".downloaded");
        if (!File.Exists(done))
        {
            Directory.CreateDirectory(dir);
            foreach (var f in m.Files.Where(f => f.Path.EndsWith(".json") || f.Path.EndsWith(".safetensors")))
            {
                string path = Path.Combine(dir, f.Path);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                // Streamed and checked: a family's weight shards are several GiB each, more than one array holds.
                await context.Artifacts.DownloadFileAsync(m, f.Path, path, ct);
            }
            await File.WriteAllTextAsync(done, "", ct);
        }
        var tok = Tokenizers.Load(dir);
        if (context.Spec.ChatTemplate) tok = ChatPrompts.Wrap(tok, dir, field, context.Spec.ChatDate ?? DateTime.UtcNow.Date);
        var model = LlamaCheckpoint.Load(dir);
        if (model.Config.VocabSize < tok.VocabSize)
            throw new InvalidDataException($"{field}: the tokenizer has {tok.VocabSize} tokens, the model's vocab_size is {model.Config.VocabSize}");
        model.to(Device);
        return (model, tok);
    }

    /// <summary>
    /// A fresh model for the bootstrap: the config given, vocab from the tokenizer, weights from the seed. The "words"
    /// tokenizer is built from the training texts (prompts and completions of the demonstrations).
    /// </summary>
    public static (LlamaForCausalLM Model, ITokenizer Tok) Create(ModelInit init, IEnumerable<string>? trainingTexts = null)
    {
        ITokenizer tok = init.Tokenizer switch
        {
            "char" => CharTokenizer.Ascii(),
            "words" => WordTokenizer.Train(trainingTexts ?? []),
            _ => throw new ArgumentException($"init.tokenizer: '{init.Tokenizer}' is not supported (use \"char\" or \"words\", or start from a base checkpoint)"),
        };
        var config = init.Config ?? new LlamaConfig();
        var invalid = config.Validate().ToList();
        if (invalid.Count > 0) throw new ArgumentException("init.config: " + string.Join("; ", invalid.Select(e => $"{e.Field} {e.Message}")));
        config = config with { VocabSize = tok.VocabSize };
        torch.manual_seed(init.Seed);
        var model = new LlamaForCausalLM(config);
        model.to(Device);
        return (model, tok);
    }

    /// <summary>bf16 on CUDA when asked; fp32 otherwise.</summary>
    public static void ApplyPrecision(LlamaForCausalLM model, TrainOptions o, Action<string>? log = null)
    {
        if (!o.Bf16) return;
        if (Device.type == DeviceType.CUDA) model.to(torch.ScalarType.BFloat16);
        else log?.Invoke("bf16 asked for, but this worker has no CUDA device: training in fp32");
    }

    /// <summary>Writes config.json, weights and tokenizer.json into the job's result artifact.</summary>
    public static async Task AddCheckpointAsync(GpuJobContext context, LlamaForCausalLM model, ITokenizer tok, string workDir, CancellationToken ct)
    {
        string dir = Path.Combine(workDir, "out");
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        var files = LlamaCheckpoint.Save(model, dir, maxShardBytes: 2L << 30);
        foreach (string f in files)
        {
            await using var stream = File.OpenRead(Path.Combine(dir, f));
            await context.Output.AddStreamAsync(f, stream, ct);
        }
        if (tok is ChatPrompts chat) tok = chat.Inner;
        string tokJson = tok switch
        {
            CharTokenizer c => c.ToJson(),
            WordTokenizer w => w.ToJson(),
            BpeTokenizer b => b.Json,
            _ => throw new NotSupportedException($"cannot save a {tok.GetType().Name}"),
        };
        await context.Output.AddTextAsync(CharTokenizer.FileName, tokJson, ct);
        string? tokConfig = tok is BpeTokenizer b2 ? b2.ConfigJson : HfVocabularyJson.Config(model.Config.MaxPositions);
        if (tokConfig != null) await context.Output.AddTextAsync("tokenizer_config.json", tokConfig, ct);
    }

    public static string MetricsJsonl(IEnumerable<StepMetrics> metrics) =>
        string.Concat(metrics.Select(m => Json.Serialize(m) + "\n"));

    /// <summary>
    /// Runs a trainer as a job: progress into the heartbeat, checkpoints into the job's resume state, resumed from an
    /// earlier attempt's last one; then the trained checkpoint and metrics.jsonl go into the result.
    /// </summary>
    public static async Task<(int ResumedFrom, double Seconds)> TrainAsync(GpuJobContext context, Trainer trainer, ITokenizer tok, string workDir, CancellationToken ct)
    {
        trainer.Attempt = context.Attempt;
        trainer.OnCheckpoint = b => context.SaveResumeStateAsync(TrainStateName, b, ct);
        if (await context.LoadResumeStateAsync(TrainStateName, ct) is { } saved) trainer.LoadState(saved);
        // The live metrics start with the steps an earlier attempt did (resumed with its checkpoint).
        foreach (var m in trainer.Metrics) context.AppendMetrics(Json.Serialize(m));
        trainer.OnStep = m =>
        {
            context.ReportProgress(m.ToProgress());
            context.AppendMetrics(Json.Serialize(m));
        };
        int resumedFrom = trainer.StepsDone;
        var sw = Stopwatch.StartNew();
        await trainer.RunAsync(ct);
        double seconds = sw.Elapsed.TotalSeconds;
        await AddCheckpointAsync(context, trainer.Model, tok, workDir, ct);
        await context.Output.AddTextAsync(MetricsFile, MetricsJsonl(trainer.Metrics), ct);
        await context.Output.AddFileAsync(TensorBoardEvents.FileName(trainer.Metrics), TensorBoardEvents.Write(trainer.Metrics), ct);
        return (resumedFrom, seconds);
    }

    public static string WorkDir(GpuJobContext context)
    {
        string dir = Path.Combine(Path.GetTempPath(), "mathv2-jobs", $"{context.Spec.JobId}-{context.Attempt}");
        Directory.CreateDirectory(dir);
        return dir;
    }
}

/// <summary>The sft job: supervised fine-tuning from a checkpoint (or from scratch) on demonstrations.</summary>
public sealed class SftJob : IGpuJobHandler
{
    public string Kind => GpuJobKinds.Sft;

    public async Task<JsonElement?> RunAsync(GpuJobContext context, CancellationToken ct)
    {
        var p = context.GetParameters<SftJobParameters>();
        p.Options.ThrowIfInvalid("sft.options");
        if ((p.Base is null) == (p.Init is null)) throw new ArgumentException("sft: give exactly one of base (a checkpoint artifact) and init (a model from scratch)");
        string work = ModelArtifacts.WorkDir(context);
        try
        {
            string file = p.Dataset?.File ?? "";
            var rows = Jsonl.Read<DemonstrationRow>(await ModelArtifacts.ReadTextAsync(context, p.Dataset, "dataset", ct), file).Rows;
            IReadOnlyList<DemonstrationRow> train = rows, eval = [];
            if (p.Eval is not null) eval = Jsonl.Read<DemonstrationRow>(await ModelArtifacts.ReadTextAsync(context, p.Eval, "eval", ct), p.Eval.File).Rows;
            else if (p.EvalShare > 0)
            {
                train = rows.Where(r => !Splits.IsValidation(r.Prompt, p.EvalShare)).ToList();
                eval = rows.Where(r => Splits.IsValidation(r.Prompt, p.EvalShare)).ToList();
            }
            if (p.Base is not null) MemoryBudget.Check(context, MemoryPlan.Sft(await ModelArtifacts.ConfigOfAsync(context, p.Base, "base", ct), p.Options, ModelArtifacts.ElementBytes(p.Options)));
            var (model, tok) = p.Base is not null ? await ModelArtifacts.LoadAsync(context, p.Base, "base", work, ct) : ModelArtifacts.Create(p.Init!, train.SelectMany(r => new[] { r.Prompt, r.Completion }));
            if (p.Init is not null) MemoryBudget.Check(context, MemoryPlan.Sft(model.Config, p.Options, ModelArtifacts.ElementBytes(p.Options)));
            using var _ = model;
            ModelArtifacts.ApplyPrecision(model, p.Options, context.Log);
            using var trainer = new SftTrainer(model, tok, train.Select(r => new SftExample(r.Prompt, r.Completion, r.Kind)).ToList(),
                eval.Select(r => new SftExample(r.Prompt, r.Completion)).ToList(), p.Options);
            var (resumedFrom, seconds) = await ModelArtifacts.TrainAsync(context, trainer, tok, work, ct);
            var last = trainer.Metrics[^1];
            return JsonSerializer.SerializeToElement(new
            {
                steps = trainer.StepsDone, resumedFrom, trainExamples = train.Count, evalExamples = eval.Count,
                loss = last.Loss, evalLoss = trainer.Metrics.LastOrDefault(m => m.EvalLoss != null)?.EvalLoss,
                seconds = Math.Round(seconds, 2), device = ModelArtifacts.Device.type.ToString().ToLowerInvariant(),
            }, Json.Options);
        }
        finally { try { Directory.Delete(work, true); } catch (IOException) { } }
    }
}

/// <summary>The grpo job: GRPO of a policy checkpoint against a reward (rule-based or frozen reward models).</summary>
public sealed class GrpoJob : IGpuJobHandler
{
    public string Kind => GpuJobKinds.Grpo;

    public async Task<JsonElement?> RunAsync(GpuJobContext context, CancellationToken ct)
    {
        var p = context.GetParameters<GrpoJobParameters>();
        p.Options.ThrowIfInvalid("grpo.options");
        var rewardErrors = p.Reward.Validate().ToList();
        if (rewardErrors.Count > 0) throw new ArgumentException("grpo: " + string.Join("; ", rewardErrors.Select(e => $"{e.Field} {e.Message}")));
        string work = ModelArtifacts.WorkDir(context);
        try
        {
            var rows = p.Reward.ReadRows(await ModelArtifacts.ReadTextAsync(context, p.Dataset, "dataset", ct), p.Dataset!.File);
            // Frozen models, each loaded once: the reference (only with a KL term), and the reward models the reward
            // spec names; a reward model that is the reference's own checkpoint shares its copy.
            string? referenceId = p.Options.KlCoef > 0 ? p.Reference ?? p.Policy : null;
            var rewardIds = new[] { p.Reward.Verifier, p.Reward.MetaVerifier }.OfType<string>().Distinct().ToList();
            var rewardConfigs = new List<LlamaConfig>();
            foreach (string id in rewardIds.Where(id => id != referenceId)) rewardConfigs.Add(await ModelArtifacts.ConfigOfAsync(context, id, "reward model", ct));
            MemoryBudget.Check(context, MemoryPlan.Grpo(await ModelArtifacts.ConfigOfAsync(context, p.Policy, "policy", ct),
                referenceId is null ? null : await ModelArtifacts.ConfigOfAsync(context, referenceId, "reference", ct), rewardConfigs, p.Options, ModelArtifacts.ElementBytes(p.Options)));
            var (policy, tok) = await ModelArtifacts.LoadAsync(context, p.Policy, "policy", work, ct);
            using var _ = policy;
            ModelArtifacts.ApplyPrecision(policy, p.Options, context.Log);
            var frozen = new Dictionary<string, (Model.LlamaForCausalLM Model, ITokenizer Tok)>();
            var rewardOwnsModels = new StrongBox<bool>();
            try
            {
                if (referenceId is not null)
                {
                    var loaded = await ModelArtifacts.LoadAsync(context, referenceId, "reference", work, ct);
                    frozen[referenceId] = loaded;
                    // A copy shared with a reward model takes the policy's precision for both uses.
                    ModelArtifacts.ApplyPrecision(loaded.Model, p.Options);
                    loaded.Model.eval();
                }
                foreach (string id in rewardIds.Where(id => !frozen.ContainsKey(id)))
                {
                    var loaded = await ModelArtifacts.LoadAsync(context, id, "reward model", work, ct);
                    loaded.Model.eval();
                    frozen[id] = loaded;
                }
                if (referenceId is not null && rewardIds.Contains(referenceId)) context.Log($"grpo: the reference and the reward model {referenceId} share one frozen copy");
                if (referenceId is null) context.Log("grpo: klCoef 0, no reference model loaded");
                string referenceUse = referenceId is null ? "none (klCoef 0)" : rewardIds.Contains(referenceId) ? $"{referenceId}, shared with the reward model" : referenceId;
                return await TrainAsync(context, p, policy, tok, referenceId is null ? null : frozen[referenceId].Model, frozen, rows, rewardIds, referenceUse, rewardOwnsModels, work, ct);
            }
            finally
            {
                // Once the reward function holds its models it disposes them; everything else is disposed here.
                foreach (var (id, (model, _)) in frozen)
                    if (!rewardOwnsModels.Value || !rewardIds.Contains(id)) model.Dispose();
            }
        }
        finally { try { Directory.Delete(work, true); } catch (IOException) { } }
    }

    static async Task<JsonElement?> TrainAsync(GpuJobContext context, GrpoJobParameters p, Model.LlamaForCausalLM policy, ITokenizer tok, Model.LlamaForCausalLM? reference,
        Dictionary<string, (Model.LlamaForCausalLM Model, ITokenizer Tok)> frozen, IReadOnlyList<JsonElement> rows, IReadOnlyList<string> rewardIds, string referenceUse,
        StrongBox<bool> rewardOwnsModels, string work, CancellationToken ct)
    {
        {
            var reward = p.Reward.Create(id => frozen[id]);
            rewardOwnsModels.Value = true;
            GrpoTrainer created;
            try { created = new GrpoTrainer(policy, reference, tok, rows, reward, p.Options); }
            catch { reward.Dispose(); throw; }
            using var trainer = created;
            var (resumedFrom, seconds) = await ModelArtifacts.TrainAsync(context, trainer, tok, work, ct);
            var m = trainer.Metrics;
            return JsonSerializer.SerializeToElement(new
            {
                steps = trainer.StepsDone, resumedFrom, rows = rows.Count, reward = p.Reward.Kind, rewardModels = rewardIds, reference = referenceUse,
                firstMeanReward = m[0].MeanReward, lastMeanReward = m[^1].MeanReward, kl = m[^1].Kl,
                seconds = Math.Round(seconds, 2), device = ModelArtifacts.Device.type.ToString().ToLowerInvariant(),
            }, Json.Options);
        }
    }
}

/// <summary>The sample job: completions with per-token log-probs for a prompts JSONL, N per prompt, in batches.</summary>
public sealed class SampleJob : IGpuJobHandler
{
    public const string OutputFile = "completions.jsonl";

    public string Kind => GpuJobKinds.Sample;

    /// <summary>The sample indices a prompt row asks for: its "samples" (with streamsByPrompt), else 0..n-1.</summary>
    public static IReadOnlyList<int> SampleIndices((string Id, string Prompt, JsonElement Row) row, SampleJobParameters p)
    {
        if (!row.Row.TryGetProperty("samples", out var list)) return [.. Enumerable.Range(0, p.N)];
        if (!p.StreamsByPrompt)
            throw new ArgumentException($"sample: prompt '{row.Id}' lists its samples, which needs streamsByPrompt (a sample's stream keyed by its prompt and index)");
        if (list.ValueKind != JsonValueKind.Array || list.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.Number || !x.TryGetInt32(out int v) || v < 0))
            throw new ArgumentException($"sample: prompt '{row.Id}': samples must be an array of sample indices (integers from 0)");
        var indices = list.EnumerateArray().Select(x => x.GetInt32()).ToList();
        if (indices.Distinct().Count() != indices.Count) throw new ArgumentException($"sample: prompt '{row.Id}': samples lists an index twice");
        if (indices.Any(i => i >= p.N)) throw new ArgumentException($"sample: prompt '{row.Id}': samples must be below n ({p.N})");
        return indices;
    }

    public async Task<JsonElement?> RunAsync(GpuJobContext context, CancellationToken ct)
    {
        var p = context.GetParameters<SampleJobParameters>();
        if (p.N < 1) throw new ArgumentException("sample: n must be at least 1");
        if (p.BatchSize < 1) throw new ArgumentException("sample: batchSize must be at least 1");
        if (p.MaxNewTokens < 1) throw new ArgumentException("sample: maxNewTokens must be at least 1");
        if (p.MaxPrompts is < 0) throw new ArgumentException("sample: maxPrompts must not be negative");
        if (p.Shard is { } sh && (sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count)) throw new ArgumentException("sample: shard.index must be in [0, shard.count)");
        string work = ModelArtifacts.WorkDir(context);
        try
        {
            var rows = PromptRows.Read(await ModelArtifacts.ReadTextAsync(context, p.Prompts, "prompts", ct), p.Prompts!.File)
                .Take(p.MaxPrompts ?? int.MaxValue).Where((_, i) => p.Shard is not { } s || i % s.Count == s.Index).ToList();
            var items = rows.SelectMany(r => SampleIndices(r, p).Select(k => (r.Id, r.Prompt, Index: k))).ToList();
            var sampleConfig = await ModelArtifacts.ConfigOfAsync(context, p.Model, "model", ct);
            // Prompt tokens are bounded by their UTF-8 bytes (+ a start token, + a chat template's own text).
            long promptTokens = Math.Min(sampleConfig.MaxPositions, rows.Select(r => Encoding.UTF8.GetByteCount(r.Prompt)).DefaultIfEmpty(0).Max() + 1 + (context.Spec.ChatTemplate ? 256 : 0));
            MemoryBudget.Check(context, MemoryPlan.Sample(sampleConfig, Math.Min(p.BatchSize, Math.Max(1, items.Count)), promptTokens, p.MaxNewTokens, 4));
            var (model, tok) = await ModelArtifacts.LoadAsync(context, p.Model, "model", work, ct);
            using var _ = model;
            model.eval();
            var sb = new StringBuilder();
            var sw = Stopwatch.StartNew();
            long tokens = 0;
            int stopped = 0;
            // Continuous batching over all items: BatchSize rows decode at once, an ended row's slot takes the next
            // waiting item; each item's randomness is its own (seed, item index).
            int done = 0;
            long sampled = 0;
            var samples = Sampler.Generate(model, tok, items.Select(b => b.Prompt).ToList(), new SamplingOptions
            {
                MaxNewTokens = p.MaxNewTokens, Temperature = p.Temperature, TopP = p.TopP, StopStrings = p.StopStrings,
                // Shards of one sampling step draw from different streams (row indices restart in each shard).
                Seed = p.Shard is { } shard ? p.Seed * 1_000_003 + shard.Index : p.Seed, BatchSize = p.BatchSize,
                RowStreams = p.StreamsByPrompt ? items.Select(b => StableHash.Seed64("sample", p.Seed, b.Id, b.Index)).ToList() : null,
                OnRowDone = (_, n) =>
                {
                    ct.ThrowIfCancellationRequested();
                    sampled += n;
                    if (++done % p.BatchSize == 0 || done == items.Count)
                        context.ReportProgress(new GpuJobProgress { Done = done, Total = items.Count, TokensPerSecond = Math.Round(sampled / sw.Elapsed.TotalSeconds, 1) });
                },
            });
            for (int k = 0; k < items.Count; k++)
            {
                var s = samples[k];
                tokens += s.Tokens.Length;
                if (s.FinishReason == "stop") stopped++;
                sb.Append(Json.Serialize(new
                {
                    id = items[k].Id, index = items[k].Index, prompt = items[k].Prompt, completion = s.Text,
                    finishReason = s.FinishReason, tokens = s.Tokens.Length, logProbs = s.LogProbs.Select(x => Math.Round(x, 5)),
                })).Append('\n');
            }
            await context.Output.AddTextAsync(OutputFile, sb.ToString(), ct);
            return JsonSerializer.SerializeToElement(new
            {
                prompts = rows.Count, promptTokens = rows.Sum(r => tok.EncodePrompt(r.Prompt).Length), chatTemplate = tok is ChatPrompts,
                completions = items.Count, tokens, stopped, lengthLimited = items.Count - stopped,
                tokensPerSecond = Math.Round(tokens / sw.Elapsed.TotalSeconds, 1), seconds = Math.Round(sw.Elapsed.TotalSeconds, 2),
                device = ModelArtifacts.Device.type.ToString().ToLowerInvariant(),
            }, Json.Options);
        }
        finally { try { Directory.Delete(work, true); } catch (IOException) { } }
    }
}
