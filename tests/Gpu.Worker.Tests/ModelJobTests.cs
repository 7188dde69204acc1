using System.Diagnostics;
using System.Text;
using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Datasets;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;
using MathV2.Gpu.Worker.Jobs;
using MathV2.Gpu.Worker.Text;
using MathV2.Tests;

namespace MathV2.Gpu.Worker.Tests;

/// <summary>The sft, sample and grpo job kinds on the job protocol, on a real Azurite; artifacts in, artifacts out.</summary>
[Trait("Category", "EndToEnd")]
public sealed class ModelJobTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    GpuJobClient Jobs => new(azurite.Storage);
    ArtifactStore Artifacts => new(azurite.Storage);

    static readonly object TinyConfig = new { hidden_size = 32, num_hidden_layers = 1, num_attention_heads = 4, num_key_value_heads = 2, intermediate_size = 64, max_position_embeddings = 128 };

    async Task<string> Dataset(string file, string text)
    {
        string id = $"ds-{Guid.NewGuid():N}"[..16];
        var w = Artifacts.Create(id, "dataset", StorageNames.DatasetsContainer, id, new ArtifactProducer { Job = "test" });
        await w.AddTextAsync(file, text);
        await w.CommitAsync();
        return id;
    }

    static string Demonstrations() => Jsonl.Write(Enumerable.Range(0, 40).Select(i => new DemonstrationRow
    {
        Kind = "demo", Prompt = $"{i % 10}+1=", Completion = $"{i % 10 + 1}!",
    }));

    static GpuJobSpec Spec(string kind, object parameters, params string[] inputs)
    {
        string id = $"{kind}-{Guid.NewGuid():N}"[..20];
        return new GpuJobSpec
        {
            JobId = id, Kind = kind, InstanceId = id, Inputs = inputs,
            Parameters = JsonSerializer.SerializeToElement(parameters, Json.Options),
            Limits = new GpuJobLimits { MaxAttempts = 2, HeartbeatStaleSeconds = 3 },
        };
    }

    async Task<GpuJobRecord> Run(GpuJobSpec spec, double? memoryGb = null)
    {
        await Jobs.SubmitAsync(spec);
        var options = new WorkerOptions { WorkerId = $"w-{spec.JobId}", LeaseSeconds = 5, HeartbeatSeconds = 0.2, MaxPollSeconds = 0.2, MemoryGb = memoryGb };
        using var stop = new CancellationTokenSource();
        var loop = new JobLoop(azurite.Storage, [new SftJob(), new SampleJob(), new GrpoJob(), new RefineJob()], options, "cpu").RunAsync(stop.Token);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(120);
            GpuJobRecord record;
            while ((record = (await Jobs.GetAsync(spec.JobId))!).Status is GpuJobStatus.Queued or GpuJobStatus.Running)
            {
                Assert.True(DateTime.UtcNow < deadline, $"job did not finish: {Json.Serialize(record)}");
                await Task.Delay(100);
            }
            return record;
        }
        finally
        {
            await stop.CancelAsync();
            await loop;
        }
    }

    async Task<string> Text(string artifact, string file)
    {
        var m = (await Artifacts.GetAsync(artifact))!;
        return Encoding.UTF8.GetString(await Artifacts.ReadFileAsync(m, file));
    }

    [Fact]
    public async Task Sft_from_scratch_then_sample_then_grpo_each_read_and_write_artifacts_with_lineage()
    {
        string data = await Dataset("demos.jsonl", Demonstrations());
        var sft = await Run(Spec(GpuJobKinds.Sft, new
        {
            init = new { config = TinyConfig, tokenizer = "char", seed = 1 },
            dataset = new { artifact = data, file = "demos.jsonl" },
            evalShare = 0.2,
            options = new { steps = 6, batchSize = 4, gradAccum = 2, checkpointEvery = 3, evalEvery = 3, learningRate = 3e-3, warmupSteps = 2 },
        }, data));
        Assert.True(sft.Status == GpuJobStatus.Succeeded, sft.Error);
        var model = (await Artifacts.GetAsync(sft.ResultArtifactId!))!;
        // The tokenizer in Hugging Face's files: tokenizer.json and tokenizer_config.json; the curves as metrics and TensorBoard events.
        Assert.Equal(new[] { "config.json", "events.out.tfevents", "metrics.jsonl", "model.safetensors", "tokenizer.json", "tokenizer_config.json" }.Order(),
            model.Files.Select(f => f.Path.StartsWith("events.out.tfevents.") ? "events.out.tfevents" : f.Path).Order());
        Assert.Equal([data], model.Parents);
        var metrics = (await Text(model.Id, "metrics.jsonl")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l)).ToList();
        Assert.Equal(Enumerable.Range(1, 6), metrics.Select(m => m.RootElement.GetProperty("step").GetInt32()));
        Assert.True(metrics[^1].RootElement.GetProperty("evalLoss").GetDouble() > 0);
        Assert.Equal(6, sft.Summary!.Value.GetProperty("steps").GetInt32());
        Assert.True(sft.Summary.Value.GetProperty("evalExamples").GetInt32() is > 0 and < 40);

        string prompts = await Dataset("prompts.jsonl", "{\"id\":\"p1\",\"prompt\":\"3+1=\"}\n{\"id\":\"p2\",\"prompt\":\"7+1=\"}\n");
        var sample = await Run(Spec(GpuJobKinds.Sample, new { model = model.Id, prompts = new { artifact = prompts, file = "prompts.jsonl" }, n = 3, batchSize = 4, maxNewTokens = 5, seed = 2 }, model.Id, prompts));
        Assert.True(sample.Status == GpuJobStatus.Succeeded, sample.Error);
        var lines = (await Text(sample.ResultArtifactId!, SampleJob.OutputFile)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["p1", "p1", "p1", "p2", "p2", "p2"], lines.Select(l => l.GetProperty("id").GetString()));
        Assert.Equal([0, 1, 2, 0, 1, 2], lines.Select(l => l.GetProperty("index").GetInt32()));
        Assert.All(lines, l =>
        {
            Assert.Equal(l.GetProperty("tokens").GetInt32(), l.GetProperty("logProbs").GetArrayLength());
            Assert.Contains(l.GetProperty("finishReason").GetString(), new[] { "stop", "length" });
            Assert.All(l.GetProperty("logProbs").EnumerateArray(), lp => Assert.True(lp.GetDouble() <= 0));
        });
        Assert.Equal([model.Id, prompts], (await Artifacts.GetAsync(sample.ResultArtifactId!))!.Parents);

        // Streams keyed by prompt and sample index: samples drawn in waves (a row's "samples"), in other batches, equal
        // those of one job drawing them all.
        async Task<Dictionary<(string, int), string>> Completions(string file, int batchSize, bool keyed = true)
        {
            var job = await Run(Spec(GpuJobKinds.Sample, new { model = model.Id, prompts = new { artifact = file, file = "prompts.jsonl" }, n = 4, batchSize, maxNewTokens = 6, seed = 5, streamsByPrompt = keyed }, model.Id, file));
            Assert.True(job.Status == GpuJobStatus.Succeeded, job.Error);
            return (await Text(job.ResultArtifactId!, SampleJob.OutputFile)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)
                .ToDictionary(l => (l.GetProperty("id").GetString()!, l.GetProperty("index").GetInt32()), l => l.GetProperty("completion").GetString()!);
        }
        var all = await Completions(prompts, batchSize: 3);
        Assert.Equal(8, all.Count);
        string wave = await Dataset("prompts.jsonl", "{\"id\":\"p2\",\"prompt\":\"7+1=\",\"samples\":[3,1]}\n{\"id\":\"p1\",\"prompt\":\"3+1=\",\"samples\":[2]}\n");
        var waved = await Completions(wave, batchSize: 1);
        Assert.Equal(3, waved.Count);
        Assert.All(waved, kv => Assert.Equal(all[kv.Key], kv.Value));
        var unkeyed = await Run(Spec(GpuJobKinds.Sample, new { model = model.Id, prompts = new { artifact = wave, file = "prompts.jsonl" }, n = 4, maxNewTokens = 2 }, model.Id, wave));
        Assert.Equal(GpuJobStatus.Failed, unkeyed.Status);
        Assert.Contains("streamsByPrompt", unkeyed.Error);

        string grpoData = await Dataset("rl.jsonl", "{\"prompt\":\"1+1=\"}\n{\"prompt\":\"2+1=\"}\n");
        var grpo = await Run(Spec(GpuJobKinds.Grpo, new
        {
            policy = model.Id, reward = new { kind = "suffix", text = "!" }, dataset = new { artifact = grpoData, file = "rl.jsonl" },
            options = new { steps = 3, groupSize = 4, promptsPerStep = 2, maxNewTokens = 4, batchSize = 8, checkpointEvery = 2, learningRate = 1e-3 },
        }, model.Id, grpoData));
        Assert.True(grpo.Status == GpuJobStatus.Succeeded, grpo.Error);
        var grpoMetrics = (await Text(grpo.ResultArtifactId!, "metrics.jsonl")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(3, grpoMetrics.Count);
        Assert.All(grpoMetrics, m => Assert.True(m.TryGetProperty("meanReward", out _) && m.TryGetProperty("kl", out _) && m.TryGetProperty("clipFraction", out _)));
        var lineage = (await Artifacts.GetLineageAsync(grpo.ResultArtifactId!))!;
        Assert.Equal(new[] { data, model.Id, grpoData }.Order(), lineage.Ancestors.Select(a => a.Id).Order());
        Assert.Equal(model.Id, grpo.Summary!.Value.GetProperty("reference").GetString());

        // Without a KL term no reference is loaded; with activation checkpointing and 8-bit moments it trains the same way.
        var lean = await Run(Spec(GpuJobKinds.Grpo, new
        {
            policy = model.Id, reward = new { kind = "suffix", text = "!" }, dataset = new { artifact = grpoData, file = "rl.jsonl" },
            options = new { steps = 2, groupSize = 4, promptsPerStep = 2, maxNewTokens = 4, batchSize = 8, learningRate = 1e-3, klCoef = 0, gradientCheckpointing = true, moments = "8bit" },
        }, model.Id, grpoData));
        Assert.True(lean.Status == GpuJobStatus.Succeeded, lean.Error);
        Assert.StartsWith("none", lean.Summary!.Value.GetProperty("reference").GetString());
        var leanMetrics = (await Text(lean.ResultArtifactId!, "metrics.jsonl")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(2, leanMetrics.Count);
        Assert.All(leanMetrics, m => Assert.False(m.TryGetProperty("kl", out _)));
    }

    [Fact]
    public async Task A_bootstrap_with_the_words_tokenizer_saves_the_vocabulary_of_its_demonstrations_and_samples_from_it()
    {
        string data = await Dataset("demos.jsonl", Demonstrations());
        var sft = await Run(Spec(GpuJobKinds.Sft, new
        {
            init = new { config = TinyConfig, tokenizer = "words", seed = 1 },
            dataset = new { artifact = data, file = "demos.jsonl" },
            evalShare = 0,
            options = new { steps = 2, batchSize = 4, checkpointEvery = 2, evalEvery = 2, learningRate = 3e-3, warmupSteps = 1 },
        }, data));
        Assert.True(sft.Status == GpuJobStatus.Succeeded, sft.Error);
        var tok = WordTokenizer.FromJson(await Text(sft.ResultArtifactId!, "tokenizer.json"));
        Assert.Contains("10", tok.Words);   // "10!" occurs 4 times in the demonstrations
        var config = JsonDocument.Parse(await Text(sft.ResultArtifactId!, "config.json")).RootElement;
        Assert.Equal(tok.VocabSize, config.GetProperty("vocab_size").GetInt32());

        string prompts = await Dataset("prompts.jsonl", "{\"id\":\"p1\",\"prompt\":\"3+1=\"}\n");
        var sample = await Run(Spec(GpuJobKinds.Sample, new { model = sft.ResultArtifactId, prompts = new { artifact = prompts, file = "prompts.jsonl" }, n = 2, maxNewTokens = 4, seed = 2 }, sft.ResultArtifactId!, prompts));
        Assert.True(sample.Status == GpuJobStatus.Succeeded, sample.Error);
        Assert.Equal(2, (await Text(sample.ResultArtifactId!, SampleJob.OutputFile)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        // A worker whose memory the job's plan exceeds refuses it before training, once (bad input: not retried).
        string promptsFile = await Dataset("prompts.jsonl", "{\"id\":\"p1\",\"prompt\":\"3+1=\"}\n");
        var tooBig = await Run(Spec(GpuJobKinds.Sample, new { model = sft.ResultArtifactId, prompts = new { artifact = promptsFile, file = "prompts.jsonl" }, n = 64, batchSize = 64, maxNewTokens = 500 },
            sft.ResultArtifactId!, promptsFile), memoryGb: 0.001);
        Assert.Equal(GpuJobStatus.Failed, tooBig.Status);
        Assert.Single(tooBig.Attempts);
        Assert.Contains("sample: the job needs about", tooBig.Error);
        Assert.Contains("KV cache", tooBig.Error);
        Assert.Contains("more than the 0.001 GB of MATHV2_WORKER_MEMORY_GB=0.001", tooBig.Error);
        var fits = await Run(Spec(GpuJobKinds.Sample, new { model = sft.ResultArtifactId, prompts = new { artifact = promptsFile, file = "prompts.jsonl" }, maxNewTokens = 2 },
            sft.ResultArtifactId!, promptsFile), memoryGb: 1);
        Assert.True(fits.Status == GpuJobStatus.Succeeded, fits.Error);

        var bad = await Run(Spec(GpuJobKinds.Sft, new { init = new { config = TinyConfig, tokenizer = "bytes" }, dataset = new { artifact = data, file = "demos.jsonl" } }, data));
        Assert.Equal(GpuJobStatus.Failed, bad.Status);
        Assert.Contains("init.tokenizer: 'bytes' is not supported", bad.Error);
    }

    [Fact]
    public async Task With_the_chat_template_the_prompts_are_one_user_turn_of_the_checkpoints_template()
    {
        string data = await Dataset("demos.jsonl", Demonstrations());
        var sft = await Run(Spec(GpuJobKinds.Sft, new
        {
            init = new { config = TinyConfig, tokenizer = "words", seed = 1 },
            dataset = new { artifact = data, file = "demos.jsonl" },
            evalShare = 0,
            options = new { steps = 1, batchSize = 4, checkpointEvery = 1, evalEvery = 1, learningRate = 3e-3, warmupSteps = 1 },
        }, data));
        Assert.True(sft.Status == GpuJobStatus.Succeeded, sft.Error);
        string prompts = await Dataset("prompts.jsonl", "{\"id\":\"p1\",\"prompt\":\"3+1=\"}\n{\"id\":\"p2\",\"prompt\":\"4+1=\"}\n");
        object SampleOf(string model) => new { model, prompts = new { artifact = prompts, file = "prompts.jsonl" }, maxNewTokens = 2, seed = 2 };

        // The demo's checkpoint has no chat template: asked for one, the job says so.
        var refused = await Run(Spec(GpuJobKinds.Sample, SampleOf(sft.ResultArtifactId!), sft.ResultArtifactId!, prompts) with { ChatTemplate = true });
        Assert.Equal(GpuJobStatus.Failed, refused.Status);
        Assert.Contains("model: the lap asks for the chat template (chatTemplate: true), but the checkpoint's tokenizer_config.json has no chat_template", refused.Error);

        // The same checkpoint with a template in its tokenizer_config.json.
        const string template = "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}";
        var m = (await Artifacts.GetAsync(sft.ResultArtifactId!))!;
        string chatId = $"chat-{Guid.NewGuid():N}"[..17];
        var w = Artifacts.Create(chatId, "checkpoint", StorageNames.CheckpointsContainer, chatId, new ArtifactProducer { Job = "test" });
        foreach (var f in m.Files)
        {
            var bytes = await Artifacts.ReadFileAsync(m, f.Path);
            if (f.Path == "tokenizer_config.json")
            {
                var cfg = System.Text.Json.Nodes.JsonNode.Parse(bytes)!.AsObject();
                cfg["chat_template"] = template;
                await w.AddTextAsync(f.Path, cfg.ToJsonString());
            }
            else await w.AddFileAsync(f.Path, bytes);
        }
        await w.CommitAsync();
        var plain = await Run(Spec(GpuJobKinds.Sample, SampleOf(chatId), chatId, prompts));
        var chat = await Run(Spec(GpuJobKinds.Sample, SampleOf(chatId), chatId, prompts) with { ChatTemplate = true });
        Assert.True(plain.Status == GpuJobStatus.Succeeded && chat.Status == GpuJobStatus.Succeeded, plain.Error + chat.Error);
        ITokenizer tok = WordTokenizer.FromJson(await Text(chatId, "tokenizer.json"));
        var rendered = Core.Models.ChatTemplate.Create(template, new Dictionary<string, object?> { ["bos_token"] = "<bos>" });
        int PromptTokens(GpuJobRecord r) => r.Summary!.Value.GetProperty("promptTokens").GetInt32();
        Assert.Equal(tok.EncodePrompt("3+1=").Length + tok.EncodePrompt("4+1=").Length, PromptTokens(plain));
        Assert.Equal(1 + tok.Encode("3+1=").Length, tok.EncodePrompt("3+1=").Length);
        Assert.Equal(tok.Encode(rendered.RenderPrompt("3+1=")).Length + tok.Encode(rendered.RenderPrompt("4+1=")).Length, PromptTokens(chat));
        Assert.True(chat.Summary!.Value.GetProperty("chatTemplate").GetBoolean());
        Assert.False(plain.Summary!.Value.GetProperty("chatTemplate").GetBoolean());
    }

    /// <summary>
    /// A model taught to score its drafts 0 and its refinements 1: the refine job drafts, sees self-score 0, refines
    /// with the refinement prompt, sees 1 and stops; every attempt is in refinements.jsonl.
    /// </summary>
    [Fact]
    public async Task Refine_drafts_then_revises_until_the_self_score_is_1_or_the_cap()
    {
        var set = Core.Method.Prompts.Compact;
        var problems = Enumerable.Range(0, 6).Select(i => Core.Demo.ArithmeticDomain.Problem(9, i, 1)).ToList();
        static string Analysis(double score) => Core.Demo.Oracle.WriteAnalysis(score >= 1 ? [] : [new Core.Demo.Defect(1, Core.Demo.ProofDefect.FalseStep)]);
        static string Answer(double score) => $"## Solution\nok\n## Self Evaluation\n{Analysis(score)}";
        var demos = problems.SelectMany(p => new[]
        {
            new DemonstrationRow { Kind = "generation", Prompt = Core.Method.Prompts.RenderGeneration(p.Statement, set.Generation), Completion = Answer(0) },
            new DemonstrationRow { Kind = "refinement", Prompt = Core.Method.Prompts.RenderRefinement(p.Statement, [("ok", Analysis(0), 0)], set), Completion = Answer(1) },
        });
        string data = await Dataset("demos.jsonl", Jsonl.Write(demos));
        var sft = await Run(Spec(GpuJobKinds.Sft, new
        {
            init = new { config = new { hidden_size = 64, num_hidden_layers = 1, num_attention_heads = 4, num_key_value_heads = 2, intermediate_size = 128, max_position_embeddings = 1024 }, seed = 1 },
            dataset = new { artifact = data, file = "demos.jsonl" }, evalShare = 0,
            options = new { steps = 150, batchSize = 6, learningRate = 6e-3, warmupSteps = 10, maxSeqLen = 1024, checkpointEvery = 1000 },
        }, data));
        Assert.True(sft.Status == GpuJobStatus.Succeeded, sft.Error);
        string rows = await Dataset("problems.jsonl", Jsonl.Write(problems.Take(3).Select(p => new ProblemRow { Id = p.Id, Problem = p.Statement })));
        var refine = await Run(Spec(GpuJobKinds.Refine, new
        {
            model = sft.ResultArtifactId, problems = new { artifact = rows, file = "problems.jsonl" }, maxIterations = 3, samples = 2, maxNewTokens = 300, temperature = 0, prompts = "compact",
        }, sft.ResultArtifactId!, rows));
        Assert.True(refine.Status == GpuJobStatus.Succeeded, refine.Error);
        var records = (await Text(refine.ResultArtifactId!, Core.Laps.LapFiles.Refinements)).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => Json.Deserialize<Core.Laps.RefinementRecord>(l)).ToList();
        // Two trajectories per problem: the three problems' first, then their second.
        Assert.Equal(problems.Take(3).Concat(problems.Take(3)).Select(p => p.Id), records.Select(r => r.Id));
        Assert.Equal([0, 0, 0, 1, 1, 1], records.Select(r => r.Sample));
        Assert.All(records, r =>
        {
            Assert.Equal([1, 2], r.Attempts.Select(a => a.Iteration));
            Assert.Equal([0.0, 1.0], r.Attempts.Select(a => a.SelfScore ?? -1));
        });
        Assert.Equal(2.0, refine.Summary!.Value.GetProperty("meanIterations").GetDouble());
        Assert.Equal(6, refine.Summary.Value.GetProperty("selfAccepted").GetInt32());
        Assert.Equal(6, refine.Summary.Value.GetProperty("trajectories").GetInt32());
        // Each trajectory's answer as a sample job's completion (what phase 1A labels when it refines its drafts).
        var answers = Core.Laps.SampleCompletion.Read(await Text(refine.ResultArtifactId!, Core.Laps.LapFiles.Completions));
        Assert.Equal(records.Select(r => (r.Id, r.Sample, r.Attempts[^1].Completion)), answers.Select(a => (a.Id, a.Index, a.Completion)));

        var refused = await Run(Spec(GpuJobKinds.Refine, new
        {
            model = sft.ResultArtifactId, problems = new { artifact = rows, file = "problems.jsonl" }, maxIterations = 1, maxNewTokens = 300, temperature = 0, prompts = "compact",
        }, sft.ResultArtifactId!, rows), memoryGb: 0.0001);
        Assert.Equal(GpuJobStatus.Failed, refused.Status);
        Assert.Contains("refine: the job needs about", refused.Error);

        var capped = await Run(Spec(GpuJobKinds.Refine, new
        {
            model = sft.ResultArtifactId, problems = new { artifact = rows, file = "problems.jsonl" }, maxIterations = 1, maxNewTokens = 300, temperature = 0, prompts = "compact",
        }, sft.ResultArtifactId!, rows));
        Assert.Equal(0, capped.Summary!.Value.GetProperty("selfAccepted").GetInt32());
        Assert.Equal(1.0, capped.Summary.Value.GetProperty("meanIterations").GetDouble());
    }

    [Fact]
    public async Task Bad_inputs_fail_the_job_naming_the_file_line_or_field()
    {
        string data = await Dataset("demos.jsonl", Demonstrations() + "{\"kind\":\"demo\",\"prompt\":\"x\"}\n");
        var bad = await Run(Spec(GpuJobKinds.Sft, new { init = new { config = TinyConfig }, dataset = new { artifact = data, file = "demos.jsonl" }, options = new { steps = 1 } }, data));
        Assert.Equal(GpuJobStatus.Failed, bad.Status);
        Assert.Contains("demos.jsonl:41: completion", bad.Error);
        Assert.Contains("not retried", bad.Error);
        Assert.Single(bad.Attempts);

        var notInput = await Run(Spec(GpuJobKinds.Sft, new { init = new { config = TinyConfig }, dataset = new { artifact = data, file = "demos.jsonl" } }));
        Assert.Contains("is not among the job's inputs", notInput.Error);

        var options = await Run(Spec(GpuJobKinds.Grpo, new { policy = "x", options = new { groupSize = 1 }, reward = new { kind = "suffix", text = "!" } }, "x"));
        Assert.Contains("groupSize must be between 2", options.Error);

        // A field the worker does not know fails the job as bad input, never trains on defaults.
        var typo = await Run(Spec(GpuJobKinds.Grpo, new { policy = "x", options = new { learningRat = 1e-4 }, reward = new { kind = "suffix", text = "!" } }, "x"));
        Assert.Equal(GpuJobStatus.Failed, typo.Status);
        Assert.Contains("learningRat", typo.Error);
        Assert.Single(typo.Attempts);

        // A dataset file changed behind MathV2's back (here: truncated) is caught by its sha256, never trained on.
        string good = await Dataset("demos.jsonl", Demonstrations());
        var m = (await Artifacts.GetAsync(good))!;
        string text = Demonstrations();
        await azurite.Storage.Container(m.Container).GetBlobClient($"{m.Prefix}/demos.jsonl").UploadAsync(BinaryData.FromString(text[..(text.Length / 2)]), overwrite: true);
        var changed = await Run(Spec(GpuJobKinds.Sft, new { init = new { config = TinyConfig }, dataset = new { artifact = good, file = "demos.jsonl" }, options = new { steps = 1 } }, good));
        Assert.Equal(GpuJobStatus.Failed, changed.Status);
        Assert.Contains($"artifact {good} file demos.jsonl: sha256 mismatch", changed.Error);
        Assert.Contains("not retried", changed.Error);
        Assert.Single(changed.Attempts);
    }

    [Fact]
    public async Task A_killed_grpo_worker_process_resumes_from_its_checkpoint_in_the_next_attempt_and_finishes()
    {
        // A model to start from (in-process), then the grpo job in a real worker process that is killed mid-run.
        string data = await Dataset("demos.jsonl", Demonstrations());
        var sft = await Run(Spec(GpuJobKinds.Sft, new { init = new { config = TinyConfig, seed = 3 }, dataset = new { artifact = data, file = "demos.jsonl" }, options = new { steps = 2, batchSize = 4 } }, data));
        string rl = await Dataset("rl.jsonl", "{\"prompt\":\"1+1=\"}\n{\"prompt\":\"2+1=\"}\n{\"prompt\":\"3+1=\"}\n");
        const int steps = 120, every = 4;
        var spec = Spec(GpuJobKinds.Grpo, new
        {
            policy = sft.ResultArtifactId, reward = new { kind = "suffix", text = "!" }, dataset = new { artifact = rl, file = "rl.jsonl" },
            options = new { steps, groupSize = 4, promptsPerStep = 2, maxNewTokens = 6, batchSize = 8, checkpointEvery = every, learningRate = 1e-3, seed = 9 },
        }, sft.ResultArtifactId!, rl);
        await Jobs.SubmitAsync(spec);

        using var first = StartWorker("kill-1");
        try
        {
            // Killed after its second training checkpoint, somewhere in the steps that follow it.
            await Until(async () => ((await Jobs.GetAsync(spec.JobId))!.Progress?.Step >= 2 * every + 1), 120, "no progress past the second checkpoint");
        }
        finally { first.Kill(entireProcessTree: true); await first.WaitForExitAsync(); }
        var killedAt = (await Jobs.GetAsync(spec.JobId))!;
        Assert.Equal(GpuJobStatus.Running, killedAt.Status);
        // Heartbeats lag the training loop, so the kill may land a little after the last progress seen.
        int lastSeen = killedAt.Progress!.Step!.Value;
        Assert.True(lastSeen < steps, "the job finished before it was killed; make it longer");

        // What RunGpuJob does when the heartbeat goes stale: requeue (one attempt used).
        await Until(async () => (await Jobs.RequeueIfStaleAsync(spec.JobId))!.Status == GpuJobStatus.Queued, 30, "the heartbeat never went stale");
        using var second = StartWorker("kill-2");
        try
        {
            await Until(async () => (await Jobs.GetAsync(spec.JobId))!.Status is GpuJobStatus.Succeeded or GpuJobStatus.Failed, 180, "the second attempt did not finish");
        }
        finally { second.Kill(entireProcessTree: true); await second.WaitForExitAsync(); }

        var done = (await Jobs.GetAsync(spec.JobId))!;
        Assert.True(done.Status == GpuJobStatus.Succeeded, done.Error);
        Assert.Equal(["lost", "succeeded"], done.Attempts.Select(a => a.State));
        int resumedFrom = done.Summary!.Value.GetProperty("resumedFrom").GetInt32();
        Assert.True(resumedFrom >= 2 * every && resumedFrom % every == 0 && resumedFrom < steps, $"resumed from step {resumedFrom}, last seen {lastSeen}");
        var metrics = (await Text(done.ResultArtifactId!, "metrics.jsonl")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(Enumerable.Range(1, steps), metrics.Select(m => m.GetProperty("step").GetInt32()));
        Assert.Equal(Enumerable.Range(1, steps).Select(s => s <= resumedFrom ? 1 : 2), metrics.Select(m => m.GetProperty("attempt").GetInt32()));
        Assert.False(await Artifacts.HasManifestAsync(StorageNames.JobsContainer, $"{spec.JobId}/attempt-1"));
    }

    Process StartWorker(string id)
    {
        string dll = Path.Combine(Repo.Root, "src", "Gpu.Worker", "bin", Repo.Configuration, "net10.0", "MathV2.Gpu.Worker.dll");
        var psi = new ProcessStartInfo("dotnet", [dll]) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["MATHV2_STORAGE"] = azurite.ConnectionString;
        psi.Environment["MATHV2_WORKER_ID"] = id;
        psi.Environment["MATHV2_WORKER_LEASE_S"] = "5";
        psi.Environment["MATHV2_WORKER_HEARTBEAT_S"] = "0.5";
        psi.Environment["MATHV2_WORKER_MAX_POLL_S"] = "0.3";
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    static async Task Until(Func<Task<bool>> condition, int seconds, string message)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, message);
            await Task.Delay(100);
        }
    }
}
