namespace MathV2.Activities;

/// <summary>
/// D_v after phase 4 ({lapId}-4.dv): the earlier D_v and the consensus-labelled proofs; where people audited a
/// label, their score takes its place, and the measures give how often they agreed.
/// </summary>
[DurableTask(TaskNames.BuildConsensusDv)]
public sealed class BuildConsensusDv(MathV2Storage storage, ArtifactStore artifacts) : TaskActivity<ConsensusDvInput, ConsensusDvResult>
{
    public override Task<ConsensusDvResult> RunAsync(TaskActivityContext context, ConsensusDvInput input) => ExecuteAsync(input);

    public async Task<ConsensusDvResult> ExecuteAsync(ConsensusDvInput input)
    {
        string dvId = $"{input.LapId}-4.dv";
        var labels = Jsonl.Records<ConsensusLabel>(await LapStore.ReadArtifactTextAsync(artifacts, input.Consensus, LapFiles.Consensus));
        var people = new Dictionary<int, double>();
        if (input.Audit is { } audit)
            foreach (var l in Jsonl.Records<AnnotationLabel>(await LapStore.ReadTextAsync(storage, StorageNames.AnnotationsContainer, audit.LabelsPath)))
                people[int.Parse(l.ItemId.AsSpan("proof-".Length), System.Globalization.CultureInfo.InvariantCulture)] = l.Score;
        if (await artifacts.GetAsync(dvId) == null)
        {
            var earlier = Jsonl.Read<GradedProofRow>(await LapStore.ReadArtifactTextAsync(artifacts, input.Dv, LapFiles.GradedProofs), LapFiles.GradedProofs).Rows;
            var added = labels.Select((l, i) => (l, i)).Where(x => x.l.Outcome.Decision == ConsensusDecision.Labeled)
                .Select(x => new GradedProofRow { ProblemId = x.l.Proof.ProblemId, Problem = x.l.Proof.Problem, Proof = x.l.Proof.Proof, Score = people.TryGetValue(x.i, out var p) ? p : x.l.Outcome.Label!.Value });
            var w = artifacts.Create(dvId, "dataset-graded-proofs", StorageNames.DatasetsContainer, dvId, new ArtifactProducer { Lap = input.LapId, Phase = "4" }, [input.Dv, input.Consensus]);
            await w.AddTextAsync(LapFiles.GradedProofs, Jsonl.Write(earlier.Concat(added)));
            await LapStore.CommitOnceAsync(w);
        }
        return new ConsensusDvResult { Dv = dvId, Metrics = AutoLabelling.AuditMeasures(labels, people) };
    }
}
