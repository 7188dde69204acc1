using MathV2.Core.Jobs;
using MathV2.Core.Models;

namespace MathV2.Core.Laps;

/// <summary>
/// The demo's defaults, sized for one lap in about 15 minutes on a 2-core CPU (docs/laps.md). An object given in
/// a spec replaces the default whole; fields it leaves out take the job's defaults (docs/worker.md).
/// </summary>
public static class LapDefaults
{
    /// <summary>3 layers: the 2-layer model's step checks miscopied operands (docs/laps.md, "Measured"); 2500 steps keep the lap's time.</summary>
    public static LlamaConfig BootstrapConfig => new()
    {
        HiddenSize = 128, Layers = 3, Heads = 4, KvHeadsOrNull = 2, IntermediateSize = 352, MaxPositions = 1024,
    };
    /// <summary>The first 500 steps on the arithmetic rows only (facts and step checks: what a pretrained model knows), then all demonstrations.</summary>
    public static TrainOptions BootstrapOptions => new()
    {
        Steps = 2500, BatchSize = 8, LearningRate = 3e-3, WarmupSteps = 50, EvalEvery = 500, CheckpointEvery = 500, MaxSeqLen = 1024,
        CurriculumSteps = 500, CurriculumKinds = ["arithmetic"],
    };
    /// <summary>A learning rate of 1e-4: the bootstrap verifies well already, and at 3e-4 GRPO's noise undid more than it taught (docs/laps.md).</summary>
    public static GrpoOptions Verifier => new() { Steps = 40, GroupSize = 4, PromptsPerStep = 4, MaxNewTokens = 170, LearningRate = 1e-4, WarmupSteps = 2, BatchSize = 8, MaxSeqLen = 640, CheckpointEvery = 20 };
    /// <summary>1e-4 too: at 3e-4 the D_mv step cost verifier v2 its step checks (docs/laps.md, "Measured").</summary>
    public static GrpoOptions MetaVerifier => new() { Steps = 20, GroupSize = 4, PromptsPerStep = 4, MaxNewTokens = 200, LearningRate = 1e-4, WarmupSteps = 2, BatchSize = 8, MaxSeqLen = 700, CheckpointEvery = 5 };
    public static GrpoOptions Generator => new() { Steps = 24, GroupSize = 4, PromptsPerStep = 4, MaxNewTokens = 400, LearningRate = 2e-4, WarmupSteps = 2, BatchSize = 8, MaxSeqLen = 512, CheckpointEvery = 8 };
}
