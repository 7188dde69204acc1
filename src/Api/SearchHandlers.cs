using MathV2.Core.Telemetry;
using System.Text;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Http;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using MathV2.Core.Search;
using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask.Client;

namespace MathV2.Api;

/// <summary>The test-time search's routes: start one, follow it, read its best proofs.</summary>
public sealed class SearchHandlers(ArtifactStore artifacts, GpuJobClient jobs, GpuJobLimits defaultLimits, RunAdmission? admission = null)
{
    public const string Prefix = "search-";

    /// <summary>POST /api/searches: validates the SearchSpec (fields, then the artifacts it names) and starts a Search; 202.</summary>
    public async Task<IResult> StartAsync(HttpRequest req, DurableTaskClient client, CancellationToken ct = default)
    {
        var (spec, error) = await ApiHandlers.ReadBodyAsync<SearchSpec>(req, allowEmpty: false, ct);
        if (error != null) return error;
        spec = spec! with { Limits = spec.Limits ?? defaultLimits };
        var errors = spec.Validate().ToList();
        foreach (var (field, model) in new[] { ("generator", spec.Generator), ("verifier", spec.Verifier) })
            if (Ids.IsValid(model) && await ArtifactDoor.CheckpointProblemAsync(artifacts, model!, ct) is { } problem) errors.Add((field, problem));
            else if (Ids.IsValid(model) && spec.ChatTemplate && await ArtifactDoor.ChatTemplateProblemAsync(artifacts, model!, ct) is { } chat) errors.Add(("chatTemplate", $"{field}: {chat}"));
        if (Ids.IsValid(spec.ProblemsArtifact) && await ArtifactDoor.DatasetProblemAsync(artifacts, spec.ProblemsArtifact!, [spec.ProblemsFile], ct) is ({ } why, _))
            errors.Add(("problemsArtifact", why));
        if (errors.Count > 0) return Problems.Invalid(errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()));
        if (admission != null && await admission.AdmitAsync(client, ct) is { } full) return full;
        string id = Prefix + Guid.NewGuid().ToString("N")[..12];
        await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.Search, new SearchInput { SearchId = id, Spec = spec, TraceParent = MathV2Telemetry.CurrentTraceParent() }, new() { InstanceId = id }, ct);
        return ApiHandlers.CheckStatus(req, id);
    }

    /// <summary>GET /api/searches: the searches, newest first, each with its round and step.</summary>
    public async Task<IResult> ListAsync(DurableTaskClient client, CancellationToken ct = default) =>
        Results.Json(await ApiJson.ListRunsAsync<SearchStatus>(client, Prefix, ct), Json.Options);

    /// <summary>GET /api/searches/{id}: status, each problem after the last scored round, the running jobs' progress.</summary>
    public async Task<IResult> GetAsync(DurableTaskClient client, string id, CancellationToken ct = default)
    {
        if (!IsSearchId(id)) return Problems.BadRequest($"'{id}' is not a search id", "id");
        var meta = await client.GetInstanceAsync(id, getInputsAndOutputs: true, ct);
        if (meta == null) return Problems.NotFound("Search", id);
        var status = ApiJson.Read<SearchStatus>(meta.SerializedCustomStatus);
        var output = ApiJson.OutputOf<SearchResult>(meta);
        string? stateId = status?.State;
        // The last round's state: the one the finished search wrote its result from, else the last one scored.
        if (output != null || status?.Step is "result" or "done")
            stateId = await LastStateAsync(id, status?.Round ?? output?.Rounds ?? 1, ct) ?? stateId;
        var problems = new List<SearchProblemView>();
        if (stateId != null && await artifacts.GetAsync(stateId, ct) is { } m)
            problems.AddRange(Json.Deserialize<SearchState>(Encoding.UTF8.GetString(await artifacts.ReadFileAsync(m, "state.json", ct))).Problems.Select(SearchProblemView.Of));
        var running = output == null ? await jobs.ProgressAsync(status?.Jobs ?? [], ct) : [];
        return Results.Json(new SearchView
        {
            Id = id, RuntimeStatus = meta.RuntimeStatus.ToString(), CreatedAt = meta.CreatedAt, LastUpdatedAt = meta.LastUpdatedAt,
            Status = status, Problems = problems, Jobs = running, Output = output, Failure = ApiJson.FailureOf(meta),
        }, Json.Options);
    }

    /// <summary>GET /api/searches/{id}/proofs: the finished search's best proof per problem with its analyses (JSONL).</summary>
    public async Task<IResult> GetProofsAsync(string id, CancellationToken ct = default)
    {
        if (!IsSearchId(id)) return Problems.BadRequest($"'{id}' is not a search id", "id");
        var m = await artifacts.GetAsync($"{id}.result", ct);
        if (m == null) return Problems.NotFound("Search result", id);
        return Results.Text(Encoding.UTF8.GetString(await artifacts.ReadFileAsync(m, "result.jsonl", ct)), "application/x-ndjson", Encoding.UTF8);
    }

    async Task<string?> LastStateAsync(string id, int round, CancellationToken ct)
    {
        for (int r = round; r >= 1; r--)
            if (await artifacts.GetAsync($"{id}.r{r}.pool", ct) != null) return $"{id}.r{r}.pool";
        return null;
    }

    static bool IsSearchId(string id) => Ids.IsValid(id) && id.StartsWith(Prefix, StringComparison.Ordinal) && !id.Contains('.');
}
