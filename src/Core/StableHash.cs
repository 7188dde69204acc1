using System.Text;

namespace MathV2.Core;

/// <summary>
/// Seeds that are the same in every process and on every machine (HashCode.Combine and string.GetHashCode are
/// randomised per process, so nothing that must be reproducible from a seed may use them).
/// </summary>
public static class StableHash
{
    /// <summary>FNV-1a (64-bit) of the parts joined with '|', folded to a non-negative int.</summary>
    public static int Seed(params object[] parts)
    {
        ulong h = Fnv(parts);
        return (int)((h ^ (h >> 32)) & 0x7fffffff);
    }

    /// <summary>All 64 bits of the same hash: a seed per sample among millions without collisions to speak of.</summary>
    public static long Seed64(params object[] parts) => (long)Fnv(parts);

    static ulong Fnv(object[] parts)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(string.Join("|", parts.Select(p => Convert.ToString(p, System.Globalization.CultureInfo.InvariantCulture)))))
        {
            h ^= b;
            h *= 1099511628211UL;
        }
        return h;
    }
}
