using System.Text;
using System.Text.Json;

namespace MathV2.Activities;

/// <summary>
/// Phase 4's consensus, one wave ({lapId}-4.consensus-wave{w+1}): the adaptive rule replayed on each proof's samples
/// drawn so far; for each proof it leaves open, the samples it draws next (ConsensusWaves.Plan) as prompt rows
/// listing their indices: verification prompts (id the proof's) and meta-verification prompts ("{proofId}#{i}",
/// rendered from analysis i). Jobs sample them with streams keyed by (prompt id, index): the samples of one big job.
/// </summary>
[DurableTask(TaskNames.PlanConsensusWave)]
public sealed class PlanConsensusWave(ArtifactStore artifacts) : TaskActivity<ConsensusWaveInput, ConsensusWaveResult>
{
    public override Task<ConsensusWaveResult> RunAsync(TaskActivityContext context, ConsensusWaveInput input) => ExecuteAsync(input);

    public async Task<ConsensusWaveResult> ExecuteAsync(ConsensusWaveInput input)
    {
        string id = $"{input.LapId}-4.consensus-wave{input.Wave + 1}";
        if (await artifacts.GetAsync(id) is { } existing)
            return Json.Deserialize<ConsensusWaveResult>(Encoding.UTF8.GetString(await artifacts.ReadFileAsync(existing, WaveFile)));
        var o = new ConsensusOptions { N = input.N, M = input.M, K = input.K };
        var proofs = await WriteProofPrompts.ReadProofsAsync(artifacts, input.Proofs);
        var prompts = (await LapStore.ReadArtifactTextAsync(artifacts, input.Proofs, LapFiles.VerificationPrompts)).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).ToDictionary(e => e.GetProperty("id").GetString()!, e => e.GetProperty("prompt").GetString()!);
        var byProof = (await LapStore.ReadCompletionsAsync(artifacts, input.Analyses)).GroupBy(a => a.Id).ToDictionary(g => g.Key, g => g.ToList());
        var metaById = (await LapStore.ReadCompletionsAsync(artifacts, input.Metas)).GroupBy(m => m.Id).ToDictionary(g => g.Key, g => g.ToList());
        var analysisRows = new StringBuilder();
        var metaRows = new StringBuilder();
        int open = 0, analysisCount = 0, metaCount = 0, samples = 0;
        foreach (var proof in proofs)
        {
            var mine = byProof.GetValueOrDefault(proof.Id, []);
            var d = AutoLabelling.Draws(proof.Id, mine, metaById);
            if (ConsensusWaves.Replay(d, o).Result != null) continue;
            open++;
            var request = ConsensusWaves.Plan(d, o, input.Wave, input.Waves);
            samples += request.Count;
            if (request.Analyses.Count > 0)
            {
                analysisRows.Append(Json.Serialize(new { id = proof.Id, prompt = prompts[proof.Id], samples = request.Analyses })).Append('\n');
                analysisCount++;
            }
            foreach (var (i, js) in request.Metas.OrderBy(x => x.Key))
            {
                string analysis = mine.First(a => a.Index == i).Completion;
                metaRows.Append(Json.Serialize(new
                {
                    id = AutoLabelling.MetaId(proof.Id, i), prompt = Prompts.RenderMetaVerification(proof.Problem, proof.Proof, analysis, input.Prompts.MetaVerification), samples = js,
                })).Append('\n');
                metaCount++;
            }
        }
        var result1 = new ConsensusWaveResult { Artifact = id, Open = open, AnalysisRows = analysisCount, MetaRows = metaCount, Samples = samples };
        var w = artifacts.Create(id, "dataset-prompts", StorageNames.DatasetsContainer, id, new ArtifactProducer { Lap = input.LapId, Phase = "4" },
            [input.Proofs, .. input.Analyses, .. input.Metas]);
        await w.AddTextAsync(LapFiles.VerificationPrompts, analysisRows.ToString());
        await w.AddTextAsync(LapFiles.MetaPrompts, metaRows.ToString());
        await w.AddTextAsync(WaveFile, Json.Serialize(result1));
        await LapStore.CommitOnceAsync(w);
        return result1;
    }

    /// <summary>The wave's counts, so a repeated call returns what the first one did.</summary>
    public const string WaveFile = "wave.json";
}
