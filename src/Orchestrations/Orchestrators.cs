namespace MathV2.Orchestrations;

/// <summary>Every orchestrator of MathV2: the one list the local host registers and the Functions app's shells are checked against.</summary>
public static class Orchestrators
{
    public static readonly Type[] All =
    [
        typeof(RunGpuJob), typeof(Probe), typeof(Lap), typeof(Phase1A), typeof(Phase1B), typeof(Phase1C), typeof(Phase1D),
        typeof(Phase2), typeof(Phase3), typeof(Phase4), typeof(Flywheel), typeof(Search),
    ];
}
