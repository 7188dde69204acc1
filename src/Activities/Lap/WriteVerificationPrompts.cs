using System.Text;
using Azure;

namespace MathV2.Activities;

/// <summary>Phase 1C: verification prompts for every D_v row (ids row-N), as a prompts artifact for a sample job.</summary>
[DurableTask(TaskNames.WriteVerificationPrompts)]
public sealed class WriteVerificationPrompts(ArtifactStore artifacts) : TaskActivity<VerificationPromptsInput, string>
{
    public override Task<string> RunAsync(TaskActivityContext context, VerificationPromptsInput input) => ExecuteAsync(input);

    public async Task<string> ExecuteAsync(VerificationPromptsInput input)
    {
        string id = $"{input.LapId}-{input.Phase}.verification-prompts";
        if (await artifacts.GetAsync(id) != null) return id;
        var dv = await artifacts.GetAsync(input.GradedProofs) ?? throw new InvalidOperationException($"graded proofs artifact {input.GradedProofs} does not exist");
        var rows = Jsonl.Read<GradedProofRow>(Encoding.UTF8.GetString(await artifacts.ReadFileAsync(dv, LapFiles.GradedProofs)), LapFiles.GradedProofs).Rows;
        var set = input.Prompts;
        var w = artifacts.Create(id, "dataset-prompts", StorageNames.DatasetsContainer, id,
            new ArtifactProducer { Lap = input.LapId, Phase = input.Phase }, [input.GradedProofs]);
        var picked = input.MaxRows is { } max && max < rows.Count
            ? Enumerable.Range(0, max).Select(k => (int)((long)k * rows.Count / max)).ToList()
            : Enumerable.Range(0, rows.Count).ToList();
        await w.AddTextAsync(LapFiles.VerificationPrompts, string.Concat(picked.Select(i =>
            Json.Serialize(new { id = $"row-{i}", prompt = Prompts.RenderVerification(rows[i].Problem, rows[i].Proof, set.Verification) }) + "\n")));
        try { await w.CommitAsync(); }
        catch (RequestFailedException e) when (e.Status is 409 or 412) { }
        return id;
    }
}
