using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Datasets;
using MathV2.Core.Jobs;
using MathV2.Core.Storage;

namespace MathV2.Host.Tests;

/// <summary>Artifacts in and out through the running host and the CLI: byte-exact round trips, refused uploads that commit nothing.</summary>
[Collection("stack")]
[Trait("Category", "EndToEnd")]
public sealed class ArtifactTransferTests(StackFixture stack)
{
    Task<(int Rc, string Out, string Err)> Cli(params string[] args) => stack.CliAsync(args);

    /// <summary>A checkpoint made by a job on the stack's worker (a tiny model, 2 SFT steps).</summary>
    async Task<string> TrainedCheckpointAsync() => await stack.SftCheckpointAsync(
        Enumerable.Range(0, 8).Select(i => new DemonstrationRow { Kind = "generation", Prompt = $"Problem {i}:\n", Completion = $"Answer {i}." }),
        new { hidden_size = 32, num_hidden_layers = 1, num_attention_heads = 4, num_key_value_heads = 2, intermediate_size = 64, max_position_embeddings = 128 },
        new { steps = 2, batchSize = 4, maxSeqLen = 64 });

    [Fact]
    public async Task A_jobs_checkpoint_downloaded_uploaded_and_downloaded_again_is_byte_exact()
    {
        await stack.Stack.UpAsync();
        string dir = Directory.CreateTempSubdirectory("mathv2-transfer-").FullName;
        string trained = await TrainedCheckpointAsync();
        var (rc, output, err) = await Cli("artifacts", "download", trained, "--out", Path.Combine(dir, "d1"), "--json");
        Assert.True(rc == 0, err);
        Assert.Equal(trained, JsonDocument.Parse(output).RootElement.GetProperty("artifact").GetString());
        foreach (string f in new[] { "config.json", "model.safetensors", "tokenizer.json" }) Assert.True(File.Exists(Path.Combine(dir, "d1", f)), f);

        string name = $"byo-{Guid.NewGuid():N}"[..16];
        (rc, output, err) = await Cli("artifacts", "put", Path.Combine(dir, "d1"), "--kind", "checkpoint", "--name", name, "--json");
        Assert.True(rc == 0, err);
        var uploaded = JsonDocument.Parse(output).RootElement;
        Assert.Equal(name, uploaded.GetProperty("artifact").GetString());
        var manifest = (await stack.Artifacts.GetAsync(name))!;
        Assert.Equal(("checkpoint", "upload"), (manifest.Kind, manifest.Producer.Worker));
        Assert.Equal((await stack.Artifacts.GetAsync(trained))!.Files.Select(f => (f.Path, f.Sha256, f.Size)).Order(), manifest.Files.Select(f => (f.Path, f.Sha256, f.Size)).Order());

        (rc, _, err) = await Cli("artifacts", "download", name, "--out", Path.Combine(dir, "d2"));
        Assert.True(rc == 0, err);
        foreach (var f in manifest.Files)
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(dir, "d1", f.Path)), await File.ReadAllBytesAsync(Path.Combine(dir, "d2", f.Path)));

        // One file as bytes; a binary file to stdout is refused; a Range request gets those bytes.
        (rc, _, err) = await Cli("artifacts", "get", name, "model.safetensors", "--out", Path.Combine(dir, "w.safetensors"));
        Assert.True(rc == 0, err);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(dir, "d1", "model.safetensors")), await File.ReadAllBytesAsync(Path.Combine(dir, "w.safetensors")));
        (rc, _, err) = await Cli("artifacts", "get", name, "model.safetensors");
        Assert.Equal(1, rc);
        Assert.Contains("is binary: write it to a file with --out FILE", err);
        using var ranged = new HttpRequestMessage(HttpMethod.Get, $"/api/artifacts/{name}/files/model.safetensors");
        ranged.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(8, 15);
        var part = await stack.Http.SendAsync(ranged);
        Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
        Assert.Equal((await File.ReadAllBytesAsync(Path.Combine(dir, "d1", "model.safetensors")))[8..16], await part.Content.ReadAsByteArrayAsync());
        Assert.Equal($"\"{manifest.Files.Single(f => f.Path == "model.safetensors").Sha256}\"", part.Headers.ETag?.Tag);
        Directory.Delete(dir, true);
    }

    public static IEnumerable<object[]> BadUploads()
    {
        yield return ["checkpoint", "missing config", "config.json: missing"];
        yield return ["checkpoint", "shape mismatch", "model.safetensors: tensor model.layers.0.mlp.gate_proj.weight: shape [64, 32], the config implies [48, 32]"];
        yield return ["checkpoint", "truncated", "(the file is truncated)"];
        yield return ["dataset", "bad line", "problems.jsonl:2: (row) is not valid JSON"];
        yield return ["dataset", "unknown score", "graded-proofs.jsonl:1: score must be 0, 0.5 or 1 (got 7)"];
    }

    [Theory]
    [MemberData(nameof(BadUploads))]
    public async Task A_bad_upload_of_each_kind_gets_a_400_naming_the_problem_and_commits_nothing(string kind, string what, string expected)
    {
        await stack.Stack.UpAsync();
        var files = new Dictionary<string, byte[]>();
        if (kind == "checkpoint")
        {
            string dir = Directory.CreateTempSubdirectory("mathv2-bad-").FullName;
            Assert.Equal(0, (await Cli("artifacts", "download", await TrainedCheckpointAsync(), "--out", dir)).Rc);
            foreach (string f in Directory.GetFiles(dir)) files[Path.GetFileName(f)] = await File.ReadAllBytesAsync(f);
            Directory.Delete(dir, true);
            switch (what)
            {
                case "missing config": files.Remove("config.json"); break;
                case "shape mismatch":
                    var config = System.Text.Json.Nodes.JsonNode.Parse(files["config.json"])!;
                    config["intermediate_size"] = 48;
                    files["config.json"] = Encoding.UTF8.GetBytes(config.ToJsonString());
                    break;
                default: files["model.safetensors"] = files["model.safetensors"][..^100]; break;
            }
        }
        else if (what == "bad line") files["problems.jsonl"] = Encoding.UTF8.GetBytes("{\"id\": \"p1\", \"problem\": \"P\"}\n{\"id\": \"p2\", \"problem\n");
        else files["graded-proofs.jsonl"] = Encoding.UTF8.GetBytes("{\"problemId\": \"p1\", \"problem\": \"P\", \"proof\": \"Y\", \"score\": 7}\n");

        string name = $"bad-{Guid.NewGuid():N}"[..16];
        var start = await stack.Http.PostAsJsonAsync("/api/artifacts/uploads", new { kind, name });
        Assert.Equal(HttpStatusCode.Created, start.StatusCode);
        string uploadId = (await start.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("upload").GetProperty("uploadId").GetString()!;
        foreach (var (path, bytes) in files)
        {
            var put = await stack.Http.PutAsync($"/api/artifacts/uploads/{uploadId}/files/{path}", new ByteArrayContent(bytes));
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }
        var commit = await stack.Http.PostAsync($"/api/artifacts/uploads/{uploadId}/commit", null);
        Assert.Equal(HttpStatusCode.BadRequest, commit.StatusCode);
        Assert.Equal("application/problem+json", commit.Content.Headers.ContentType?.MediaType);
        var problems = (await commit.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("files").EnumerateArray().Select(p => p.GetString()!).ToList();
        Assert.Contains(problems, p => p.Contains(expected, StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.NotFound, (await stack.Http.GetAsync($"/api/artifacts/{name}")).StatusCode);
        // Abandoned, its files are gone.
        Assert.Equal(HttpStatusCode.OK, (await stack.Http.DeleteAsync($"/api/artifacts/uploads/{uploadId}")).StatusCode);
        var view = await stack.Http.GetFromJsonAsync<JsonElement>($"/api/artifacts/uploads/{uploadId}");
        Assert.Equal(("abandoned", 0), (view.GetProperty("upload").GetProperty("status").GetString(), view.GetProperty("files").GetArrayLength()));
    }

    [Fact]
    public async Task The_cli_checks_an_upload_before_sending_it_and_names_every_problem()
    {
        await stack.Stack.UpAsync();
        string dir = Directory.CreateTempSubdirectory("mathv2-put-").FullName;
        string file = Path.Combine(dir, "mine.jsonl");
        await File.WriteAllTextAsync(file, "{\"id\": \"p1\", \"problem\": \"P\"}\n{\"id\": \"p2\"}\n{\"id\": \"p3\", \"problem\": \"Q\", \"sourse\": \"x\"}\n");
        string name = $"cli-{Guid.NewGuid():N}"[..16];
        var (rc, _, err) = await Cli("artifacts", "put", file, "--kind", "dataset", "--schema", "problems", "--name", name);
        Assert.Equal(1, rc);
        Assert.Contains("problems.jsonl:2: problem is required", err);
        Assert.Contains("problems.jsonl:3: sourse is not a field of a problems row", err);
        Assert.Equal(HttpStatusCode.NotFound, (await stack.Http.GetAsync($"/api/artifacts/{name}")).StatusCode);

        // --skip-invalid: the good row is uploaded, the others are kept beside the file.
        (rc, _, err) = await Cli("artifacts", "put", file, "--kind", "dataset", "--schema", "problems", "--name", name, "--skip-invalid");
        Assert.True(rc == 0, err);
        Assert.Equal(2, File.ReadAllLines(file + ".rejected").Length);
        var m = (await stack.Artifacts.GetAsync(name))!;
        Assert.Equal("{\"id\": \"p1\", \"problem\": \"P\"}\n", Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync(m, "problems.jsonl")));
        Directory.Delete(dir, true);
    }
}
