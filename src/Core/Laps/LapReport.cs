using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MathV2.Core.Laps;

public sealed record PhaseReport
{
    public required string Phase { get; init; }
    public double WallSeconds { get; init; }
    /// <summary>Seconds the phase's jobs spent computing (their summaries' "seconds").</summary>
    public double JobSeconds { get; init; }
    public int Jobs { get; init; }
    public string? ReusedFrom { get; init; }
    public Dictionary<string, double> Metrics { get; init; } = [];
}

/// <summary>A target of the demo (issue 5), checked against the measures; Met is null when a measure is missing.</summary>
public sealed record ReportTarget(string Name, string Rule, bool? Met);

/// <summary>Where and with what a lap's report was made: the build's commit, .NET, the OS and machine, key packages.</summary>
public sealed record ReportRun
{
    /// <summary>The build's version with its git commit (1.0.0+sha), as the SDK stamps it.</summary>
    public string? CodeVersion { get; init; }
    public string Dotnet { get; init; } = "";
    public string Os { get; init; } = "";
    public string Machine { get; init; } = "";
    public int ProcessorCount { get; init; }
    public double MemoryGb { get; init; }
    public Dictionary<string, string> Packages { get; init; } = [];
}

/// <summary>The lap report (report.json; report.md renders it).</summary>
public sealed record LapReport
{
    public required string LapId { get; init; }
    public string? Name { get; init; }
    public int Number { get; init; } = 1;
    public double WallSeconds { get; init; }
    public double JobSeconds { get; init; }
    public List<PhaseReport> Phases { get; init; } = [];
    /// <summary>All phases' measures; parse-failure counts summed.</summary>
    public Dictionary<string, double> Measures { get; init; } = [];
    public List<ReportTarget> Targets { get; init; } = [];
    /// <summary>"demo" or "datasets": which measures a lap can have.</summary>
    public string Domain { get; init; } = LapSpec.DemoDomain;
    /// <summary>Measures the lap does not have, and why (no oracle, no held-out rated analyses, no audit): absent, never 0.</summary>
    public Dictionary<string, string> Absent { get; init; } = [];
    public LapArtifacts Artifacts { get; init; } = new();
    /// <summary>The spec as the lap ran it (defaults filled in).</summary>
    public LapSpec? Spec { get; init; }
    /// <summary>The code version, packages and machine the report was made with (the host's; jobs record their worker).</summary>
    public ReportRun? Run { get; init; }
    /// <summary>PNG plots in the report artifact (training curves per phase; held-out measures per lap in a flywheel).</summary>
    public List<ReportPlot> Plots { get; init; } = [];
    /// <summary>Plots left out, and why (a bad metrics file, a drawing error): the report is made all the same.</summary>
    public List<string>? PlotErrors { get; init; }

    public static LapReport Build(string lapId, string? name, int number, IReadOnlyList<PhaseResult> phases, DateTime started, DateTime finished, LapArtifacts artifacts,
        string domain = LapSpec.DemoDomain)
    {
        var measures = new Dictionary<string, double>();
        foreach (var p in phases) LapMeasures.Merge(measures, p.Metrics);
        var phaseReports = phases.Select(p => new PhaseReport
        {
            Phase = p.Phase, ReusedFrom = p.ReusedFrom, Jobs = p.Jobs.Count, Metrics = p.Metrics,
            WallSeconds = p.ReusedFrom == null ? Math.Round((p.Finished - p.Started).TotalSeconds, 1) : 0,
            JobSeconds = p.ReusedFrom == null ? Math.Round(p.Jobs.Sum(JobSecondsOf), 1) : 0,
        }).ToList();
        double wall = Math.Round((finished - started).TotalSeconds, 1);
        return new LapReport
        {
            LapId = lapId, Name = name, Number = number, WallSeconds = wall, JobSeconds = Math.Round(phaseReports.Sum(p => p.JobSeconds), 1),
            Phases = phaseReports, Measures = measures, Domain = domain, Absent = AbsentMeasures(domain, measures),
            Targets = domain == LapSpec.DemoDomain ? CheckTargets(measures, wall) : [], Artifacts = artifacts,
        };
    }

    /// <summary>What a lap of the domain lacks, given the measures it has, with the reason and where to look instead.</summary>
    public static Dictionary<string, string> AbsentMeasures(string domain, IReadOnlyDictionary<string, double> m)
    {
        var absent = new Dictionary<string, string>();
        if (domain != LapSpec.DemoDomain)
        {
            const string noOracle = "no oracle outside the demo domain";
            absent["base/generator.oraclePassRate, .oracleMeanScore, .failed.*, .selfScoreHonesty"] = $"{noOracle}: verifier v2 judges the proofs (base.verifierPassRate, generator.verifierPassRate)";
            absent["refinement.passAt1Iteration, refinement.passAtMaxIterations"] = $"{noOracle}: verifier v2 judges the attempts (refinement.firstAttempt.verifierPassRate, refinement.lastAttempt.verifierPassRate)";
            absent["verifierV*.metaQuality"] = $"{noOracle} to rate the analyses: the meta-verifiers are measured on held-out rated analyses";
            absent["consensus.agreement"] = $"{noOracle}: people audit a sample of the labels (consensus.audit.agreement)";
            if (!m.Keys.Any(k => k.StartsWith("metaVerifier.", StringComparison.Ordinal)))
                absent["metaVerifier.*, verifierV2.meta.*"] = "no held-out rated analyses (datasets.heldOutRatedAnalyses)";
        }
        if (m.ContainsKey("consensus.proofs") && !m.ContainsKey("consensus.audit.agreement") && domain != LapSpec.DemoDomain)
            absent["consensus.audit.agreement"] = "no audit: consensus.auditSize is 0, or no proof was labelled";
        return absent;
    }

    static double JobSecondsOf(Jobs.GpuJobOutcome j) =>
        j.Summary is { ValueKind: JsonValueKind.Object } s && s.TryGetProperty("seconds", out var x) && x.ValueKind == JsonValueKind.Number ? x.GetDouble() : 0;

    /// <summary>The demo's targets (printed, never asserted by timed tests).</summary>
    public static List<ReportTarget> CheckTargets(IReadOnlyDictionary<string, double> m, double wallSeconds)
    {
        bool? Cmp(string a, Func<double, bool> ok) => m.TryGetValue(a, out var v) ? ok(v) : null;
        bool? Cmp2(string a, string b, Func<double, double, bool> ok) => m.TryGetValue(a, out var x) && m.TryGetValue(b, out var y) ? ok(x, y) : null;
        // Meta quality over the sampled analyses where the lap has them (evaluation.analysisSamples), else the greedy ones.
        string meta = m.ContainsKey("verifierV2.sampled.metaQuality") ? "sampled.metaQuality" : "metaQuality";
        return
        [
            new("lap wall time", "at most 15 minutes", wallSeconds <= 15 * 60),
            new("verifier v2 accuracy", "verifierV2.accuracy ≥ 0.9 on held-out proofs", Cmp("verifierV2.accuracy", v => v >= 0.9)),
            new("meta quality", $"verifierV2.{meta} > verifierV1.{meta}", Cmp2($"verifierV2.{meta}", $"verifierV1.{meta}", (a, b) => a > b)),
            new("generator", "generator.oraclePassRate > base.oraclePassRate", Cmp2("generator.oraclePassRate", "base.oraclePassRate", (a, b) => a > b)),
            new("refinement", "refinement.passAtMaxIterations > refinement.passAt1Iteration", Cmp2("refinement.passAtMaxIterations", "refinement.passAt1Iteration", (a, b) => a > b)),
            new("consensus", "consensus.agreement ≥ 0.95", Cmp("consensus.agreement", v => v >= 0.95)),
        ];
    }

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        sb.Append(ci, $"# Lap report: {LapId}{(Name is null ? "" : $" ({Name})")}\n\n");
        sb.Append(ci, $"Lap {Number} on {(Domain == LapSpec.DemoDomain ? "the demo domain" : "uploaded datasets")}; wall time {Minutes(WallSeconds)}, job compute {Minutes(JobSeconds)}.\n\n");
        sb.Append("| phase | wall | job compute | jobs | note |\n|---|---|---|---|---|\n");
        foreach (var p in Phases)
            sb.Append(ci, $"| {p.Phase} | {Minutes(p.WallSeconds)} | {Minutes(p.JobSeconds)} | {p.Jobs} | {(p.ReusedFrom is null ? "" : $"reused from {p.ReusedFrom}")} |\n");
        sb.Append("\n## Measures on held-out data\n\n| measure | value |\n|---|---|\n");
        foreach (var (k, v) in Measures.Where(x => !x.Key.StartsWith("parseFailures.", StringComparison.Ordinal)).OrderBy(x => x.Key, StringComparer.Ordinal))
            sb.Append(ci, $"| {k} | {v.ToString("0.####", ci)} |\n");
        var failures = Measures.Where(x => x.Key.StartsWith("parseFailures.", StringComparison.Ordinal)).OrderBy(x => x.Key, StringComparer.Ordinal).ToList();
        sb.Append("\n## Parse failures by reason\n\n");
        if (failures.Count == 0) sb.Append("none\n");
        else
        {
            sb.Append("| reason | count |\n|---|---|\n");
            foreach (var (k, v) in failures) sb.Append(ci, $"| {k["parseFailures.".Length..]} | {v.ToString("0", ci)} |\n");
        }
        if (Absent.Count > 0)
        {
            sb.Append("\n## Measures this lap does not have\n\n| measure | why |\n|---|---|\n");
            foreach (var (k, why) in Absent) sb.Append(ci, $"| {k} | {why} |\n");
        }
        if (Targets.Count > 0)
        {
            sb.Append("\n## Targets\n\n| target | rule | met |\n|---|---|---|\n");
            foreach (var t in Targets) sb.Append(ci, $"| {t.Name} | {t.Rule} | {(t.Met is null ? "n/a" : t.Met.Value ? "yes" : "no")} |\n");
        }
        if (Plots.Count > 0)
        {
            sb.Append("\n## Plots\n\n");
            foreach (var plot in Plots) sb.Append(ci, $"![{plot.Title}]({plot.File})\n\n");
        }
        if (PlotErrors is { Count: > 0 } left)
        {
            sb.Append("\nPlots left out:\n\n");
            foreach (string why in left) sb.Append("- ").Append(why.ReplaceLineEndings(" ")).Append('\n');
        }
        if (Run is { } run)
        {
            sb.Append(ci, $"\n## Run\n\ncode {run.CodeVersion ?? "unknown"}; .NET {run.Dotnet}; {run.Os}; {run.Machine}, {run.ProcessorCount} CPUs, {run.MemoryGb.ToString("0.#", ci)} GiB\n");
            if (run.Packages.Count > 0) sb.Append("packages: ").Append(string.Join(", ", run.Packages.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}"))).Append('\n');
        }
        if (Spec is { } spec) sb.Append("\n## Spec\n\n```json\n").Append(Json.Serialize(spec, indented: true)).Append("\n```\n");
        return sb.ToString();
    }

    static string Minutes(double seconds) => seconds >= 60
        ? $"{(int)(seconds / 60)} min {(seconds % 60).ToString("0", CultureInfo.InvariantCulture)} s"
        : $"{seconds.ToString("0.#", CultureInfo.InvariantCulture)} s";
}
