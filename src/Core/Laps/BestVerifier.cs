using MathV2.Core.Jobs;
using MathV2.Core.Models;

namespace MathV2.Core.Laps;

/// <summary>
/// The verifier a flywheel's next lap starts from (docs/method.md: "later laps start the verifier from the previous lap's
/// best checkpoint"): the one of v1, v2, v3 with the highest held-out accuracy, the later one on ties.
/// </summary>
public static class BestVerifier
{
    /// <summary>The chosen verifier (its name in the lap's artifacts and its id), or null when the lap has none of them.</summary>
    public static (string Name, string Id)? Choose(IReadOnlyDictionary<string, double> metrics, LapArtifacts artifacts)
    {
        (string Name, string Id)? best = null;
        double bestAccuracy = double.NegativeInfinity;
        foreach (var (name, id) in new[] { ("verifierV3", artifacts.VerifierV3), ("verifierV2", artifacts.VerifierV2), ("verifierV1", artifacts.VerifierV1) })
        {
            if (id == null) continue;
            double accuracy = metrics.TryGetValue($"{name}.accuracy", out var a) ? a : double.NegativeInfinity;
            if (best == null || accuracy > bestAccuracy + 1e-9) (best, bestAccuracy) = ((name, id), accuracy);
        }
        return best;
    }
}
