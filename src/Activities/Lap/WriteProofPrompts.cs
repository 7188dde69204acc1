using MathV2.Core.Demo;

namespace MathV2.Activities;

/// <summary>Verification prompts (and proofs.jsonl) for generated proofs; an unparsable output is judged as written.</summary>
[DurableTask(TaskNames.WriteProofPrompts)]
public sealed class WriteProofPrompts(ArtifactStore artifacts) : TaskActivity<ProofPromptsInput, string>
{
    public const string ProofsFile = "proofs.jsonl";

    public override Task<string> RunAsync(TaskActivityContext context, ProofPromptsInput input) => ExecuteAsync(input);

    public async Task<string> ExecuteAsync(ProofPromptsInput input)
    {
        string id = $"{input.LapId}-{input.Phase}.{input.Step}-prompts";
        if (await artifacts.GetAsync(id) != null) return id;
        var set = input.Prompts;
        var statements = new Dictionary<string, string>();
        foreach (var f in input.Problems)
            foreach (var r in Jsonl.Read<ProblemRow>(await LapStore.ReadArtifactTextAsync(artifacts, f.Artifact, f.File), f.File).Rows) statements.TryAdd(r.Id, r.Problem);
        var proofs = new List<ConsensusProof>();
        foreach (var (subject, sources) in input.Sources)
            foreach (var c in await LapStore.ReadCompletionsAsync(artifacts, sources))
            {
                string proof = CreateAnnotationBatch.ProofOf(c.Completion, c.FinishReason);
                string problem = statements.GetValueOrDefault(c.Id) ?? ArithmeticDomainIds.TryProblem(c.Id)?.Statement
                    ?? throw new InvalidOperationException($"problem {c.Id} of {string.Join(", ", sources)} is in none of the lap's problem files");
                proofs.Add(new ConsensusProof { Id = $"{subject}|{c.Id}|{c.Index}", ProblemId = c.Id, Problem = problem, Proof = proof });
            }
        // Refinement trajectories: the first attempt and the answer (the last), as subjects of their own.
        foreach (string source in input.Refinements)
            foreach (var r in Jsonl.Records<RefinementRecord>(await LapStore.ReadArtifactTextAsync(artifacts, source, LapFiles.Refinements)))
                if (r.Attempts.Count > 0)
                    foreach (var (subject, a) in new[] { ("refinement.firstAttempt", r.Attempts[0]), ("refinement.lastAttempt", r.Attempts[^1]) })
                        proofs.Add(new ConsensusProof
                        {
                            Id = $"{subject}|{r.Id}|{r.Sample}", ProblemId = r.Id, Problem = statements.GetValueOrDefault(r.Id) ?? r.Problem,
                            Proof = CreateAnnotationBatch.ProofOf(a.Completion, a.FinishReason),
                        });
        var w = artifacts.Create(id, "dataset-prompts", StorageNames.DatasetsContainer, id,
            new ArtifactProducer { Lap = input.LapId, Phase = input.Phase }, input.Sources.Values.SelectMany(x => x).Concat(input.Refinements).Distinct().ToList());
        await w.AddTextAsync(ProofsFile, string.Concat(proofs.Select(p => Json.Serialize(p) + "\n")));
        await w.AddTextAsync(LapFiles.VerificationPrompts, string.Concat(proofs.Select(p =>
            Json.Serialize(new { id = p.Id, prompt = Prompts.RenderVerification(p.Problem, p.Proof, set.Verification) }) + "\n")));
        await LapStore.CommitOnceAsync(w);
        return id;
    }

    public static async Task<List<ConsensusProof>> ReadProofsAsync(ArtifactStore artifacts, string id) =>
        Jsonl.Records<ConsensusProof>(await LapStore.ReadArtifactTextAsync(artifacts, id, ProofsFile));
}
