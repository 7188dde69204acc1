using System.Text.Json;
using System.Text.Json.Serialization;

namespace MathV2.Core.Models;

/// <summary>
/// A Llama-family configuration, read from and written as a Hugging Face config.json: model_type "llama" (with an
/// explicit head_dim and llama3 rope scaling, as Llama 3.x ships them), "qwen2" (q/k/v biases) or "qwen3" (q/k
/// norms, head_dim). A field the worker does not implement is refused by <see cref="Validate"/> with its name,
/// never ignored: another rope type, sliding windows, experts, another activation, quantization, unknown fields.
/// </summary>
public sealed record LlamaConfig
{
    public const string Llama = "llama", Qwen2 = "qwen2", Qwen3 = "qwen3";

    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; } = 64;
    [JsonPropertyName("num_hidden_layers")] public int Layers { get; init; } = 2;
    [JsonPropertyName("num_attention_heads")] public int Heads { get; init; } = 4;
    [JsonPropertyName("num_key_value_heads")] public int? KvHeadsOrNull { get; init; }
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; } = 128;
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10000;
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-6;
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 128;
    [JsonPropertyName("max_position_embeddings")] public int MaxPositions { get; init; } = 512;
    [JsonPropertyName("tie_word_embeddings")] public bool TieEmbeddings { get; init; }
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = Llama;
    [JsonPropertyName("architectures")] public string[] Architectures { get; init; } = ["LlamaForCausalLM"];
    /// <summary>Explicit per-head size (Qwen3, Llama 3.2); hidden_size / num_attention_heads when left out.</summary>
    [JsonPropertyName("head_dim"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? HeadDimOrNull { get; init; }
    [JsonPropertyName("rope_scaling"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public RopeScaling? RopeScaling { get; init; }

    /// <summary>Fields this record does not map: accepted when they leave the computation alone (<see cref="Harmless"/>), refused otherwise.</summary>
    /// <summary>The dtype config.json gives the weights (torch_dtype, or dtype in newer files): "bfloat16", "float16", "float32", or null.</summary>
    [JsonIgnore]
    public string? WeightsDtype => Other is { } o && (o.TryGetValue("torch_dtype", out var d) || o.TryGetValue("dtype", out d)) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;

    [JsonExtensionData] public Dictionary<string, JsonElement>? Other { get; init; }

    [JsonIgnore] public int KvHeads => KvHeadsOrNull ?? Heads;
    [JsonIgnore] public int HeadDim => HeadDimOrNull ?? (Heads > 0 ? HiddenSize / Heads : 0);
    /// <summary>Qwen2's q/k/v projections have biases.</summary>
    [JsonIgnore] public bool QkvBias => ModelType == Qwen2;
    /// <summary>Qwen3 normalizes each head's queries and keys (RMSNorm over head_dim) before the rotary embedding.</summary>
    [JsonIgnore] public bool QkNorm => ModelType == Qwen3;

    /// <summary>The fields this record maps (their config.json names).</summary>
    static readonly string[] Fields = typeof(LlamaConfig).GetProperties()
        .Select(p => p.GetCustomAttributes(typeof(JsonPropertyNameAttribute), false).OfType<JsonPropertyNameAttribute>().FirstOrDefault()?.Name)
        .OfType<string>().ToArray();

    /// <summary>
    /// Fields of the families' config.json files that leave the forward pass and training alone (ids, dtypes,
    /// bookkeeping), each with the values that do (null: any).
    /// </summary>
    static readonly Dictionary<string, Func<JsonElement, bool>?> Harmless = new()
    {
        ["bos_token_id"] = null, ["eos_token_id"] = null, ["pad_token_id"] = null, ["torch_dtype"] = null, ["dtype"] = null,
        ["transformers_version"] = null, ["initializer_range"] = null, ["use_cache"] = null, ["_name_or_path"] = null,
        ["max_window_layers"] = null, ["sliding_window"] = null,
        ["attention_dropout"] = v => v.ValueKind == JsonValueKind.Number && v.GetDouble() == 0,
        ["pretraining_tp"] = v => v.ValueKind == JsonValueKind.Number && v.GetDouble() == 1,
        ["hidden_act"] = v => v.ValueKind == JsonValueKind.String && v.GetString() == "silu",
        ["mlp_bias"] = v => v.ValueKind == JsonValueKind.False,
        ["attention_bias"] = v => v.ValueKind == JsonValueKind.False,
        ["use_sliding_window"] = v => v.ValueKind == JsonValueKind.False,
        ["layer_types"] = v => v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(t => t.ValueKind == JsonValueKind.String && t.GetString() == "full_attention"),
    };

    static readonly JsonSerializerOptions Options = ReadOnly(new() { WriteIndented = true });

    static JsonSerializerOptions ReadOnly(JsonSerializerOptions o) { o.MakeReadOnly(populateMissingResolver: true); return o; }

    public static LlamaConfig Parse(string json)
    {
        var c = JsonSerializer.Deserialize<LlamaConfig>(json, Options) ?? throw new JsonException("config.json is empty");
        var errors = c.Validate().ToList();
        if (errors.Count > 0) throw new ArgumentException("config.json: " + string.Join("; ", errors.Select(e => $"{e.Field} {e.Message}")));
        return c;
    }

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    public IEnumerable<(string Field, string Message)> Validate()
    {
        if (ModelType is not (Llama or Qwen2 or Qwen3)) yield return ("model_type", $"'{ModelType}' is not a family the worker implements ({Llama}, {Qwen2}, {Qwen3})");
        foreach (var (name, value) in Other ?? [])
        {
            if (!Harmless.TryGetValue(name, out var ok))
                yield return (name, "is not a config.json field the worker implements (it would change the model's computation, or is unknown)" + Names.Hint(name, Fields));
            else if (ok != null && !ok(value)) yield return (name, $"{value.GetRawText()} is not implemented by the worker");
        }
        if (RopeScaling != null) foreach (var (f, m) in RopeScaling.Validate()) yield return ($"rope_scaling.{f}", m);
        if (Heads < 1) yield return ("num_attention_heads", "must be at least 1");
        if (HeadDimOrNull is { } hd)
        {
            if (hd < 2 || hd % 2 != 0 || hd > 4096) yield return ("head_dim", "must be an even number between 2 and 4096 (rotary embeddings)");
            if (HiddenSize < 1) yield return ("hidden_size", "must be at least 1");
        }
        else if (HiddenSize < 1 || Heads < 1 || HiddenSize % Heads != 0) yield return ("hidden_size", "must be a positive multiple of num_attention_heads");
        else if (HeadDim % 2 != 0) yield return ("hidden_size", "hidden_size / num_attention_heads must be even (rotary embeddings)");
        if (KvHeads < 1 || (Heads >= 1 && Heads % KvHeads != 0)) yield return ("num_key_value_heads", "must divide num_attention_heads");
        if (Layers is < 1 or > 1024) yield return ("num_hidden_layers", "must be between 1 and 1024");
        if (HiddenSize > 1 << 17) yield return ("hidden_size", $"must be at most {1 << 17}");
        if (IntermediateSize > 1 << 20) yield return ("intermediate_size", $"must be at most {1 << 20}");
        if (VocabSize > 1 << 24) yield return ("vocab_size", $"must be at most {1 << 24}");
        if (Heads > 1024) yield return ("num_attention_heads", "must be at most 1024");
        if (IntermediateSize < 1) yield return ("intermediate_size", "must be at least 1");
        if (VocabSize < 1) yield return ("vocab_size", "must be at least 1");
        if (MaxPositions < 1) yield return ("max_position_embeddings", "must be at least 1");
        if (RmsNormEps <= 0) yield return ("rms_norm_eps", "must be positive");
        if (RopeTheta <= 0) yield return ("rope_theta", "must be positive");
    }
}

/// <summary>config.json's rope_scaling: Llama 3.x's "llama3" frequency scaling (the others are refused).</summary>
public sealed record RopeScaling
{
    [JsonPropertyName("rope_type"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? RopeType { get; init; }
    /// <summary>The older spelling of rope_type.</summary>
    [JsonPropertyName("type"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Type { get; init; }
    [JsonPropertyName("factor")] public double Factor { get; init; } = 1;
    [JsonPropertyName("low_freq_factor")] public double LowFreqFactor { get; init; } = 1;
    [JsonPropertyName("high_freq_factor")] public double HighFreqFactor { get; init; } = 4;
    [JsonPropertyName("original_max_position_embeddings")] public int OriginalMaxPositions { get; init; } = 8192;
    [JsonExtensionData] public Dictionary<string, JsonElement>? Other { get; init; }

    [JsonIgnore] public string Kind => RopeType ?? Type ?? "default";

    public IEnumerable<(string Field, string Message)> Validate()
    {
        if (Kind is not ("llama3" or "default")) yield return ("rope_type", $"'{Kind}' is not implemented by the worker (llama3 is)");
        foreach (string name in (Other ?? []).Keys) yield return (name, "is not a rope_scaling field the worker implements");
        if (Kind == "llama3")
        {
            if (Factor < 1) yield return ("factor", "must be at least 1");
            if (LowFreqFactor <= 0 || HighFreqFactor <= LowFreqFactor) yield return ("high_freq_factor", "must be above low_freq_factor, which must be positive");
            if (OriginalMaxPositions < 1) yield return ("original_max_position_embeddings", "must be at least 1");
        }
    }

    /// <summary>
    /// Llama 3's scaled inverse frequencies: wavelengths shorter than original/high_freq_factor are kept, longer
    /// than original/low_freq_factor divided by factor, and in between blended smoothly.
    /// </summary>
    public double[] Scale(double[] invFreq)
    {
        if (Kind != "llama3") return invFreq;
        double lowWavelen = OriginalMaxPositions / LowFreqFactor, highWavelen = OriginalMaxPositions / HighFreqFactor;
        return invFreq.Select(f =>
        {
            double wavelen = 2 * Math.PI / f;
            if (wavelen < highWavelen) return f;
            if (wavelen > lowWavelen) return f / Factor;
            double smooth = (OriginalMaxPositions / wavelen - LowFreqFactor) / (HighFreqFactor - LowFreqFactor);
            return (1 - smooth) * f / Factor + smooth * f;
        }).ToArray();
    }
}
