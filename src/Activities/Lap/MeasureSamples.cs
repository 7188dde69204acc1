namespace MathV2.Activities;

/// <summary>Held-out measures of sample (or refine) job results: see LapMeasures.</summary>
[DurableTask(TaskNames.MeasureSamples)]
public sealed class MeasureSamples(ArtifactStore artifacts) : TaskActivity<MeasureInput, Dictionary<string, double>>
{
    public override Task<Dictionary<string, double>> RunAsync(TaskActivityContext context, MeasureInput input) => ExecuteAsync(input);

    public async Task<Dictionary<string, double>> ExecuteAsync(MeasureInput input)
    {
        switch (input.Kind)
        {
            case "verifier":
                var rows = Jsonl.Read<GradedProofRow>(await LapStore.ReadArtifactTextAsync(artifacts, input.HeldOut ?? throw new ArgumentException("verifier measures need the held-out set"),
                    LapFiles.HeldOutGradedProofs), LapFiles.HeldOutGradedProofs).Rows;
                var measures = LapMeasures.Verifier(input.Subject, rows, await LapStore.ReadCompletionsAsync(artifacts, input.Samples), input.Oracle);
                if (input.Sampled.Count > 0)
                    LapMeasures.Merge(measures, LapMeasures.Verifier($"{input.Subject}.sampled", rows, await LapStore.ReadCompletionsAsync(artifacts, input.Sampled), input.Oracle));
                return measures;
            case "generator":
                return LapMeasures.Generator(input.Subject, await LapStore.ReadCompletionsAsync(artifacts, input.Samples), input.Oracle);
            case "meta":
                var analyses = Jsonl.Read<GradedAnalysisRow>(await LapStore.ReadArtifactTextAsync(artifacts, input.HeldOut ?? throw new ArgumentException("meta measures need the held-out set"),
                    LapFiles.HeldOutGradedAnalyses), LapFiles.HeldOutGradedAnalyses).Rows;
                return LapMeasures.MetaVerifier(input.Subject, analyses, await LapStore.ReadCompletionsAsync(artifacts, input.Samples));
            case "judged":
                var m = new Dictionary<string, double>();
                foreach (var g in (await LapStore.ReadCompletionsAsync(artifacts, input.Samples)).GroupBy(c => c.Id.Split('|')[0]))
                    LapMeasures.Merge(m, LapMeasures.JudgedByVerifier(g.Key, g.ToList()));
                return m;
            case "refinement":
                var records = new List<RefinementRecord>();
                foreach (string id in input.Samples)
                    records.AddRange(Jsonl.Records<RefinementRecord>(await LapStore.ReadArtifactTextAsync(artifacts, id, LapFiles.Refinements)));
                return LapMeasures.Refinement(records, input.MaxIterations, input.Oracle);
            default:
                throw new ArgumentException($"unknown measure kind '{input.Kind}'");
        }
    }
}
