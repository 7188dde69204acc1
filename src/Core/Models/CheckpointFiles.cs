namespace MathV2.Core.Models;

/// <summary>The files of a checkpoint artifact (Hugging Face layout), shared by the worker that writes them and the API that checks them.</summary>
public static class CheckpointFiles
{
    public const string Config = "config.json";
    public const string Weights = "model.safetensors";
    /// <summary>Sharded weights: the index naming each tensor's shard.</summary>
    public const string WeightsIndex = "model.safetensors.index.json";
    public const string Tokenizer = "tokenizer.json";
    /// <summary>Every checkpoint has these, and either <see cref="Weights"/> or <see cref="WeightsIndex"/>.</summary>
    public static readonly string[] Required = [Config, Tokenizer];
}
