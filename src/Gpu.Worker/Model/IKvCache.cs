using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Model;

/// <summary>Where attention layers keep the keys and values of earlier positions.</summary>
public interface IKvCache
{
    /// <summary>Stores a layer's new keys and values [batch, kv heads, new, head dim]; returns all it attends over.</summary>
    (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v);
}
