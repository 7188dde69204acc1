using System.Reflection;
using System.Text.Json;

namespace MathV2.Cli.Tests;

/// <summary>`mathv2 tokenize` runs the worker's tokenizer reader in the worker process on stdin.</summary>
public sealed class TokenizeCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("mathv2-tokcli-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    static string Meta(string key) => typeof(TokenizeCommandTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    async Task<(int Rc, string Out, string Err)> Run(string stdin, params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        var layout = StackLayout.ForRepository(Meta("RepoRoot"), Meta("Configuration"));
        try { return (await new Commands(layout, o, e, new StringReader(stdin)).RunAsync(args), o.ToString(), e.ToString()); }
        catch (CliException ex) { return (1, o.ToString(), ex.Message); }
    }

    [Fact]
    public async Task Tokenize_prints_the_ids_pieces_and_texts_of_stdin_and_names_a_bad_tokenizer()
    {
        // A Llama-2-style file: ▁ for spaces, merges a+b and ▁+ab, the start token from the post-processor.
        const string json = """
        {"added_tokens": [{"id": 0, "content": "<unk>", "special": true}, {"id": 1, "content": "<s>", "special": true}, {"id": 2, "content": "</s>", "special": true}],
         "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
         "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]},
         "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
         "model": {"type": "BPE", "unk_token": "<unk>", "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "a": 3, "b": 4, "▁": 5, "ab": 6, "▁ab": 7}, "merges": ["a b", "▁ ab"]}}
        """;
        await File.WriteAllTextAsync(Path.Combine(_dir, "tokenizer.json"), json);
        var (rc, output, err) = await Run("ab ba", "tokenize", "--tokenizer", _dir, "--json");
        Assert.True(rc == 0, err);
        var r = JsonDocument.Parse(output).RootElement;
        Assert.Equal([1, 7, 5, 4, 3], r.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()));
        Assert.Equal(["<s>", "▁ab", "▁", "b", "a"], r.GetProperty("tokens").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal("ab ba", r.GetProperty("decoded").GetString());
        Assert.Equal(2, r.GetProperty("eos").GetInt32());

        (rc, output, err) = await Run("ab", "tokenize", "--tokenizer", Path.Combine(_dir, "tokenizer.json"));
        Assert.True(rc == 0, err);
        Assert.Equal(2, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("\"▁ab\"", output);
        Assert.Contains("(start token)", output);
        Assert.Contains("2 tokens for 2 characters", err);

        await File.WriteAllTextAsync(Path.Combine(_dir, "tokenizer.json"), json.Replace("\"Fuse\"", "\"WordPiece\""));
        (rc, _, err) = await Run("ab", "tokenize", "--tokenizer", _dir);
        Assert.Equal(1, rc);
        Assert.Contains("decoder.decoders[1] type WordPiece is not supported", err);
        (rc, _, err) = await Run("ab", "tokenize", "--tokenizer", Path.Combine(_dir, "nowhere"));
        Assert.Equal(1, rc);
        Assert.Contains("has no tokenizer.json", err);
    }
}
