using System.Text;
using MathV2.Gpu.Worker.Training;

namespace MathV2.Gpu.Worker.Tests;

/// <summary>
/// The event file TensorBoard reads, decoded here by a reader written from the formats' specifications (TFRecord
/// framing with masked CRC-32C, tensorflow.Event and Summary protos), not by the writer's own code.
/// </summary>
public sealed class TensorBoardEventsTests
{
    /// <summary>CRC-32C bit by bit (reflected polynomial 0x82F63B78).</summary>
    static uint Crc32C(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
        }
        return ~crc;
    }

    static uint Masked(byte[] data) { uint c = Crc32C(data); return ((c >> 15) | (c << 17)) + 0xa282ead8; }

    static List<byte[]> Records(byte[] file)
    {
        var records = new List<byte[]>();
        int at = 0;
        while (at < file.Length)
        {
            byte[] len = file[at..(at + 8)];
            Assert.Equal(Masked(len), BitConverter.ToUInt32(file, at + 8));
            int n = (int)BitConverter.ToUInt64(len);
            byte[] data = file[(at + 12)..(at + 12 + n)];
            Assert.Equal(Masked(data), BitConverter.ToUInt32(file, at + 12 + n));
            records.Add(data);
            at += 12 + n + 4;
        }
        return records;
    }

    /// <summary>Protobuf fields: (number, value) with varints as ulong, fixed64/32 as their bytes, length-delimited as bytes.</summary>
    static List<(int Field, object Value)> Fields(byte[] m)
    {
        var fields = new List<(int, object)>();
        int at = 0;
        ulong Varint() { ulong v = 0; int shift = 0; byte b; do { b = m[at++]; v |= (ulong)(b & 0x7f) << shift; shift += 7; } while ((b & 0x80) != 0); return v; }
        while (at < m.Length)
        {
            ulong key = Varint();
            int field = (int)(key >> 3);
            switch (key & 7)
            {
                case 0: fields.Add((field, Varint())); break;
                case 1: fields.Add((field, m[at..(at + 8)])); at += 8; break;
                case 5: fields.Add((field, m[at..(at + 4)])); at += 4; break;
                case 2: int n = (int)Varint(); fields.Add((field, m[at..(at + n)])); at += n; break;
                default: throw new InvalidDataException($"wire type {key & 7}");
            }
        }
        return fields;
    }

    [Fact]
    public void The_crc_is_castagnolis()
    {
        byte[] check = Encoding.ASCII.GetBytes("123456789");
        Assert.Equal(0xE3069283u, Crc32C(check));
        Assert.Equal(Crc32C(check), TensorBoardEvents.Crc32C(check));
    }

    [Fact]
    public void Each_step_is_an_event_with_its_wall_time_and_scalars_after_the_file_version()
    {
        StepMetrics[] metrics =
        [
            new() { Step = 1, Steps = 2, Loss = 2.5, LearningRate = 1e-4, Time = 1764558000.125, MeanReward = 0.5, Kl = 0.01, AdvantageStd = 0.75 },
            new() { Step = 2, Steps = 2, Loss = 2.25, LearningRate = 5e-5, Time = 1764558001.5, EvalLoss = 2.4 },
        ];
        var records = Records(TensorBoardEvents.Write(metrics));
        Assert.Equal(3, records.Count);
        var version = Fields(records[0]);
        Assert.Equal("brain.Event:2", Encoding.UTF8.GetString((byte[])version.Single(f => f.Field == 3).Value));
        for (int i = 0; i < 2; i++)
        {
            var e = Fields(records[i + 1]);
            Assert.Equal(metrics[i].Time, BitConverter.ToDouble((byte[])e.Single(f => f.Field == 1).Value));
            Assert.Equal((ulong)metrics[i].Step, (ulong)e.Single(f => f.Field == 2).Value);
            var values = Fields((byte[])e.Single(f => f.Field == 5).Value).Where(f => f.Field == 1).Select(f => Fields((byte[])f.Value))
                .ToDictionary(v => Encoding.UTF8.GetString((byte[])v.Single(f => f.Field == 1).Value), v => BitConverter.ToSingle((byte[])v.Single(f => f.Field == 2).Value));
            Assert.Equal((float)metrics[i].Loss, values["train/loss"]);
            Assert.Equal((float)metrics[i].LearningRate, values["train/learning_rate"]);
            Assert.Equal(i == 0, values.ContainsKey("train/reward_mean"));
            Assert.Equal(i == 0 ? 0.75f : (float?)null, values.TryGetValue("train/advantage_std", out float a) ? a : (float?)null);
            Assert.Equal(i == 1, values.ContainsKey("eval/loss"));
        }
        Assert.Equal("events.out.tfevents.1764558000.mathv2", TensorBoardEvents.FileName(metrics));
    }
}
