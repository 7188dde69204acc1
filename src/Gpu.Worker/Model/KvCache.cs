using TorchSharp;
using static TorchSharp.torch;

namespace MathV2.Gpu.Worker.Model;

/// <summary>
/// Keys and values of earlier positions, per layer, for incremental decoding. With a capacity, buffers are allocated
/// once and each step writes into them (no copy of the whole cache per token); without one, steps concatenate.
/// </summary>
public sealed class KvCache(int layers, long capacity = 0) : IKvCache, IDisposable
{
    readonly Tensor?[] _keys = new Tensor?[layers], _values = new Tensor?[layers];
    readonly long[] _lengths = new long[layers];

    /// <summary>Positions already cached.</summary>
    public long Length => _lengths[0];

    /// <summary>A layer's cached keys and values (the filled part).</summary>
    internal (Tensor K, Tensor V) Layer(int layer) =>
        (_keys[layer]!.narrow(2, 0, _lengths[layer]), _values[layer]!.narrow(2, 0, _lengths[layer]));

    public (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        long s = k.shape[2], len = _lengths[layer];
        if (capacity > 0 && len + s <= capacity)
        {
            if (_keys[layer] is null)
            {
                _keys[layer] = torch.empty([k.shape[0], k.shape[1], capacity, k.shape[3]], dtype: k.dtype, device: k.device).DetachFromDisposeScope();
                _values[layer] = torch.empty([v.shape[0], v.shape[1], capacity, v.shape[3]], dtype: v.dtype, device: v.device).DetachFromDisposeScope();
            }
            using (torch.no_grad())
            {
                _keys[layer]!.narrow(2, len, s).copy_(k);
                _values[layer]!.narrow(2, len, s).copy_(v);
            }
            _lengths[layer] = len + s;
            return (_keys[layer]!.narrow(2, 0, len + s), _values[layer]!.narrow(2, 0, len + s));
        }
        if (capacity > 0 && _keys[layer] is not null && _keys[layer]!.shape[2] != len)
        {
            // Past the capacity: continue by concatenation from the filled part.
            var (fk, fv) = (_keys[layer]!, _values[layer]!);
            _keys[layer] = fk.narrow(2, 0, len).clone().DetachFromDisposeScope();
            _values[layer] = fv.narrow(2, 0, len).clone().DetachFromDisposeScope();
            fk.Dispose(); fv.Dispose();
        }
        var (oldK, oldV) = (_keys[layer], _values[layer]);
        _keys[layer] = (oldK is null ? k.detach() : torch.cat([oldK, k.detach()], 2)).DetachFromDisposeScope();
        _values[layer] = (oldV is null ? v.detach() : torch.cat([oldV, v.detach()], 2)).DetachFromDisposeScope();
        if (oldK is not null) { oldK.Dispose(); oldV!.Dispose(); }
        _lengths[layer] = len + s;
        return (_keys[layer]!, _values[layer]!);
    }

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values)) t?.Dispose();
    }
}
