using WorkerTokenizers = MathV2.Gpu.Worker.Text.Tokenizers;
using MathV2.Gpu.Worker.Text;

namespace MathV2.Gpu.Worker.Tests;

/// <summary>
/// The demo tokenizers' tokenizer.json is Hugging Face's format: the tokenizers library (Rust, through
/// Tokenizers.DotNet) loads it as is and encodes every text to the ids the worker trained with.
/// </summary>
public sealed class HfTokenizerJsonTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("mathv2-hftok-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    static readonly string[] Texts =
    [
        "Problem: Prove that 12 * (3 + 4) = 84.\nProof:\nStep 1: 3 + 4 = 7.\n",
        "Here is my evaluation of the solution:\nBased on my evaluation, the final overall score should be:\n\\boxed{½}",
        "  double  spaces, tabs\tand unknown letters: é, 中, 𝑥 (beyond 16 bits), 🙂",
        "Zebra quokka 99999 ~`|",
        "",
    ];

    string Save(string json)
    {
        string path = Path.Combine(_dir, $"{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    void AssertSameIds(ITokenizer ours, string path)
    {
        var hf = new global::Tokenizers.DotNet.Tokenizer(vocabPath: path);
        foreach (string text in Texts)
        {
            int[] expected = [.. ours.Start(), .. ours.Encode(text)];
            uint[] got = hf.Encode(text);
            // The post-processor adds <bos> as the worker does; a binding that encodes without special tokens gives the rest.
            Assert.True(got.Select(i => (int)i).SequenceEqual(expected) || got.Select(i => (int)i).SequenceEqual(expected.Skip(1)),
                $"'{text}': ours [{string.Join(", ", expected)}], Hugging Face's [{string.Join(", ", got)}]");
            Assert.Equal(ours.Decode(ours.Encode(text)), hf.Decode(got));
        }
    }

    [Fact]
    public void The_word_tokenizer_loads_in_Hugging_Face_tokenizers_with_the_same_ids_and_back_in_the_worker()
    {
        var tok = WordTokenizer.Train([Texts[0], Texts[0], Texts[1], Texts[1], "Zebra Zebra"]);
        Assert.Contains(" evaluation", tok.Words);
        string path = Save(tok.ToJson());
        AssertSameIds(tok, path);
        File.Copy(path, Path.Combine(_dir, "tokenizer.json"));
        var again = WorkerTokenizers.Load(_dir);
        Assert.IsType<WordTokenizer>(again);
        foreach (string text in Texts) Assert.Equal(tok.Encode(text), again.Encode(text));
        // Checkpoints written before still load.
        var legacy = WordTokenizer.FromJson(System.Text.Json.JsonSerializer.Serialize(new { type = WordTokenizer.Type, words = tok.Words }));
        Assert.Equal(tok.Encode(Texts[0]), legacy.Encode(Texts[0]));
    }

    [Fact]
    public void The_character_tokenizer_loads_in_Hugging_Face_tokenizers_with_the_same_ids_and_back_in_the_worker()
    {
        var tok = CharTokenizer.Ascii();
        string path = Save(tok.ToJson());
        AssertSameIds(tok, path);
        File.Copy(path, Path.Combine(_dir, "tokenizer.json"));
        var again = WorkerTokenizers.Load(_dir);
        Assert.IsType<CharTokenizer>(again);
        Assert.Equal(tok.Encode(Texts[2]), again.Encode(Texts[2]));
        Assert.Throws<InvalidDataException>(() => WordTokenizer.FromJson(tok.ToJson()));
    }
}
