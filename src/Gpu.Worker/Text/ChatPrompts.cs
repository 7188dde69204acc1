using MathV2.Core.Models;
namespace MathV2.Gpu.Worker.Text;

/// <summary>
/// A checkpoint's tokenizer whose prompts go through the model's chat template: each prompt is one user turn and the
/// assistant's start, encoded without adding a start token (the template writes its own, as transformers'
/// apply_chat_template does). Completions and everything else are the tokenizer's.
/// </summary>
public sealed class ChatPrompts(ITokenizer inner, ChatTemplate template) : ITokenizer
{
    public ITokenizer Inner => inner;
    public ChatTemplate Template => template;

    /// <summary>The tokenizer with the chat template of tokenizer_config.json in <paramref name="dir"/>; refused when there is none.</summary>
    /// <param name="date">What the template's strftime_now sees: one date for the whole job, so a prompt is the same
    /// ids when sampled and when trained on (templates print today's date).</param>
    public static ChatPrompts Wrap(ITokenizer tok, string dir, string field, DateTime date)
    {
        string config = Path.Combine(dir, "tokenizer_config.json");
        var template = File.Exists(config) ? ChatTemplate.FromConfig(File.ReadAllText(config), () => date) : null;
        return template == null
            ? throw new InvalidDataException($"{field}: the lap asks for the chat template (chatTemplate: true), but the checkpoint's tokenizer_config.json has no chat_template")
            : new ChatPrompts(tok, template);
    }

    public int VocabSize => inner.VocabSize;
    public int PadId => inner.PadId;
    public int? BosId => inner.BosId;
    public int EosId => inner.EosId;
    public int[] Encode(string text) => inner.Encode(text);
    public string Decode(IEnumerable<int> ids) => inner.Decode(ids);
    public string? TokenOf(int id) => inner.TokenOf(id);
    public int[] EncodePrompt(string prompt) => inner.Encode(template.RenderPrompt(prompt));
}
