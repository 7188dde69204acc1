using System.Text;

namespace MathV2.Gpu.Worker.Tests;

/// <summary>
/// A seeded corpus of at least 10,000 lines for tokenizer fidelity: math proofs in LaTeX, prose in a dozen
/// scripts, code, emoji (ZWJ sequences, skin tones, flags), CJK, characters beyond 16 bits (𝑥, 𝟏, 𝔽, 𠀀),
/// contractions in any case, long numbers and runs of spaces, tabs and line breaks.
/// </summary>
public static class TokenizerCorpus
{
    static readonly string[] Math =
    [
        @"Let $f:\mathbb{R}\to\mathbb{R}$ satisfy $f(x+y)=f(x)+f(y)$ for all $x,y\in\mathbb{R}$.",
        @"\begin{align*} \sum_{k=1}^{n} k^2 &= \frac{n(n+1)(2n+1)}{6} \\ &\le n^3 \end{align*}",
        @"By AM-GM, $\frac{a+b}{2}\ge\sqrt{ab}$, with equality iff $a=b$. \qed",
        @"Suppose, for contradiction, that $\sqrt{2}=p/q$ with $\gcd(p,q)=1$; then $p^2=2q^2$.",
        @"\textbf{Step 3.} Since $n \equiv 2 \pmod{3}$, we get $n^2 \equiv 1 \pmod 3$.",
        @"Hence $\displaystyle\lim_{n\to\infty}\left(1+\frac{1}{n}\right)^n = e$ and the proof is complete.",
        @"\boxed{\frac{\pi^2}{6}}",
        @"$$\int_0^{\infty} e^{-x^2}\,dx = \frac{\sqrt{\pi}}{2}$$",
        @"We claim that $a_{n+1} - a_n = 2^{n}\cdot\binom{n}{\lfloor n/2\rfloor}$ for every $n\geq 1$.",
        @"Let $\triangle ABC$ have circumcenter $O$ and orthocenter $H$; then $\vec{OH}=\vec{OA}+\vec{OB}+\vec{OC}$.",
        "Here is my evaluation of the solution:\nBased on my evaluation, the final overall score should be:\n\\boxed{1}",
        "Proof. Induct on n. The base case n = 1 holds since 1 = 1². ∎",
        "∀ε>0 ∃δ>0: |x−a|<δ ⇒ |f(x)−f(a)|<ε, so f is continuous at a ∈ ℝ.",
        "Let 𝑥, 𝑦 ∈ 𝔽ₚ with 𝑥² + 𝑦² = 𝟏; then (𝑥+𝑦)ᵖ = 𝑥ᵖ + 𝑦ᵖ in characteristic p.",
        "Score: 0.5 — the argument for 𝟐𝟎𝟐𝟒 ≡ 0 (mod 𝟖) skips a case.",
        "½ + ⅓ + ¼ ≠ 1; ∑ᵢ aᵢ ≤ ∏ⱼ bⱼ; ℵ₀ < 𝔠; ∮_C ω = ∬_S dω.",
    ];

    static readonly string[] Prose =
    [
        "The quick brown fox jumps over the lazy dog.",
        "I'M SURE IT'S FINE, but don't you think they'll've noticed? We'd, you'll, she's.",
        "Die Größe des Übergangs hängt von der Straße ab; äöü ÄÖÜ ß.",
        "L'élève a démontré que la série converge — c'était évident, n'est-ce pas ?",
        "Доказательство: пусть n — натуральное число, тогда n² ≥ n.",
        "Η απόδειξη είναι απλή: έστω ότι το x είναι ρητός αριθμός.",
        "البرهان: لنفترض أن العدد أولي، إذن لا يقبل القسمة إلا على نفسه.",
        "प्रमाण: मान लीजिए कि n एक प्राकृतिक संख्या है।",
        "证明：设 n 为正整数，则 n² ≥ n。因此原命题成立。",
        "証明：任意の正の整数 n について、n(n+1) は偶数である。ひらがなとカタカナ。",
        "증명: 모든 자연수 n에 대하여 n²+n은 짝수이다.",
        "עברית: הוכחה פשוטה מאוד.",
        "ไทย: การพิสูจน์นี้สมบูรณ์แล้ว",
        "Tiếng Việt: chứng minh rằng tổng các góc bằng 180 độ.",
        "𠀀𠀁𠀂 are CJK extension B; 𝓗𝓮𝓵𝓵𝓸 is math script; 𐍈 is Gothic.",
        "e\u0301 vs é, A\u030A vs Å, ﬁ ligature, ＦＵＬＬＷＩＤＴＨ and ｈａｌｆ, Ⅻ, ①②③.",
    ];

    static readonly string[] Code =
    [
        "def f(x: int) -> int:\n    return x ** 2 + 1  # square plus one",
        "for (int i = 0; i < n; i++) { sum += a[i] * b[i]; }",
        "    if (!ok) throw new InvalidDataException($\"line {line}: {message}\");",
        "SELECT id, name FROM laps WHERE status = 'done' ORDER BY created_at DESC;",
        "const re = /^[a-z0-9_-]{3,16}$/i; console.log(re.test(\"mathv2_lap\"));",
        "\t\tvar x = new Dictionary<string, List<int>>();\r\n\t\treturn x;",
        "#include <stdio.h>\nint main(void){printf(\"%d\\n\", 42);return 0;}",
        "fn main() { let v: Vec<u64> = (1..=10).map(|k| k * k).collect(); }",
        "{\"id\": \"lap-812589939d9b\", \"measures\": {\"verifier.v2.accuracy\": 0.9524}}",
        "git commit -m 'Fix: off-by-one in <ids>' && ./mathv2 lap start --prompts paper.json",
    ];

    static readonly string[] Emoji =
    [
        "🙂", "😀👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇩🇪🇯🇵", "❤️‍🔥", "🧮✅❌", "👩🏾‍💻", "🔢 ➕ ➖ ✖️ ➗", "🫠",
    ];

    static readonly string[] Spaces = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n ", "    \n", "\u00A0", "\u3000", "\u2003", "\u200B"];

    static readonly string[] Words = ["proof", "lemma", "Theorem", "hence", "QED", "x", "n", "it's", "THEY'LL", "we're", "I'd", "can't", "don'T"];

    /// <summary>The corpus, the same lines on every run.</summary>
    public static IReadOnlyList<string> Lines(int count = 10_000, int seed = 20261130)
    {
        var rng = new Random(seed);
        var all = new[] { Math, Prose, Code };
        var lines = new List<string>(count);
        // Every fragment on its own first, then mixtures.
        foreach (var set in all) lines.AddRange(set);
        lines.AddRange(Emoji);
        while (lines.Count < count)
        {
            var sb = new StringBuilder();
            int parts = rng.Next(1, 5);
            for (int p = 0; p < parts; p++)
            {
                switch (rng.Next(8))
                {
                    case 0: case 1: sb.Append(Math[rng.Next(Math.Length)]); break;
                    case 2: sb.Append(Prose[rng.Next(Prose.Length)]); break;
                    case 3: sb.Append(Code[rng.Next(Code.Length)]); break;
                    case 4: sb.Append(Emoji[rng.Next(Emoji.Length)]); break;
                    case 5: sb.Append(Number(rng)); break;
                    case 6: sb.Append(Words[rng.Next(Words.Length)]); break;
                    default: sb.Append(Cut(all[rng.Next(all.Length)], rng)); break;
                }
                sb.Append(Spaces[rng.Next(Spaces.Length)]);
                if (rng.Next(6) == 0) sb.Append(Spaces[rng.Next(Spaces.Length)]);
            }
            if (rng.Next(4) == 0) sb.Length--; // not always ending in a space
            lines.Add(sb.ToString());
        }
        return lines;
    }

    static string Number(Random rng) => rng.Next(4) switch
    {
        0 => rng.Next(10).ToString(),
        1 => rng.NextInt64(1, long.MaxValue).ToString(),
        2 => $"{rng.Next(1000)}.{rng.Next(100000):D5}",
        _ => $"-{rng.Next(100000)},{rng.Next(1000):D3}",
    };

    /// <summary>A piece of a fragment cut at code-point boundaries (starts and ends mid-word, mid-formula).</summary>
    static string Cut(string[] set, Random rng)
    {
        string s = set[rng.Next(set.Length)];
        int a = rng.Next(s.Length), b = rng.Next(a, s.Length + 1);
        if (a > 0 && char.IsLowSurrogate(s[a])) a--;
        if (b < s.Length && char.IsLowSurrogate(s[b])) b++;
        return s[a..b];
    }
}
