using MathV2.Core.Models;
using MathV2.Gpu.Worker.Model;

namespace MathV2.Gpu.Worker.Tests;

/// <summary>
/// A straightforward forward pass in plain C# (doubles, loops), to check the TorchSharp model against: Llama (with
/// Llama 3's rope scaling written out here from its definition), Qwen2's q/k/v biases, Qwen3's per-head q/k norms.
/// </summary>
public sealed class ReferenceLlama(LlamaConfig c, IReadOnlyDictionary<string, float[]> w)
{
    float[] W(string name) => w[name];

    double[] Project(string name, double[] x, int rows)
    {
        var y = MatVec(W(name + ".weight"), x, rows);
        if (w.TryGetValue(name + ".bias", out var bias)) for (int i = 0; i < rows; i++) y[i] += bias[i];
        return y;
    }

    /// <summary>RMSNorm of each head's slice with the given weight (Qwen3's q_norm / k_norm).</summary>
    void NormHeads(double[] v, int heads, int d, string weight)
    {
        if (!w.ContainsKey(weight)) return;
        for (int h = 0; h < heads; h++)
        {
            var normed = RmsNorm(v[(h * d)..((h + 1) * d)], W(weight));
            Array.Copy(normed, 0, v, h * d, d);
        }
    }

    /// <summary>Logits [seq][vocab] for one sequence.</summary>
    public double[][] Forward(int[] tokens)
    {
        int s = tokens.Length, H = c.HiddenSize, d = c.HeadDim;
        var x = tokens.Select(t => Enumerable.Range(0, H).Select(i => (double)W("model.embed_tokens.weight")[t * H + i]).ToArray()).ToArray();
        for (int l = 0; l < c.Layers; l++)
        {
            string p = $"model.layers.{l}.";
            var xn = x.Select(r => RmsNorm(r, W(p + "input_layernorm.weight"))).ToArray();
            var q = xn.Select(r => Project(p + "self_attn.q_proj", r, c.Heads * d)).ToArray();
            var k = xn.Select(r => Project(p + "self_attn.k_proj", r, c.KvHeads * d)).ToArray();
            var v = xn.Select(r => Project(p + "self_attn.v_proj", r, c.KvHeads * d)).ToArray();
            for (int t = 0; t < s; t++)
            {
                NormHeads(q[t], c.Heads, d, p + "self_attn.q_norm.weight");
                NormHeads(k[t], c.KvHeads, d, p + "self_attn.k_norm.weight");
                for (int h = 0; h < c.Heads; h++) Rope(q[t], h * d, d, t);
                for (int h = 0; h < c.KvHeads; h++) Rope(k[t], h * d, d, t);
            }
            var attn = new double[s][];
            for (int t = 0; t < s; t++)
            {
                attn[t] = new double[c.Heads * d];
                for (int h = 0; h < c.Heads; h++)
                {
                    int kh = h / (c.Heads / c.KvHeads);
                    var scores = new double[t + 1];
                    for (int u = 0; u <= t; u++)
                    {
                        double dot = 0;
                        for (int i = 0; i < d; i++) dot += q[t][h * d + i] * k[u][kh * d + i];
                        scores[u] = dot / Math.Sqrt(d);
                    }
                    double max = scores.Max(), sum = scores.Sum(z => Math.Exp(z - max));
                    for (int u = 0; u <= t; u++)
                    {
                        double pr = Math.Exp(scores[u] - max) / sum;
                        for (int i = 0; i < d; i++) attn[t][h * d + i] += pr * v[u][kh * d + i];
                    }
                }
            }
            for (int t = 0; t < s; t++)
            {
                var o = MatVec(W(p + "self_attn.o_proj.weight"), attn[t], H);
                for (int i = 0; i < H; i++) x[t][i] += o[i];
                var hn = RmsNorm(x[t], W(p + "post_attention_layernorm.weight"));
                var g = MatVec(W(p + "mlp.gate_proj.weight"), hn, c.IntermediateSize);
                var up = MatVec(W(p + "mlp.up_proj.weight"), hn, c.IntermediateSize);
                var act = g.Select((z, i) => z / (1 + Math.Exp(-z)) * up[i]).ToArray();
                var down = MatVec(W(p + "mlp.down_proj.weight"), act, H);
                for (int i = 0; i < H; i++) x[t][i] += down[i];
            }
        }
        string head = c.TieEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
        return x.Select(r => MatVec(W(head), RmsNorm(r, W("model.norm.weight")), c.VocabSize)).ToArray();
    }

    double[] RmsNorm(double[] x, float[] weight)
    {
        double ms = x.Sum(z => z * z) / x.Length;
        double inv = 1 / Math.Sqrt(ms + c.RmsNormEps);
        return x.Select((z, i) => z * inv * weight[i]).ToArray();
    }

    /// <summary>y = W x for a [rows, cols] row-major weight (torch Linear layout).</summary>
    static double[] MatVec(float[] w, double[] x, int rows)
    {
        var y = new double[rows];
        int cols = x.Length;
        for (int r = 0; r < rows; r++)
        {
            double acc = 0;
            for (int i = 0; i < cols; i++) acc += w[r * cols + i] * x[i];
            y[r] = acc;
        }
        return y;
    }

    /// <summary>
    /// Llama 3's frequency scaling from its definition: a frequency whose wavelength (in positions) is longer than
    /// the original context / low_freq_factor is divided by factor; shorter than original / high_freq_factor kept;
    /// in between, interpolated linearly in original / wavelength between the two.
    /// </summary>
    double Llama3(double freq)
    {
        if (c.RopeScaling is not { } r || (r.RopeType ?? r.Type) != "llama3") return freq;
        double wavelength = 2 * Math.PI / freq, ratio = r.OriginalMaxPositions / wavelength;
        if (ratio >= r.HighFreqFactor) return freq;
        if (ratio < r.LowFreqFactor) return freq / r.Factor;
        double t = (ratio - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor);
        return freq / r.Factor + t * (freq - freq / r.Factor);
    }

    /// <summary>Rotary embedding, rotate-half convention, on one head's slice.</summary>
    void Rope(double[] vec, int offset, int d, int pos)
    {
        int half = d / 2;
        var rotated = new double[d];
        for (int i = 0; i < half; i++)
        {
            double freq = Llama3(Math.Pow(c.RopeTheta, -2.0 * i / d));
            double a = pos * freq, cos = Math.Cos(a), sin = Math.Sin(a);
            double x1 = vec[offset + i], x2 = vec[offset + half + i];
            rotated[i] = x1 * cos - x2 * sin;
            rotated[half + i] = x2 * cos + x1 * sin;
        }
        Array.Copy(rotated, 0, vec, offset, d);
    }
}
