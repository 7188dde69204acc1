using System.Text.Json;
using System.Text.Json.Serialization;

namespace MathV2.Core.Models;

/// <summary>A Llama-family configuration, read from and written as a Hugging Face config.json.</summary>
public sealed record LlamaConfig
{
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
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "llama";
    [JsonPropertyName("architectures")] public string[] Architectures { get; init; } = ["LlamaForCausalLM"];

    [JsonIgnore] public int KvHeads => KvHeadsOrNull ?? Heads;
    [JsonIgnore] public int HeadDim => HiddenSize / Heads;

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
        if (Heads < 1) yield return ("num_attention_heads", "must be at least 1");
        if (HiddenSize < 1 || Heads < 1 || HiddenSize % Heads != 0) yield return ("hidden_size", "must be a positive multiple of num_attention_heads");
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
