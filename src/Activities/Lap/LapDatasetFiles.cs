using System.Text;

namespace MathV2.Activities;

/// <summary>Reads a dataset lap's role (DatasetArtifacts.Roles) from its uploaded artifact: the first of the role's files it holds.</summary>
static class LapDatasetFiles
{
    public static async Task<List<T>> ReadAsync<T>(ArtifactStore artifacts, DatasetArtifacts d, string role)
    {
        var (_, id, _, files) = d.Roles().Single(r => r.Role == role);
        var m = await artifacts.GetAsync(id ?? throw new ArgumentException($"datasets.{role} is not set"))
            ?? throw new InvalidOperationException($"datasets.{role}: artifact {id} does not exist");
        string file = files.FirstOrDefault(f => m.Files.Any(x => x.Path == f))
            ?? throw new InvalidOperationException($"datasets.{role}: artifact {id} has no {string.Join(" or ", files)}");
        var rows = Jsonl.Read<T>(Encoding.UTF8.GetString(await artifacts.ReadFileAsync(m, file)), $"{id}/{file}").Rows.ToList();
        // Problems are looked up by id (statements of proofs, measures): one row per id, found before any job runs.
        if (rows is List<ProblemRow> problems && problems.GroupBy(p => p.Id).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new InvalidDataException($"datasets.{role}: problem id '{twice.Key}' is on {twice.Count()} rows of {id}/{file}: ids must be unique");
        return rows;
    }
}
