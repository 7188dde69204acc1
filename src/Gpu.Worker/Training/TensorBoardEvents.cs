using System.Numerics;
using System.Text;

namespace MathV2.Gpu.Worker.Training;

/// <summary>
/// A training job's curves as a TensorBoard event file (TFRecord of tensorflow.Event protos): a file_version record,
/// then one event per step with its wall time and scalars tagged train/… and eval/…, so `tensorboard --logdir` shows
/// them. Written with the job's result (the file named events.out.tfevents.{time}.mathv2).
/// </summary>
public static class TensorBoardEvents
{
    public static string FileName(IReadOnlyList<StepMetrics> metrics) =>
        $"events.out.tfevents.{(long)(metrics.Count > 0 ? metrics[0].Time : DateTimeOffset.UtcNow.ToUnixTimeSeconds())}.mathv2";

    /// <summary>The scalars of a step, by tag (absent values left out).</summary>
    public static IEnumerable<(string Tag, double Value)> Scalars(StepMetrics m)
    {
        yield return ("train/loss", m.Loss);
        yield return ("train/learning_rate", m.LearningRate);
        yield return ("train/grad_norm", m.GradNorm);
        yield return ("train/tokens_per_second", m.TokensPerSecond);
        yield return ("train/step_seconds", m.Seconds);
        if (m.MeanReward is { } r) yield return ("train/reward_mean", r);
        if (m.RewardStd is { } s) yield return ("train/reward_std", s);
        if (m.AdvantageStd is { } a) yield return ("train/advantage_std", a);
        if (m.Kl is { } kl) yield return ("train/kl", kl);
        if (m.ClipFraction is { } c) yield return ("train/clip_fraction", c);
        if (m.MaskedRewards is { } masked) yield return ("train/masked_rewards", masked);
        if (m.EvalLoss is { } e) yield return ("eval/loss", e);
    }

    public static byte[] Write(IReadOnlyList<StepMetrics> metrics)
    {
        using var file = new MemoryStream();
        double start = metrics.Count > 0 ? metrics[0].Time : DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        // Event { wall_time = 1 (double), step = 2 (int64), file_version = 3 (string) }
        Record(file, Message(w => { w.Double(1, start); w.String(3, "brain.Event:2"); }));
        foreach (var m in metrics)
            Record(file, Message(w =>
            {
                w.Double(1, m.Time);
                w.Varint(2, (ulong)m.Step);
                // summary = 5: Summary { repeated Value value = 1 }, Value { tag = 1, simple_value = 2 (float) }
                w.Bytes(5, Message(s =>
                {
                    foreach (var (tag, value) in Scalars(m))
                        s.Bytes(1, Message(v => { v.String(1, tag); v.Float(2, (float)value); }));
                }));
            }));
        return file.ToArray();
    }

    /// <summary>TFRecord framing: length (uint64 LE), its masked CRC-32C, the data, the data's masked CRC-32C.</summary>
    static void Record(Stream output, byte[] data)
    {
        var length = BitConverter.GetBytes((ulong)data.Length);
        output.Write(length);
        output.Write(BitConverter.GetBytes(MaskedCrc(length)));
        output.Write(data);
        output.Write(BitConverter.GetBytes(MaskedCrc(data)));
    }

    /// <summary>CRC-32C (Castagnoli) of the bytes.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data) crc = BitOperations.Crc32C(crc, b);
        return ~crc;
    }

    public static uint MaskedCrc(ReadOnlySpan<byte> data)
    {
        uint crc = Crc32C(data);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8;
    }

    static byte[] Message(Action<ProtoWriter> write)
    {
        var w = new ProtoWriter();
        write(w);
        return w.ToArray();
    }

    /// <summary>The few protobuf encodings an Event needs.</summary>
    sealed class ProtoWriter
    {
        readonly MemoryStream _s = new();

        void Tag(int field, int wireType) => Raw((ulong)((field << 3) | wireType));

        void Raw(ulong v)
        {
            while (v >= 0x80) { _s.WriteByte((byte)(v | 0x80)); v >>= 7; }
            _s.WriteByte((byte)v);
        }

        public void Varint(int field, ulong v) { Tag(field, 0); Raw(v); }
        public void Double(int field, double v) { Tag(field, 1); _s.Write(BitConverter.GetBytes(v)); }
        public void Float(int field, float v) { Tag(field, 5); _s.Write(BitConverter.GetBytes(v)); }
        public void Bytes(int field, byte[] v) { Tag(field, 2); Raw((ulong)v.Length); _s.Write(v); }
        public void String(int field, string v) => Bytes(field, Encoding.UTF8.GetBytes(v));
        public byte[] ToArray() => _s.ToArray();
    }
}
