using System.Text.Json;
using System.Text.Json.Nodes;
using MathV2.Core.Models;
using MathV2.Gpu.Worker.Text;

namespace MathV2.Gpu.Worker.Tests;

/// <summary>
/// The worker's chat template renderer against Jinja2 (what transformers runs): ChatTemplates/templates.json holds
/// templates in the styles the families ship (ChatML with a default system turn, header tokens with today's date,
/// DeepSeek's namespace and &lt;/think&gt; split, Qwen3's reverse scan, filters and JSON), rendered by render.py with
/// Jinja2 into expected.json; every rendering must be the same text, character for character.
/// </summary>
public sealed class ChatTemplateTests
{
    static readonly DateTime Now = new(2026, 11, 30, 9, 5, 7);

    static JsonObject Load(string file) => JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "ChatTemplates", file)))!.AsObject();

    public static TheoryData<string> Templates => [.. Load("templates.json")["templates"]!.AsArray().Select(t => t!["name"]!.GetValue<string>())];

    [Theory]
    [MemberData(nameof(Templates))]
    public void Renders_as_Jinja2_renders_every_conversation(string name)
    {
        var spec = Load("templates.json");
        var t = spec["templates"]!.AsArray().Single(x => x!["name"]!.GetValue<string>() == name)!;
        var expected = Load("expected.json")["templates"]!.AsArray().Single(x => x!["name"]!.GetValue<string>() == name)!["cases"]!.AsArray();
        var config = new JsonObject { ["chat_template"] = t["template"]!.GetValue<string>(), ["bos_token"] = t["bos"]?.DeepClone(), ["eos_token"] = t["eos"]?.DeepClone() };
        var template = ChatTemplate.FromConfig(config.ToJsonString(), () => Now)!;
        int checkedCases = 0;
        foreach (var c in expected)
        {
            var conversation = spec["conversations"]!.AsArray().Single(x => x!["name"]!.GetValue<string>() == c!["conversation"]!.GetValue<string>())!;
            var messages = conversation["messages"]!.AsArray().Select(m => (m!["role"]!.GetValue<string>(), m["content"]!.GetValue<string>())).ToList();
            var extra = conversation["extra"]?.AsObject().ToDictionary(kv => kv.Key, kv => (object?)(kv.Value!.GetValueKind() switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => kv.Value.ToString(),
            }));
            bool gen = c!["add_generation_prompt"]!.GetValue<bool>();
            string what = $"{name} / {c["conversation"]} / add_generation_prompt={gen}";
            if (c["error"] is { } error)
                Assert.Equal($"chat template: {error.GetValue<string>()}", Assert.Throws<InvalidDataException>(() => template.Render(messages, gen, extra)).Message);
            else
            {
                string got = template.Render(messages, gen, extra);
                string want = c["output"]!.GetValue<string>();
                Assert.True(want == got, $"{what}\n--- Jinja2:\n{want}\n--- ours:\n{got}");
            }
            checkedCases++;
        }
        Assert.Equal(12, checkedCases);   // six conversations, with and without the generation prompt
    }

    [Fact]
    public void A_prompt_becomes_one_user_turn_and_the_assistant_start_and_unsupported_syntax_is_named()
    {
        var t = ChatTemplate.Create("{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}",
            new Dictionary<string, object?> { ["bos_token"] = "<s>" });
        Assert.Equal("<s><user>Prove it.<assistant>", t.RenderPrompt("Prove it."));
        string Refused(string source) => Assert.Throws<InvalidDataException>(() => ChatTemplate.Create(source, new Dictionary<string, object?>())).Message;
        Assert.Contains("{% macro %} at line 1 is not supported", Refused("{% macro f() %}x{% endmacro %}"));
        Assert.Contains("{% endif %} is missing", Refused("{% if true %}x"));
        Assert.Contains("tag at line 2 is not closed", Refused("a\n{{ x "));
        Assert.Contains("filter 'wordwrap' is not supported", Assert.Throws<InvalidDataException>(() =>
            ChatTemplate.Create("{{ 'a' | wordwrap }}", new Dictionary<string, object?>()).RenderPrompt("x")).Message);
        Assert.Null(ChatTemplate.FromConfig("""{"bos_token": "<s>"}"""));
        var named = ChatTemplate.FromConfig("""{"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D{{ eos_token }}"}], "eos_token": {"content": "</s>"}}""")!;
        Assert.Equal("D</s>", named.RenderPrompt("x"));
    }
}
