using TorchSharp;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Model;

/// <summary>
/// Continuous batching's cache: a fixed number of slots, each holding one sequence of its own length. A decode step
/// feeds one token per slot and writes its keys and values at that slot's own position (<see cref="Positions"/>);
/// attention covers the first <see cref="Span"/> positions, the caller's mask hiding each slot's unused tail. A slot
/// is (re)filled from a prefill cache row (<see cref="Load"/>) when a sequence ends and another waits.
/// </summary>
public sealed class SlotKvCache(int layers, long capacity) : IKvCache, IDisposable
{
    Tensor?[] _keys = new Tensor?[layers], _values = new Tensor?[layers];

    /// <summary>The write position of each slot in the next decode step ([slots] int64).</summary>
    public Tensor? Positions { get; set; }
    /// <summary>Positions the next decode step attends over (the longest slot's length after the step).</summary>
    public long Span { get; set; }

    void Allocate(int layer, long slots, Tensor like)
    {
        if (_keys[layer] is not null) return;
        _keys[layer] = torch.zeros([slots, like.shape[1], capacity, like.shape[3]], dtype: like.dtype, device: like.device).DetachFromDisposeScope();
        _values[layer] = torch.zeros([slots, like.shape[1], capacity, like.shape[3]], dtype: like.dtype, device: like.device).DetachFromDisposeScope();
    }

    /// <summary>Copies the first length positions of a prefill cache's row into a slot (each layer).</summary>
    public void Load(long slot, long slots, KvCache prefill, long row, long from, long length)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        for (int layer = 0; layer < _keys.Length; layer++)
        {
            var (k, v) = prefill.Layer(layer);
            Allocate(layer, slots, k);
            _keys[layer]![slot].narrow(1, 0, length).copy_(k[row].narrow(1, from, length));
            _values[layer]![slot].narrow(1, 0, length).copy_(v[row].narrow(1, from, length));
        }
    }

    public (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        if (Positions is null || k.shape[2] != 1) throw new InvalidOperationException("a slot cache takes one token per slot, at Positions");
        var (keys, values) = (_keys[layer]!, _values[layer]!);
        using (torch.no_grad())
        {
            var at = Positions.view(-1, 1, 1, 1).expand(k.shape[0], k.shape[1], 1, k.shape[3]);
            keys.scatter_(2, at, k.detach());
            values.scatter_(2, at, v.detach());
        }
        return (keys.narrow(2, 0, Span), values.narrow(2, 0, Span));
    }

    /// <summary>Keeps only the given slots, in that order (sequences that ended and have no successor leave the batch).</summary>
    public void Keep(Tensor slots)
    {
        using var noGrad = torch.no_grad();
        for (int layer = 0; layer < _keys.Length; layer++)
        {
            if (_keys[layer] is null) continue;
            var (k, v) = (_keys[layer]!, _values[layer]!);
            _keys[layer] = k.index_select(0, slots).DetachFromDisposeScope();
            _values[layer] = v.index_select(0, slots).DetachFromDisposeScope();
            k.Dispose();
            v.Dispose();
        }
    }

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values)) t?.Dispose();
    }
}
