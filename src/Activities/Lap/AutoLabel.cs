using System.Text;

namespace MathV2.Activities;

/// <summary>
/// Phase 4's consensus labels: consensus.jsonl (every decision with its evidence, fixed and adaptive) and
/// discarded.jsonl (the proofs sent to humans) in {lapId}-4.consensus; with an audit size, the batch of labelled
/// proofs people check (items proof-{i}: the i-th line of consensus.jsonl).
/// </summary>
[DurableTask(TaskNames.AutoLabel)]
public sealed class AutoLabel(MathV2Storage storage, ArtifactStore artifacts) : TaskActivity<AutoLabelInput, AutoLabelResult>
{
    public override Task<AutoLabelResult> RunAsync(TaskActivityContext context, AutoLabelInput input) => ExecuteAsync(input);

    public async Task<AutoLabelResult> ExecuteAsync(AutoLabelInput input)
    {
        string consensusId = $"{input.LapId}-4.consensus";
        List<ConsensusLabel> labels;
        if (await artifacts.GetAsync(consensusId) is { } existing)
            labels = Jsonl.Records<ConsensusLabel>(Encoding.UTF8.GetString(await artifacts.ReadFileAsync(existing, LapFiles.Consensus)));
        else
        {
            var proofs = await WriteProofPrompts.ReadProofsAsync(artifacts, input.Proofs);
            labels = AutoLabelling.Label(proofs, await LapStore.ReadCompletionsAsync(artifacts, input.Analyses), await LapStore.ReadCompletionsAsync(artifacts, input.Metas),
                new ConsensusOptions { N = input.N, M = input.M, K = input.K }, input.Oracle);
            var w = artifacts.Create(consensusId, "consensus-labels", StorageNames.DatasetsContainer, consensusId,
                new ArtifactProducer { Lap = input.LapId, Phase = "4" }, [input.Proofs, .. input.Analyses, .. input.Metas]);
            await w.AddTextAsync(LapFiles.Consensus, string.Concat(labels.Select(l => Json.Serialize(l) + "\n")));
            await w.AddTextAsync(LapFiles.Discarded, string.Concat(labels.Where(l => l.Outcome.Decision == ConsensusDecision.Discarded).Select(l => Json.Serialize(l) + "\n")));
            await LapStore.CommitOnceAsync(w);
        }
        AnnotationBatch? audit = null;
        var picked = AutoLabelling.PickAudit(labels, input.AuditSize, $"{input.Seed}-4-audit");
        if (picked.Count > 0)
        {
            string batchId = $"{input.LapId}-4-audit";
            audit = await LapStore.GetBatchAsync(storage, batchId);
            if (audit == null)
            {
                var items = picked.Select(i => new AnnotationItem
                {
                    ItemId = AutoLabelling.AuditItemId(i), ProblemId = labels[i].Proof.ProblemId, Problem = labels[i].Proof.Problem, Proof = labels[i].Proof.Proof,
                }).ToList();
                audit = new AnnotationBatch
                {
                    BatchId = batchId, LapId = input.LapId, Kind = AnnotationKinds.Proofs, InstanceId = input.InstanceId, Items = items.Count,
                    ItemsPath = $"{batchId}/{LapFiles.Items}", LabelsPath = $"{batchId}/{LapFiles.Labels}", SamplesArtifact = consensusId,
                };
                var container = storage.Container(StorageNames.AnnotationsContainer);
                await container.GetBlobClient(audit.ItemsPath).UploadAsync(BinaryData.FromString(AnnotationValidation.WriteItems(items)), overwrite: true);
                await container.GetBlobClient($"{batchId}/{LapFiles.Batch}").UploadAsync(BinaryData.FromString(Json.Serialize(audit, indented: true)), overwrite: true);
            }
        }
        return new AutoLabelResult { Consensus = consensusId, Metrics = AutoLabelling.Measures(labels), Audit = audit };
    }
}
