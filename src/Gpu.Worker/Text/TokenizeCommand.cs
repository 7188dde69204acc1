using System.Text.Encodings.Web;
using System.Text.Json;

namespace MathV2.Gpu.Worker.Text;

/// <summary>
/// `mathv2 tokenize --tokenizer DIR [--json]`: the ids a checkpoint's tokenizer gives the text on stdin (read whole,
/// line breaks included), with the start token the worker adds, each id's piece and its text.
/// </summary>
public static class TokenizeCommand
{
    public static int Run(string[] args, TextReader input, TextWriter output, TextWriter error)
    {
        int at = Array.IndexOf(args, "--tokenizer");
        if (at < 0 || at + 1 >= args.Length)
        {
            error.WriteLine("usage: mathv2 tokenize --tokenizer DIR [--json] < text   (DIR holds tokenizer.json, and tokenizer_config.json when the model has one)");
            return 2;
        }
        string dir = args[at + 1];
        if (File.Exists(dir) && Path.GetFileName(dir) == CharTokenizer.FileName) dir = Path.GetDirectoryName(Path.GetFullPath(dir))!;
        ITokenizer tok;
        try { tok = Tokenizers.Load(dir); }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException or DirectoryNotFoundException or JsonException)
        {
            error.WriteLine($"mathv2 tokenize: {e.Message}");
            return 1;
        }
        string text = input.ReadToEnd();
        int[] ids;
        try { ids = [.. tok.Start(), .. tok.Encode(text)]; }
        catch (InvalidDataException e)
        {
            error.WriteLine($"mathv2 tokenize: {e.Message}");
            return 1;
        }
        var tokens = ids.Select(tok.TokenOf).ToList();
        var texts = ids.Select(id => tok.Decode([id])).ToList();
        string kind = tok switch { CharTokenizer => "char", WordTokenizer => "words", _ => "bpe" };
        if (args.Contains("--json"))
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                tokenizer = Path.GetFullPath(dir),
                kind,
                vocabSize = tok.VocabSize,
                bos = tok.BosId,
                eos = tok.EosId,
                count = ids.Length,
                ids,
                tokens,
                texts,
                decoded = tok.Decode(ids),
            }, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = false }));
            return 0;
        }
        for (int i = 0; i < ids.Length; i++)
            output.WriteLine($"{ids[i],8}  {Quote(tokens[i]),-24}  {Quote(texts[i])}{(ids[i] == tok.BosId && i == 0 ? "  (start token)" : "")}");
        error.WriteLine($"{ids.Length} tokens for {text.Length} characters ({kind} tokenizer, vocabulary {tok.VocabSize}, end token {tok.EosId})");
        return 0;
    }

    static string Quote(string? s) => s == null ? "(unused id)" : JsonSerializer.Serialize(s, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}
