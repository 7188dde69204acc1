using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Datasets;
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

/// <summary>
/// Which reward a grpo job uses. Kinds: suffix (toy: Value when the completion ends with Suffix), verifier-v1
/// (D_v rows, R_format·R_score), meta-verifier (D_mv rows), verifier-v2 (D_v rows, × the frozen MetaVerifier's score
/// of the analysis), generator (D_p rows, α·R_Y + β·R_Z with the frozen Verifier and, if given, MetaVerifier).
/// </summary>
public sealed record RewardSpec
{
    public const string Suffix = "suffix", VerifierV1 = "verifier-v1", MetaVerifierKind = "meta-verifier", VerifierV2 = "verifier-v2", Generator = "generator";
    public static readonly string[] Kinds = [Suffix, VerifierV1, MetaVerifierKind, VerifierV2, Generator];

    public string Kind { get; init; } = Suffix;
    /// <summary>suffix: the text a rewarded completion ends with.</summary>
    public string? Text { get; init; }
    public double Value { get; init; } = 1;
    /// <summary>Artifact id of the frozen verifier checkpoint (generator).</summary>
    public string? Verifier { get; init; }
    /// <summary>Artifact id of the frozen meta-verifier checkpoint (verifier-v2; optional for generator).</summary>
    public string? MetaVerifier { get; init; }
    public double Alpha { get; init; } = 0.76;
    public double Beta { get; init; } = 0.24;
    /// <summary>The prompt set of the policy's and the reward models' prompts: "standard" or "compact".</summary>
    public string Prompts { get; init; } = "standard";
    /// <summary>Tokens a frozen reward model may write per analysis.</summary>
    public int RewardMaxNewTokens { get; init; } = 256;

    public IEnumerable<(string Field, string Message)> Validate()
    {
        if (!Kinds.Contains(Kind)) yield return ("reward.kind", $"must be one of {string.Join(", ", Kinds)}");
        if (Kind == Suffix && string.IsNullOrEmpty(Text)) yield return ("reward.text", "is required for the suffix reward");
        if (Kind == VerifierV2 && MetaVerifier == null) yield return ("reward.metaVerifier", "is required for verifier-v2");
        if (Kind == Generator && Verifier == null) yield return ("reward.verifier", "is required for the generator reward");
        if (RewardMaxNewTokens < 1) yield return ("reward.rewardMaxNewTokens", "must be at least 1");
        if (Prompts is not ("standard" or "compact")) yield return ("reward.prompts", "must be standard or compact");
    }

    /// <summary>Builds the reward; loadModel turns an artifact id into a frozen checkpoint directory's model and tokenizer.</summary>
    public IRewardFunction Create(Func<string, (LlamaForCausalLM Model, ITokenizer Tok)> loadModel)
    {
        var errors = Validate().ToList();
        if (errors.Count > 0) throw new ArgumentException(string.Join("; ", errors.Select(e => $"{e.Field} {e.Message}")));
        var set = Core.Method.Prompts.Set(Prompts);
        RewardModel? Frozen(string? id) => id is null ? null : new RewardModel(loadModel(id), RewardMaxNewTokens, set);
        return Kind switch
        {
            Suffix => new SuffixReward(Text!, Value),
            VerifierV1 => new VerifierReward(null, set),
            MetaVerifierKind => new MetaVerifierReward(set),
            VerifierV2 => new VerifierReward(Frozen(MetaVerifier), set),
            _ => new GeneratorReward(Frozen(Verifier)!, Frozen(MetaVerifier), new GeneratorRewardOptions { Alpha = Alpha, Beta = Beta }, set),
        };
    }

    /// <summary>Reads the dataset this reward trains on (D_v, D_mv, D_p, or {"prompt": …} rows for suffix), rejecting bad rows by file and line.</summary>
    public IReadOnlyList<JsonElement> ReadRows(string text, string file) => Kind switch
    {
        Suffix => PromptRows.Read(text, file).Select(r => r.Row).ToList(),
        VerifierV1 or VerifierV2 => Jsonl.Read<GradedProofRow>(text, file).Rows.Select(r => JsonSerializer.SerializeToElement(r, Json.Options)).ToList(),
        MetaVerifierKind => Jsonl.Read<GradedAnalysisRow>(text, file).Rows.Select(r => JsonSerializer.SerializeToElement(r, Json.Options)).ToList(),
        _ => Jsonl.Read<ProblemRow>(text, file).Rows.Select(r => JsonSerializer.SerializeToElement(r, Json.Options)).ToList(),
    };

    internal static T Row<T>(JsonElement row) => row.Deserialize<T>(Json.Options) ?? throw new InvalidDataException("empty dataset row");
}

/// <summary>A frozen model that writes analyses (greedy) which the method's parsers score.</summary>
public sealed class RewardModel((LlamaForCausalLM Model, ITokenizer Tok) m, int maxNewTokens, PromptSet prompts) : IDisposable
{
    public IReadOnlyList<Sample> Generate(IReadOnlyList<string> prompts)
    {
        m.Model.eval();
        return Sampler.Generate(m.Model, m.Tok, prompts, new SamplingOptions { Temperature = 0, MaxNewTokens = maxNewTokens });
    }

    /// <summary>The parsed scores of analyses of (problem, proof), 0 where the output does not parse.</summary>
    public double[] Verify(IReadOnlyList<(string Problem, string Proof)> items) =>
        Generate(items.Select(i => Prompts.RenderVerification(i.Problem, i.Proof, prompts.Verification)).ToList())
            .Select(s => Parsers.Verification(s.Text, s.FinishReason) is { FormatOk: true, Score: { } v } ? v : 0).ToArray();

    /// <summary>The parsed meta-scores of (problem, proof, analysis), 0 where the output does not parse.</summary>
    public double[] Meta(IReadOnlyList<(string Problem, string Proof, string Analysis)> items) =>
        Generate(items.Select(i => Prompts.RenderMetaVerification(i.Problem, i.Proof, i.Analysis, prompts.MetaVerification)).ToList())
            .Select(s => Parsers.MetaVerification(s.Text, s.FinishReason) is { FormatOk: true, Score: { } v } ? v : 0).ToArray();

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

sealed class VerifierReward(RewardModel? meta, PromptSet prompts) : IRewardFunction
{
    public string Prompt(JsonElement row)
    {
        var r = RewardSpec.Row<GradedProofRow>(row);
        return Prompts.RenderVerification(r.Problem, r.Proof, prompts.Verification);
    }

    public double[] Score(IReadOnlyList<RewardInput> batch)
    {
        var rows = batch.Select(b => RewardSpec.Row<GradedProofRow>(b.Row)).ToList();
        var parses = batch.Select(b => Parsers.Verification(b.Completion, b.FinishReason)).ToList();
        var v1 = parses.Select((p, i) => Rewards.VerifierV1(p, rows[i].Score)).ToArray();
        if (meta is null) return v1;
        var metaScores = meta.Meta(MetaItems(rows, batch));
        return v1.Select((v, i) => v * metaScores[i]).ToArray();
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
        var r = RewardSpec.Row<GradedAnalysisRow>(row);
        return Prompts.RenderMetaVerification(r.Problem, r.Proof, r.Analysis, prompts.MetaVerification);
    }

    public double[] Score(IReadOnlyList<RewardInput> batch) =>
        batch.Select(b => Rewards.MetaVerifier(Parsers.MetaVerification(b.Completion, b.FinishReason), RewardSpec.Row<GradedAnalysisRow>(b.Row).Score)).ToArray();

    public void Dispose() { }
}

sealed class GeneratorReward(RewardModel verifier, RewardModel? meta, GeneratorRewardOptions options, PromptSet prompts) : IRewardFunction
{
    public string Prompt(JsonElement row) => Prompts.RenderGeneration(RewardSpec.Row<ProblemRow>(row).Problem, prompts.Generation);

    public double[] Score(IReadOnlyList<RewardInput> batch)
    {
        var problems = batch.Select(b => RewardSpec.Row<ProblemRow>(b.Row).Problem).ToList();
        var parses = batch.Select(b => Parsers.Generation(b.Completion, b.FinishReason)).ToList();
        var ok = Enumerable.Range(0, batch.Count).Where(i => parses[i].FormatOk).ToList();
        var rewards = new double[batch.Count];
        if (ok.Count == 0) return rewards;
        var ry = verifier.Verify(ok.Select(i => (problems[i], parses[i].Proof!)).ToList());
        var rm = meta?.Meta(ok.Select(i => (problems[i], parses[i].Proof!, parses[i].SelfEvaluation!)).ToList());
        for (int k = 0; k < ok.Count; k++)
            rewards[ok[k]] = Rewards.Generator(parses[ok[k]], ry[k], rm?[k] ?? 1, options);
        return rewards;
    }

    public void Dispose() { verifier.Dispose(); meta?.Dispose(); }
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
