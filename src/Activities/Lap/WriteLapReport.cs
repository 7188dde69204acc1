namespace MathV2.Activities;

/// <summary>The lap report as an artifact ({lapId}.report: report.json, report.md) whose parents are the lap's artifacts.</summary>
[DurableTask(TaskNames.WriteLapReport)]
public sealed class WriteLapReport(ArtifactStore artifacts) : TaskActivity<LapReportInput, string>
{
    public override Task<string> RunAsync(TaskActivityContext context, LapReportInput input) => ExecuteAsync(input);

    /// <summary>This process's build, runtime, machine and the versions of the packages the lap's engine runs on.</summary>
    public static ReportRun CurrentRun()
    {
        static string? Informational(Type t) => t.Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion;
        static string? Version(Type t) => Informational(t)?.Split('+')[0];
        var packages = new Dictionary<string, string>();
        foreach (var (name, type) in new[]
        {
            ("Azure.Storage.Blobs", typeof(Azure.Storage.Blobs.BlobServiceClient)), ("Azure.Data.Tables", typeof(Azure.Data.Tables.TableClient)),
            ("Microsoft.DurableTask.Abstractions", typeof(Microsoft.DurableTask.TaskOrchestrationContext)), ("Polly.Core", typeof(Polly.ResiliencePipeline)),
        })
            if (Version(type) is { } v) packages[name] = v;
        return new ReportRun
        {
            CodeVersion = Informational(typeof(LapReport)),
            Dotnet = Environment.Version.ToString(), Os = System.Runtime.InteropServices.RuntimeInformation.OSDescription, Machine = Environment.MachineName,
            ProcessorCount = Environment.ProcessorCount, MemoryGb = Math.Round(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (double)(1L << 30), 1),
            Packages = packages,
        };
    }

    public async Task<string> ExecuteAsync(LapReportInput input)
    {
        string id = $"{input.LapId}.report";
        if (await artifacts.GetAsync(id) != null) return id;
        var report = LapReport.Build(input.LapId, input.Name, input.Number, input.Phases, input.Started, input.Finished, input.Artifacts, input.Domain)
            with { Spec = input.Spec, Run = CurrentRun() };
        var (plots, plotErrors) = await PlotsAsync(input, report.Measures);
        // Plots are for people: one that cannot be drawn is left out with the reason, never failing the finished lap.
        var pngs = new List<(PlotSpec Spec, byte[] Png)>();
        foreach (var plot in plots)
            try { pngs.Add((plot, ReportPlotter.Png(plot))); }
            catch (Exception e) when (e is not OutOfMemoryException) { plotErrors.Add($"{plot.File}: {e.GetType().Name}: {e.Message}"); }
        report = report with { Plots = [.. pngs.Select(p => new ReportPlot(p.Spec.File, p.Spec.Title))], PlotErrors = plotErrors.Count > 0 ? plotErrors : null };
        var parents = new List<string>();
        foreach (string a in input.Artifacts.Named().Select(x => x.Id).Distinct())
            if (await artifacts.GetAsync(a) != null) parents.Add(a); // batch ids are not artifacts
        var w = artifacts.Create(id, "lap-report", StorageNames.DatasetsContainer, id, new ArtifactProducer { Lap = input.LapId, Phase = "report" }, parents);
        foreach (var (plot, png) in pngs) await w.AddFileAsync(plot.File, png);
        await w.AddTextAsync(LapFiles.ReportJson, Json.Serialize(report, indented: true));
        await w.AddTextAsync(LapFiles.ReportMarkdown, report.ToMarkdown());
        await LapStore.CommitOnceAsync(w);
        return id;
    }

    /// <summary>The training curves of each phase that ran (its jobs' metrics.jsonl) and, in a flywheel, the held-out measures per lap.</summary>
    async Task<(List<PlotSpec> Plots, List<string> Errors)> PlotsAsync(LapReportInput input, IReadOnlyDictionary<string, double> measures)
    {
        var plots = new List<PlotSpec>();
        var errors = new List<string>();
        foreach (var phase in input.Phases.Where(p => p.ReusedFrom == null))
        {
            var runs = new List<LapPlots.TrainingRun>();
            foreach (var job in phase.Jobs.Where(j => j.ResultArtifactId != null))
                try
                {
                    var m = await artifacts.GetAsync(job.ResultArtifactId!);
                    if (m == null || !m.Files.Any(f => f.Path == LapFiles.Metrics)) continue;
                    string prefix = $"{input.LapId}-{phase.Phase}-";
                    string run = job.JobId.StartsWith(prefix, StringComparison.Ordinal) ? job.JobId[prefix.Length..] : job.JobId;
                    runs.Add(LapPlots.TrainingRun.Read(run, System.Text.Encoding.UTF8.GetString(await artifacts.ReadFileAsync(m, LapFiles.Metrics))));
                }
                catch (InvalidDataException e) { errors.Add($"{job.JobId}: {e.Message}"); }   // a bad or changed metrics.jsonl: that run left out
            plots.AddRange(LapPlots.Training(phase.Phase, runs));
        }
        var laps = new List<(int, IReadOnlyDictionary<string, double>)>();
        foreach (string earlier in input.EarlierReports)
            try
            {
                var r = Json.Deserialize<LapReport>(await LapStore.ReadArtifactTextAsync(artifacts, earlier, LapFiles.ReportJson));
                laps.Add((r.Number, r.Measures));
            }
            catch (Exception e) when (e is InvalidDataException or InvalidOperationException or System.Text.Json.JsonException) { errors.Add($"{earlier}: {e.Message}"); }
        laps.Add((input.Number, measures));
        if (LapPlots.HeldOut(laps) is { } heldOut) plots.Add(heldOut);
        return (plots, errors);
    }
}
