namespace MathV2.Tests;

/// <summary>
/// A corpus of malformed lap and flywheel starts: typos at every depth, wrong types, out-of-range values, cross-field
/// rules, nulls and bodies that are not objects. Each names the field its 400 must name ("body" for the whole body).
/// </summary>
public static class MalformedRequests
{
    public sealed record Case(string Route, string Body, string Field)
    {
        public override string ToString() => $"{Route} {Body} → {Field}";
    }

    static readonly string[] GrpoObjects = ["verifier", "metaVerifier", "generator", "selfVerification"];

    /// <summary>(field, bad value) of the GRPO and training options, each against one rule of the contract.</summary>
    static readonly (string Field, string Value)[] GrpoBadValues =
    [
        ("steps", "0"), ("learningRate", "-1e-4"), ("learningRate", "0"), ("warmupSteps", "-1"), ("minLrRatio", "2"),
        ("weightDecay", "-0.1"), ("beta1", "1"), ("beta2", "-0.5"), ("epsilon", "0"), ("gradClip", "-1"), ("gradAccum", "0"),
        ("batchSize", "0"), ("maxSeqLen", "1"), ("checkpointEvery", "0"), ("evalEvery", "0"), ("groupSize", "1"),
        ("promptsPerStep", "0"), ("clip", "0"), ("klCoef", "-0.01"), ("updatesPerStep", "0"), ("maxNewTokens", "0"),
        ("temperature", "-2"), ("topP", "1.5"), ("steps", "\"many\""), ("groupSize", "4.5"), ("curriculumSteps", "-3"),
    ];

    static readonly (string Field, string Value)[] TrainBadValues =
    [
        ("steps", "0"), ("learningRate", "-3e-3"), ("batchSize", "0"), ("maxSeqLen", "0"), ("checkpointEvery", "0"),
        ("evalEvery", "0"), ("gradAccum", "0"), ("warmupSteps", "-5"), ("curriculumSteps", "100000"), ("beta1", "1.5"),
    ];

    static readonly (string Field, string Value, string Reported)[] ConfigBadValues =
    [
        ("hidden_size", "-128", "hidden_size"), ("hidden_size", "130", "hidden_size"), ("num_attention_heads", "0", "hidden_size"),
        ("num_key_value_heads", "3", "num_key_value_heads"), ("num_hidden_layers", "0", "num_hidden_layers"),
        ("intermediate_size", "0", "intermediate_size"), ("max_position_embeddings", "0", "max_position_embeddings"),
        ("rms_norm_eps", "0", "rms_norm_eps"), ("rope_theta", "-1", "rope_theta"), ("hidden_sise", "64", "hidden_sise"),
    ];

    /// <summary>Objects of the LapSpec with a field each, for typos inside them.</summary>
    static readonly string[] Objects =
    [
        "demo", "bootstrap", "annotation", "coldStart", "analyses", "refinement", "consensus", "evaluation", "limits",
        "verifier", "metaVerifier", "generator", "selfVerification", "bootstrap.options", "bootstrap.config", "method",
    ];

    static readonly (string Body, string Field)[] Other =
    [
        ("null", "body"), ("[]", "body"), ("1", "body"), ("\"lap\"", "body"), ("{", "body"), ("{\"verifier\": }", "verifier"),
        ("{\"verifier\": null}", "verifier"), ("{\"bootstrap\": {\"options\": null}}", "bootstrap.options"), ("{\"demo\": null}", "demo"),
        ("{\"verifier\": [1, 2]}", "verifier"), ("{\"verifier\": 3}", "verifier"), ("{\"domain\": \"geometry\"}", "domain"),
        ("{\"baseCheckpoint\": \"../etc/passwd\"}", "baseCheckpoint"), ("{\"baseCheckpoint\": \"\"}", "baseCheckpoint"),
        ("{\"name\": \"" + new string('n', 101) + "\"}", "name"), ("{\"demo\": {\"maxDifficulty\": 9}}", "demo.maxDifficulty"),
        ("{\"demo\": {\"prompts\": \"verbose\"}}", "demo.prompts"), ("{\"demo\": {\"flawedProofShare\": 1.5}}", "demo.flawedProofShare"),
        ("{\"demo\": {\"problemsPerDifficulty\": 0}}", "demo.problemsPerDifficulty"), ("{\"bootstrap\": {\"tokenizer\": \"bytes\"}}", "bootstrap.tokenizer"),
        ("{\"annotation\": {\"annotator\": \"crowd\"}}", "annotation.annotator"), ("{\"annotation\": {\"batchSize\": 0}}", "annotation.batchSize"),
        ("{\"annotation\": {\"deadlineMinutes\": 0}}", "annotation.deadlineMinutes"), ("{\"coldStart\": {\"temperature\": 3}}", "coldStart.temperature"),
        ("{\"coldStart\": {\"proofsPerProblem\": 0}}", "coldStart.proofsPerProblem"), ("{\"analyses\": {\"perProof\": 65}}", "analyses.perProof"),
        ("{\"refinement\": {\"maxIterations\": 0}}", "refinement.maxIterations"), ("{\"refinement\": {\"samples\": 0}}", "refinement.samples"),
        ("{\"consensus\": {\"k\": 9}}", "consensus.k"), ("{\"consensus\": {\"n\": 0}}", "consensus.n"), ("{\"consensus\": {\"shards\": 0}}", "consensus.shards"),
        ("{\"evaluation\": {\"proofSamples\": 0}}", "evaluation.proofSamples"), ("{\"evaluation\": {\"analysisSamples\": -1}}", "evaluation.analysisSamples"),
        ("{\"limits\": {\"maxAttempts\": 0}}", "limits.maxAttempts"), ("{\"limits\": {\"pollSeconds\": 0}}", "limits.pollSeconds"),
        ("{\"prompts\": \"verbose\"}", "prompts"), ("{\"prompts\": \"\"}", "prompts"), ("{\"prompts\": 3}", "prompts"), ("{\"prompts\": {\"name\": \"mine\"}}", "prompts.verification"),
        ("{\"prompts\": {\"name\": \"x\", \"verificaton\": {}}}", "prompts.verificaton"),
        ("{\"method\": {\"generatorReward\": \"both\"}}", "method.generatorReward"), ("{\"method\": {\"generatorInit\": \"meta\"}}", "method.generatorInit"),
        ("{\"method\": {\"klReference\": \"none\"}}", "method.klReference"), ("{\"method\": {\"rewardSamples\": 0}}", "method.rewardSamples"),
        ("{\"method\": {\"rewardTemperature\": 0}}", "method.rewardTemperature"), ("{\"method\": {\"unreadableMeta\": \"skip\"}}", "method.unreadableMeta"),
        ("{\"coldStart\": {\"refinementRounds\": 99}}", "coldStart.refinementRounds"),
    ];

    /// <summary>Bad flywheel starts (their lap is a LapSpec under "lap.").</summary>
    static readonly (string Body, string Field)[] Flywheels =
    [
        ("null", "body"), ("{\"laps\": 0}", "laps"), ("{\"lapz\": 2}", "lapz"), ("{\"humanFreeFromLap\": 1}", "humanFreeFromLap"),
        ("{\"gates\": {\"maxVerifierAccuracyDrop\": 2}}", "gates.maxVerifierAccuracyDrop"), ("{\"gates\": {\"maxDrop\": 0.1}}", "gates.maxDrop"),
        ("{\"lap\": {\"verifier\": {\"learningRat\": 1e-4}}}", "lap.verifier.learningRat"), ("{\"lap\": {\"generator\": {\"steps\": 0}}}", "lap.generator.steps"),
        ("{\"lap\": {\"bootstrap\": {\"config\": {\"hidden_size\": -128}}}}", "lap.bootstrap.config.hidden_size"),
        ("{\"lap\": {\"metaVerifier\": {\"temperature\": -2}}}", "lap.metaVerifier.temperature"), ("{\"lap\": null}", "lap"),
    ];

    static string Nest(string path, string inner)
    {
        var parts = path.Split('.');
        string body = inner;
        for (int i = parts.Length - 1; i >= 0; i--) body = $"{{\"{parts[i]}\": {body}}}";
        return body;
    }

    /// <summary>Every case: POST /api/laps bodies, then POST /api/flywheels bodies.</summary>
    public static IReadOnlyList<Case> All()
    {
        var cases = new List<Case>();
        foreach (string o in GrpoObjects)
            foreach (var (f, v) in GrpoBadValues) cases.Add(new("/api/laps", Nest(o, $"{{\"{f}\": {v}}}"), $"{o}.{f}"));
        foreach (var (f, v) in TrainBadValues) cases.Add(new("/api/laps", Nest("bootstrap.options", $"{{\"{f}\": {v}}}"), $"bootstrap.options.{f}"));
        foreach (var (f, v, reported) in ConfigBadValues) cases.Add(new("/api/laps", Nest("bootstrap.config", $"{{\"{f}\": {v}}}"), $"bootstrap.config.{reported}"));
        foreach (string o in Objects) cases.Add(new("/api/laps", Nest(o, "{\"learningRat\": 1}"), $"{o}.learningRat"));
        cases.Add(new("/api/laps", "{\"verifer\": {}}", "verifer"));
        foreach (var (b, f) in Other) cases.Add(new("/api/laps", b, f));
        foreach (var (b, f) in Flywheels) cases.Add(new("/api/flywheels", b, f));
        return cases;
    }
}
