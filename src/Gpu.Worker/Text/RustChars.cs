using System.Buffers;
using System.Globalization;
using System.Text;

namespace MathV2.Gpu.Worker.Text;

/// <summary>
/// Character rules the tokenizers library takes from Rust, on code points (never UTF-16 units): the word characters
/// of its regex's \w (single_word added tokens) and char::to_lowercase (the Lowercase normalizer). Where .NET's
/// Unicode data is older than Rust's (Unicode 16 and 17 case pairs), the pairs are listed; a test checks every code
/// point against Hugging Face's tokenizers.
/// </summary>
public static class RustChars
{
    /// <summary>Rust regex's \w: Alphabetic, marks, decimal digits, connector punctuation, the joiners.</summary>
    public static bool IsWord(Rune r)
    {
        switch (Rune.GetUnicodeCategory(r))
        {
            case UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.NonSpacingMark
                or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark or UnicodeCategory.DecimalDigitNumber
                or UnicodeCategory.LetterNumber or UnicodeCategory.ConnectorPunctuation:
                return true;
        }
        int c = r.Value;
        // Join_Control, and the Other_Alphabetic symbols (circled and squared Latin letters).
        return c is 0x200C or 0x200D or (>= 0x24B6 and <= 0x24E9) or (>= 0x1F130 and <= 0x1F149) or (>= 0x1F150 and <= 0x1F169) or (>= 0x1F170 and <= 0x1F189);
    }

    /// <summary>Whether the text before <paramref name="at"/> ends with a word character.</summary>
    public static bool WordBefore(string text, int at) => at > 0 && Rune.DecodeLastFromUtf16(text.AsSpan(0, at), out var r, out _) == OperationStatus.Done && IsWord(r);

    /// <summary>Whether the text from <paramref name="at"/> starts with a word character.</summary>
    public static bool WordAfter(string text, int at) => at < text.Length && Rune.DecodeFromUtf16(text.AsSpan(at), out var r, out _) == OperationStatus.Done && IsWord(r);

    /// <summary>char::to_lowercase of every code point: full mappings (İ → i̇), no context (final sigma stays σ).</summary>
    public static string ToLower(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var r in s.EnumerateRunes())
        {
            int c = r.Value;
            if (c == 0x130) { sb.Append("i\u0307"); continue; }
            int lower = c switch
            {
                0x1C89 => 0x1C8A, 0xA7CB => 0x0264, 0xA7CC => 0xA7CD, 0xA7CE => 0xA7CF, 0xA7D2 => 0xA7D3, 0xA7D4 => 0xA7D5,
                0xA7DA => 0xA7DB, 0xA7DC => 0x019B,
                >= 0x10D50 and <= 0x10D65 => c + 0x20,
                >= 0x16EA0 and <= 0x16EB8 => c + 0x1B,
                _ => Rune.ToLowerInvariant(r).Value,
            };
            sb.Append(new Rune(lower));
        }
        return sb.ToString();
    }
}
