using MathV2.Core.Jobs;
using MathV2.Core.Models;

namespace MathV2.Core.Laps;

/// <summary>
/// The verifier a flywheel's next lap starts from (docs/method.md: "later laps start the verifier from the previous lap's
/// best checkpoint"): the one of v1, v2, v3 with the highest held-out accuracy, the later one on ties.
/// </summary>
public static class BestVerifier
{
    /// <summary>The key under which a lap's artifacts pass the chosen checkpoint to the next lap.</summary>
    public const string ArtifactKey = "verifier";
    static readonly string[] Latest = ["verifierV3", "verifierV2", "verifierV1"];

    /// <summary>The chosen artifact key, or null when the lap has none of them.</summary>
    public static string? Choose(IReadOnlyDictionary<string, double> metrics, IReadOnlyDictionary<string, string> artifacts)
    {
        string? best = null;
        double bestAccuracy = double.NegativeInfinity;
        foreach (string key in Latest.Where(artifacts.ContainsKey))
        {
            double accuracy = metrics.TryGetValue($"{key}.accuracy", out var a) ? a : double.NegativeInfinity;
            if (best == null || accuracy > bestAccuracy + 1e-9) (best, bestAccuracy) = (key, accuracy);
        }
        return best;
    }
}
