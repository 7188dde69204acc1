using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Datasets;
using MathV2.Core.Jobs;
using MathV2.Core.Method;
using MathV2.Gpu.Worker.Model;
using MathV2.Gpu.Worker.Text;

namespace MathV2.Gpu.Worker.Training;

/// <summary>What a reward sees of one sample: the dataset row it came from, its prompt, its completion.</summary>
public sealed record RewardInput(JsonElement Row, string Prompt, string Completion, string FinishReason);

/// <summary>A GRPO reward: renders the policy's prompt for a dataset row and scores completions in batches.</summary>
public interface IRewardFunction : IDisposable
{
    string Prompt(JsonElement row);
    double[] Score(IReadOnlyList<RewardInput> batch);
}

/// <summary>The worker's side of a <see cref="RewardSpec"/>: the reward function it names and the rows it trains on.</summary>
public static class RewardSpecs
{
    /// <summary>Builds the reward; loadModel turns an artifact id into a frozen checkpoint directory's model and tokenizer.</summary>
    public static IRewardFunction Create(this RewardSpec spec, Func<string, (LlamaForCausalLM Model, ITokenizer Tok)> loadModel)
    {
        var errors = spec.Validate().ToList();
        if (errors.Count > 0) throw new ArgumentException(string.Join("; ", errors.Select(e => $"{e.Field} {e.Message}")));
        var set = spec.Prompts;
        RewardModel? Frozen(string? id) => id is null ? null : new RewardModel(loadModel(id), spec.RewardMaxNewTokens, set, spec.RewardSamples, spec.RewardTemperature);
        return spec.Kind switch
        {
            RewardSpec.Suffix => new SuffixReward(spec.Text!, spec.Value),
            RewardSpec.VerifierV1 => new VerifierReward(null, set),
            RewardSpec.MetaVerifierKind => new MetaVerifierReward(set),
            RewardSpec.VerifierV2 => new VerifierReward(Frozen(spec.MetaVerifier), set, spec.MaskUnreadableMeta),
            RewardSpec.Proof => new ProofReward(Frozen(spec.Verifier)!, set),
            _ => new GeneratorReward(Frozen(spec.Verifier)!, Frozen(spec.MetaVerifier), new GeneratorRewardOptions { Alpha = spec.Alpha, Beta = spec.Beta }, set),
        };
    }

    /// <summary>Reads the dataset this reward trains on (D_v, D_mv, D_p, or {"prompt": …} rows for suffix), rejecting bad rows by file and line.</summary>
    public static IReadOnlyList<JsonElement> ReadRows(this RewardSpec spec, string text, string file) => spec.Kind switch
    {
        RewardSpec.Suffix => PromptRows.Read(text, file).Select(r => r.Row).ToList(),
        RewardSpec.VerifierV1 or RewardSpec.VerifierV2 => Jsonl.Read<GradedProofRow>(text, file).Rows.Select(r => JsonSerializer.SerializeToElement(r, Json.Options)).ToList(),
        RewardSpec.MetaVerifierKind => Jsonl.Read<GradedAnalysisRow>(text, file).Rows.Select(r => JsonSerializer.SerializeToElement(r, Json.Options)).ToList(),
        _ => Jsonl.Read<ProblemRow>(text, file).Rows.Select(r => JsonSerializer.SerializeToElement(r, Json.Options)).ToList(),
    };

    internal static T Row<T>(JsonElement row) => row.Deserialize<T>(Json.Options) ?? throw new InvalidDataException("empty dataset row");
}

/// <summary>
/// A frozen model that writes analyses which the method's parsers score: one greedy analysis per item, or
/// <c>samples</c> analyses sampled at <c>temperature</c> whose parsable scores are averaged.
/// </summary>
public sealed class RewardModel((LlamaForCausalLM Model, ITokenizer Tok) m, int maxNewTokens, PromptSet prompts, int samples = 1, double temperature = 1.0) : IDisposable
{
    long _calls;

    public IReadOnlyList<Sample> Generate(IReadOnlyList<string> prompts)
    {
        m.Model.eval();
        return Sampler.Generate(m.Model, m.Tok, prompts, new SamplingOptions { Temperature = 0, MaxNewTokens = maxNewTokens });
    }

    /// <summary>The parsed scores of analyses of (problem, proof), null where the output does not parse.</summary>
    public double?[] Verify(IReadOnlyList<(string Problem, string Proof)> items) =>
        Scores(items.Select(i => Prompts.RenderVerification(i.Problem, i.Proof, prompts.Verification)).ToList(), Parsers.Verification);

    /// <summary>The parsed meta-scores of (problem, proof, analysis), null where the output does not parse.</summary>
    public double?[] Meta(IReadOnlyList<(string Problem, string Proof, string Analysis)> items) =>
        Scores(items.Select(i => Prompts.RenderMetaVerification(i.Problem, i.Proof, i.Analysis, prompts.MetaVerification)).ToList(), Parsers.MetaVerification);

    /// <summary>Each prompt's score: the greedy analysis's, or the mean of the sampled analyses that parse (null when none does).</summary>
    double?[] Scores(IReadOnlyList<string> texts, Func<string, string, AnalysisParse> parse)
    {
        if (samples == 1) return Generate(texts).Select(s => Mean([parse(s.Text, s.FinishReason)])).ToArray();
        m.Model.eval();
        // One batch of the items per sample (not items × samples at once: memory grows with the batch).
        var parses = texts.Select(_ => new List<AnalysisParse>()).ToList();
        for (int k = 0; k < samples; k++)
        {
            var outputs = Sampler.Generate(m.Model, m.Tok, texts, new SamplingOptions { Temperature = temperature, MaxNewTokens = maxNewTokens, Seed = 7_919 * ++_calls });
            for (int i = 0; i < texts.Count; i++) parses[i].Add(parse(outputs[i].Text, outputs[i].FinishReason));
        }
        return parses.Select(Mean).ToArray();
    }

    /// <summary>The mean score of the analyses that parse; null when none does (the reward is then masked).</summary>
    public static double? Mean(IEnumerable<AnalysisParse> analyses)
    {
        var scores = analyses.Where(a => a.FormatOk && a.Score.HasValue).Select(a => a.Score!.Value).ToList();
        return scores.Count == 0 ? null : scores.Average();
    }

    public void Dispose() => m.Model.Dispose();
}

sealed class SuffixReward(string suffix, double value) : IRewardFunction
{
    public string Prompt(JsonElement row) =>
        row.TryGetProperty("prompt", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : throw new InvalidDataException("suffix reward: row has no prompt");

    public double[] Score(IReadOnlyList<RewardInput> batch) =>
        batch.Select(b => b.Completion.TrimEnd().EndsWith(suffix, StringComparison.Ordinal) ? value : 0).ToArray();

    public void Dispose() { }
}

sealed class VerifierReward(RewardModel? meta, PromptSet prompts, bool maskUnreadableMeta = false) : IRewardFunction
{
    public string Prompt(JsonElement row)
    {
        var r = RewardSpecs.Row<GradedProofRow>(row);
        return Prompts.RenderVerification(r.Problem, r.Proof, prompts.Verification);
    }

    public double[] Score(IReadOnlyList<RewardInput> batch)
    {
        var rows = batch.Select(b => RewardSpecs.Row<GradedProofRow>(b.Row)).ToList();
        var parses = batch.Select(b => Parsers.Verification(b.Completion, b.FinishReason)).ToList();
        var v1 = parses.Select((p, i) => Rewards.VerifierV1(p, rows[i].Score)).ToArray();
        if (meta is null) return v1;
        var metaScores = meta.Meta(MetaItems(rows, batch));
        // An unreadable meta output: R_meta = 0, or masked with maskUnreadableMeta (docs/method.md, deviations).
        return v1.Select((v, i) => metaScores[i] is { } m ? v * m : maskUnreadableMeta ? Rewards.Masked : 0).ToArray();
    }

    /// <summary>
    /// What the frozen meta-verifier judges: each analysis as the policy wrote it (lead phrase, findings, boxed
    /// score), the form its meta-verification prompts were trained on, not the parser's inner text.
    /// </summary>
    internal static List<(string Problem, string Proof, string Analysis)> MetaItems(IReadOnlyList<GradedProofRow> rows, IReadOnlyList<RewardInput> batch) =>
        rows.Select((r, i) => (r.Problem, r.Proof, batch[i].Completion.Trim())).ToList();

    public void Dispose() => meta?.Dispose();
}

sealed class MetaVerifierReward(PromptSet prompts) : IRewardFunction
{
    public string Prompt(JsonElement row)
    {
        var r = RewardSpecs.Row<GradedAnalysisRow>(row);
        return Prompts.RenderMetaVerification(r.Problem, r.Proof, r.Analysis, prompts.MetaVerification);
    }

    public double[] Score(IReadOnlyList<RewardInput> batch) =>
        batch.Select(b => Rewards.MetaVerifier(Parsers.MetaVerification(b.Completion, b.FinishReason), RewardSpecs.Row<GradedAnalysisRow>(b.Row).Score)).ToArray();

    public void Dispose() { }
}

sealed class GeneratorReward(RewardModel verifier, RewardModel? meta, GeneratorRewardOptions options, PromptSet prompts) : IRewardFunction
{
    public string Prompt(JsonElement row) => Prompts.RenderGeneration(RewardSpecs.Row<ProblemRow>(row).Problem, prompts.Generation);

    public double[] Score(IReadOnlyList<RewardInput> batch)
    {
        var problems = batch.Select(b => RewardSpecs.Row<ProblemRow>(b.Row).Problem).ToList();
        var parses = batch.Select(b => Parsers.Generation(b.Completion, b.FinishReason)).ToList();
        var ok = Enumerable.Range(0, batch.Count).Where(i => parses[i].FormatOk).ToList();
        var rewards = new double[batch.Count];
        if (ok.Count == 0) return rewards;
        var ry = verifier.Verify(ok.Select(i => (problems[i], parses[i].Proof!)).ToList());
        var rm = meta?.Meta(ok.Select(i => (problems[i], parses[i].Proof!, parses[i].SelfEvaluation!)).ToList());
        // Without a meta-verifier R_meta is 1; an unparsable verifier or meta output masks the sample.
        for (int k = 0; k < ok.Count; k++)
            rewards[ok[k]] = Rewards.Generator(parses[ok[k]], ry[k], rm is null ? 1 : rm[k], options);
        return rewards;
    }

    public void Dispose() { verifier.Dispose(); meta?.Dispose(); }
}

/// <summary>The paper's phase 2 reward: R_Y alone, the frozen verifier's score of the proof (Rewards.Proof).</summary>
sealed class ProofReward(RewardModel verifier, PromptSet prompts) : IRewardFunction
{
    public string Prompt(JsonElement row) => Prompts.RenderGeneration(RewardSpecs.Row<ProblemRow>(row).Problem, prompts.Generation);

    public double[] Score(IReadOnlyList<RewardInput> batch)
    {
        var problems = batch.Select(b => RewardSpecs.Row<ProblemRow>(b.Row).Problem).ToList();
        var parses = batch.Select(b => Parsers.Generation(b.Completion, b.FinishReason)).ToList();
        var withProof = Enumerable.Range(0, batch.Count).Where(i => parses[i].Proof is { Length: > 0 }).ToList();
        var rewards = new double[batch.Count];
        var ry = withProof.Count == 0 ? [] : verifier.Verify(withProof.Select(i => (problems[i], parses[i].Proof!)).ToList());
        for (int k = 0; k < withProof.Count; k++) rewards[withProof[k]] = Rewards.Proof(parses[withProof[k]], ry[k]);
        return rewards;
    }

    public void Dispose() => verifier.Dispose();
}

/// <summary>Rows of {"prompt": "…", "id": "…"?, …}: the sample job's input and the suffix reward's dataset.</summary>
public static class PromptRows
{
    public static IReadOnlyList<(string Id, string Prompt, JsonElement Row)> Read(string text, string file)
    {
        var rows = new List<(string, string, JsonElement)>();
        var errors = new List<DatasetError>();
        foreach (var (lineNo, row, _) in Jsonl.Lines(text, file, errors))
        {
            if (row.ValueKind != JsonValueKind.Object || !row.TryGetProperty("prompt", out var p) || p.ValueKind != JsonValueKind.String || p.GetString()!.Length == 0)
            {
                errors.Add(new DatasetError(file, lineNo, "prompt", "is required (a non-empty string)"));
                continue;
            }
            string id = row.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString()! : $"{rows.Count}";
            rows.Add((id, p.GetString()!, row));
        }
        if (errors.Count > 0) throw new DatasetException(errors);
        if (rows.Count == 0) throw new DatasetException([new DatasetError(file, 0, "(file)", "has no rows")]);
        return rows;
    }
}
