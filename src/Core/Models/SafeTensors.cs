using System.Buffers.Binary;
using System.Text.Json;

namespace MathV2.Core.Models;

/// <summary>One tensor of a safetensors header: dtype, shape and its byte range in the data section.</summary>
public sealed record SafeTensorEntry(string Name, string Dtype, long[] Shape, long Begin, long End);

/// <summary>A safetensors file's header (8-byte little-endian length, then JSON): read without reading the weights.</summary>
public sealed record SafeTensorsHeader(IReadOnlyList<SafeTensorEntry> Tensors, long HeaderBytes)
{
    /// <summary>Bytes per element of the dtypes safetensors defines.</summary>
    public static readonly IReadOnlyDictionary<string, int> DtypeBytes = new Dictionary<string, int>
    {
        ["F64"] = 8, ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2, ["I64"] = 8, ["I32"] = 4, ["I16"] = 2, ["I8"] = 1, ["U8"] = 1, ["BOOL"] = 1,
        ["F8_E4M3"] = 1, ["F8_E5M2"] = 1, ["U16"] = 2, ["U32"] = 4, ["U64"] = 8,
    };

    /// <summary>Headers above this are refused (the format's own limit is 100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Reads the header from the start of a stream.</summary>
    /// <exception cref="InvalidDataException">Not a safetensors header; the message says what is wrong.</exception>
    public static async Task<SafeTensorsHeader> ReadAsync(Stream s, string file, CancellationToken ct = default)
    {
        var len = new byte[8];
        if (await ReadFullyAsync(s, len, ct) < 8) throw new InvalidDataException($"{file}: shorter than a safetensors header (8 bytes)");
        long n = BinaryPrimitives.ReadInt64LittleEndian(len);
        if (n < 2 || n > MaxHeaderBytes) throw new InvalidDataException($"{file}: header length {n} is not a safetensors header's");
        var json = new byte[n];
        if (await ReadFullyAsync(s, json, ct) < n) throw new InvalidDataException($"{file}: the header is cut short ({n} bytes announced)");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new InvalidDataException($"{file}: the header is not JSON ({e.Message.Split(" Path:")[0]})"); }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{file}: the header is not a JSON object");
        var tensors = new List<SafeTensorEntry>();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__") continue;
            try
            {
                var t = p.Value;
                string dtype = t.GetProperty("dtype").GetString() ?? "";
                long[] shape = [.. t.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64())];
                var offsets = t.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
                if (offsets.Length != 2) throw new InvalidDataException("data_offsets must have 2 numbers");
                tensors.Add(new SafeTensorEntry(p.Name, dtype, shape, offsets[0], offsets[1]));
            }
            catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException or InvalidDataException)
            {
                throw new InvalidDataException($"{file}: tensor {p.Name}: not a safetensors entry (dtype, shape, data_offsets): {e.Message}");
            }
        }
        return new SafeTensorsHeader(tensors, 8 + n);
    }

    /// <summary>Problems of the data section: unknown dtypes, sizes that do not match shapes, data past the end of the file.</summary>
    public IEnumerable<string> Check(string file, long fileBytes)
    {
        long data = fileBytes - HeaderBytes;
        foreach (var t in Tensors)
        {
            if (!DtypeBytes.TryGetValue(t.Dtype, out int size)) { yield return $"{file}: tensor {t.Name}: unknown dtype {t.Dtype}"; continue; }
            long expected = t.Shape.Aggregate(1L, (a, b) => a * b) * size;
            if (t.Begin < 0 || t.End < t.Begin) yield return $"{file}: tensor {t.Name}: data_offsets [{t.Begin}, {t.End}] are not a range";
            else if (t.End - t.Begin != expected) yield return $"{file}: tensor {t.Name}: {t.End - t.Begin} bytes for shape [{string.Join(", ", t.Shape)}] of {t.Dtype} ({expected} expected)";
            else if (t.End > data) yield return $"{file}: tensor {t.Name}: its data ends at byte {t.End} of the data section, which has {data} (the file is truncated)";
        }
    }

    static async Task<int> ReadFullyAsync(Stream s, byte[] buffer, CancellationToken ct)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int r = await s.ReadAsync(buffer.AsMemory(read), ct);
            if (r == 0) break;
            read += r;
        }
        return read;
    }
}

/// <summary>The tensors a checkpoint of a config has (Llama; Qwen2's biases; Qwen3's q/k norms), by their Hugging Face names.</summary>
public static class LlamaTensors
{
    public static IReadOnlyDictionary<string, long[]> Expected(LlamaConfig c)
    {
        long h = c.HiddenSize, v = c.VocabSize, i = c.IntermediateSize, q = (long)c.Heads * c.HeadDim, kv = (long)c.KvHeads * c.HeadDim;
        var t = new Dictionary<string, long[]> { ["model.embed_tokens.weight"] = [v, h], ["model.norm.weight"] = [h] };
        if (!c.TieEmbeddings) t["lm_head.weight"] = [v, h];
        for (int l = 0; l < c.Layers; l++)
        {
            string p = $"model.layers.{l}.";
            t[p + "input_layernorm.weight"] = [h];
            t[p + "post_attention_layernorm.weight"] = [h];
            t[p + "self_attn.q_proj.weight"] = [q, h];
            t[p + "self_attn.k_proj.weight"] = [kv, h];
            t[p + "self_attn.v_proj.weight"] = [kv, h];
            t[p + "self_attn.o_proj.weight"] = [h, q];
            if (c.QkvBias)
            {
                t[p + "self_attn.q_proj.bias"] = [q];
                t[p + "self_attn.k_proj.bias"] = [kv];
                t[p + "self_attn.v_proj.bias"] = [kv];
            }
            if (c.QkNorm)
            {
                t[p + "self_attn.q_norm.weight"] = [c.HeadDim];
                t[p + "self_attn.k_norm.weight"] = [c.HeadDim];
            }
            t[p + "mlp.gate_proj.weight"] = [i, h];
            t[p + "mlp.up_proj.weight"] = [i, h];
            t[p + "mlp.down_proj.weight"] = [h, i];
        }
        return t;
    }
}
