using MathV2.Core.Http;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Models;
using Microsoft.DurableTask.Client;

namespace MathV2.Api;

/// <summary>What only storage can tell at the door: whether a named artifact can serve its role.</summary>
public static class ArtifactDoor
{
    /// <summary>Why an artifact cannot be a checkpoint input, or null when it can.</summary>
    public static async Task<string?> CheckpointProblemAsync(ArtifactStore artifacts, string id, CancellationToken ct)
    {
        var m = await artifacts.GetAsync(id, ct);
        if (m == null) return $"no artifact '{id}' exists";
        var files = m.Files.Select(f => f.Path).ToHashSet();
        var missing = CheckpointFiles.Required.Where(f => !files.Contains(f)).ToList();
        if (!files.Contains(CheckpointFiles.Weights) && !files.Contains(CheckpointFiles.WeightsIndex)) missing.Add($"{CheckpointFiles.Weights} (or {CheckpointFiles.WeightsIndex})");
        return missing.Count == 0 ? null : $"artifact '{id}' is not a checkpoint: it has no {string.Join(", ", missing)}";
    }

    /// <summary>Why the checkpoint's chat template cannot wrap the lap's prompts (none, or one the renderer refuses), or null.</summary>
    public static async Task<string?> ChatTemplateProblemAsync(ArtifactStore artifacts, string id, CancellationToken ct)
    {
        var m = await artifacts.GetAsync(id, ct);
        if (m == null || m.Files.All(f => f.Path != "tokenizer_config.json")) return $"the checkpoint '{id}' has no tokenizer_config.json, so no chat template";
        try
        {
            string json = System.Text.Encoding.UTF8.GetString(await artifacts.ReadFileAsync(m, "tokenizer_config.json", ct));
            var template = Core.Models.ChatTemplate.FromConfig(json, () => DateTime.UnixEpoch);
            if (template == null) return $"the checkpoint '{id}' has no chat_template in its tokenizer_config.json";
            template.RenderPrompt("Prove that 1 + 1 = 2.");
            return null;
        }
        catch (Exception e) when (e is InvalidDataException or System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            return $"the checkpoint's chat template cannot be used: {e.Message}";
        }
    }

    /// <summary>The file a dataset role reads of an artifact (the first of the role's files it holds), or why it cannot serve the role.</summary>
    public static async Task<(string? Problem, string? File)> DatasetProblemAsync(ArtifactStore artifacts, string id, string[] files, CancellationToken ct)
    {
        var m = await artifacts.GetAsync(id, ct);
        if (m == null) return ($"no artifact '{id}' exists", null);
        string? file = files.FirstOrDefault(f => m.Files.Any(x => x.Path == f));
        return file != null ? (null, file)
            : ($"artifact '{id}' has no {string.Join(" or ", files)} (it has {string.Join(", ", m.Files.Select(f => f.Path))})", null);
    }
}

/// <summary>Custom statuses, outputs and failures of orchestration records.</summary>
public static class ApiJson
{
    /// <summary>The top-level runs with the prefix (lap-, fly-, search-), newest first: their phases and jobs share the prefix but have more dashes.</summary>
    public static async Task<List<RunSummary<TStatus>>> ListRunsAsync<TStatus>(Microsoft.DurableTask.Client.DurableTaskClient client, string prefix, CancellationToken ct)
        where TStatus : class
    {
        var runs = new List<RunSummary<TStatus>>();
        await foreach (var m in client.GetAllInstancesAsync(new Microsoft.DurableTask.Client.OrchestrationQuery { InstanceIdPrefix = prefix, FetchInputsAndOutputs = false }).WithCancellation(ct))
            if (m.InstanceId.Count(c => c == '-') == 1)
                runs.Add(new RunSummary<TStatus>
                {
                    Id = m.InstanceId, RuntimeStatus = m.RuntimeStatus.ToString(), CreatedAt = m.CreatedAt, LastUpdatedAt = m.LastUpdatedAt,
                    Status = Read<TStatus>(m.SerializedCustomStatus),
                });
        return [.. runs.OrderByDescending(r => r.CreatedAt)];
    }

    /// <summary>A custom status or output in its record; null when absent or of another shape (both engines' casing is read).</summary>
    public static T? Read<T>(string? json) where T : class
    {
        if (string.IsNullOrEmpty(json)) return null;
        try { return System.Text.Json.JsonSerializer.Deserialize<T>(json, Json.Options); }
        catch (System.Text.Json.JsonException) { return null; }
    }

    public static T? OutputOf<T>(OrchestrationMetadata meta) where T : class =>
        meta.RuntimeStatus == OrchestrationRuntimeStatus.Completed ? Read<T>(meta.SerializedOutput) : null;

    /// <summary>The failure message; the local engine keeps it in the output of a failed instance.</summary>
    public static string? FailureOf(OrchestrationMetadata meta) =>
        meta.FailureDetails?.ErrorMessage ?? (meta.RuntimeStatus == OrchestrationRuntimeStatus.Failed && ApiHandlers.ParseOrNull(meta.SerializedOutput) is { ValueKind: System.Text.Json.JsonValueKind.String } s ? s.GetString() : null);
}
