using MathV2.Gpu.Worker.Text;

namespace MathV2.Gpu.Worker.Tests;

public sealed class WordTokenizerTests
{
    static readonly string[] Training =
    [
        "Problem: Prove that 6 * 3 = 18.\nProve it, then evaluate your proof.\n",
        "## Solution\nStep 1: 6 * 3 = 18, so 6 * 3 = 18.\nTherefore 6 * 3 = 18.",
        "Problem: Prove that 2 + 7 = 9.\nProve it, then evaluate your proof.\n",
    ];

    [Fact]
    public void Words_and_numbers_seen_twice_are_single_tokens_with_their_leading_space()
    {
        var tok = WordTokenizer.Train(Training);
        Assert.Contains(" 18", tok.Words);
        Assert.Contains("Problem", tok.Words);
        Assert.Contains(" Prove", tok.Words);
        Assert.DoesNotContain(" 9", tok.Words);   // seen once
        Assert.Single(tok.Encode(" 18"));
        Assert.Equal(3, tok.Encode(" 9.").Length);   // space, 9, full stop
        // " 6 * 3 = 18" is five tokens; characters would be ten.
        Assert.Equal(5, tok.Encode(" 6 * 3 = 18").Length);
    }

    [Theory]
    [InlineData("Step 12345: 7 - 2 = 5, so (7 - 2) * 11 = 55, ½ \\boxed{1}\n\n## Self Evaluation")]
    [InlineData("words never seen: zebra 987654321")]
    [InlineData("")]
    public void Any_text_round_trips_unseen_pieces_falling_back_to_characters(string text)
    {
        var tok = WordTokenizer.Train(Training);
        Assert.Equal(text, tok.Decode(tok.Encode(text)));
        var again = WordTokenizer.FromJson(tok.ToJson());
        Assert.Equal(tok.Encode(text), again.Encode(text));
        Assert.Equal(tok.VocabSize, again.VocabSize);
    }

    [Fact]
    public void Characters_outside_the_fallback_become_unk_and_specials_decode_to_nothing()
    {
        var tok = WordTokenizer.Train(Training);
        Assert.Equal([tok.UnkId], tok.Encode("é"));
        Assert.Equal([tok.UnkId], tok.Encode("\t"));
        Assert.Equal(" 18 18", tok.Decode([tok.BosId!.Value, .. tok.Encode(" 18"), tok.PadId, .. tok.Encode(" 18"), tok.EosId]));
    }

    [Fact]
    public void Training_is_deterministic_and_most_frequent_first()
    {
        var a = WordTokenizer.Train(Training);
        var b = WordTokenizer.Train(Training.Reverse());
        Assert.Equal(a.Words, b.Words);
        Assert.Equal(a.ToJson(), b.ToJson());
        Assert.Equal([" =", " *", " 18", " 3", " 6"], a.Words.Take(5));   // 5 times, then 4 times in ordinal order
        Assert.Throws<InvalidDataException>(() => WordTokenizer.FromJson(CharTokenizer.Ascii().ToJson()));
    }
}
