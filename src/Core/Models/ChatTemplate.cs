using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MathV2.Core.Models;

/// <summary>
/// A model's chat template (tokenizer_config.json's <c>chat_template</c>, Jinja) rendered as transformers renders it:
/// trim_blocks and lstrip_blocks on, <c>messages</c>, <c>add_generation_prompt</c>, the special tokens by name,
/// <c>raise_exception</c> and <c>strftime_now</c>. The Jinja subset the families' templates use: if/elif/else, for
/// (loop.*, tuple targets, filters), set (namespace attributes too), expressions with Python's string and dict
/// methods, filters and tests. Anything else is refused when the template is read, by name.
/// </summary>
public sealed class ChatTemplate
{
    readonly List<Node> _body;
    readonly Dictionary<string, object?> _globals;

    public string Source { get; }

    ChatTemplate(string source, Dictionary<string, object?> globals)
    {
        Source = source;
        _globals = globals;
        // As Jinja's lexer: line breaks become \n, and one trailing line break of the template is dropped.
        source = source.Replace("\r\n", "\n").Replace('\r', '\n');
        if (source.EndsWith('\n')) source = source[..^1];
        var tokens = Lexer.Lex(source);
        int at = 0;
        _body = Parser.Block(tokens, ref at, []);
        if (at < tokens.Count) throw new InvalidDataException($"chat template: unexpected {tokens[at].Describe()}");
    }

    /// <summary>The template of tokenizer_config.json (the "default" one of a list), or null when it has none.</summary>
    public static ChatTemplate? FromConfig(string? tokenizerConfigJson, Func<DateTime>? now = null)
    {
        if (tokenizerConfigJson == null || JsonNode.Parse(tokenizerConfigJson) is not JsonObject cfg) return null;
        string? source = cfg["chat_template"] switch
        {
            null => null,
            JsonArray list => list.FirstOrDefault(t => t?["name"]?.GetValue<string>() == "default")?["template"]?.GetValue<string>()
                ?? throw new InvalidDataException("tokenizer_config.json: chat_template is a list without a \"default\" template"),
            var n when n.GetValueKind() == JsonValueKind.String => n.GetValue<string>(),
            _ => throw new InvalidDataException("tokenizer_config.json: chat_template is neither a string nor a list of {name, template}"),
        };
        if (source == null) return null;
        var globals = new Dictionary<string, object?>();
        foreach (string name in new[] { "bos_token", "eos_token", "pad_token", "unk_token" })
            globals[name] = cfg[name] switch
            {
                JsonObject o => o["content"]?.GetValue<string>(),
                { } v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
                _ => null,
            } ?? (object?)Undefined.Value;
        return Create(source, globals, now);
    }

    /// <summary>A template with the given globals (special tokens by name and any other values).</summary>
    public static ChatTemplate Create(string source, IDictionary<string, object?> globals, Func<DateTime>? now = null)
    {
        var g = new Dictionary<string, object?>(globals);
        g["raise_exception"] = new Function(args => throw new InvalidDataException($"chat template: {Values.Str(args.Positional.FirstOrDefault())}"));
        var clock = now ?? (() => DateTime.Now);
        g["strftime_now"] = new Function(args => Strftime(clock(), args.Positional.Count > 0 ? Values.Str(args.Positional[0]) : throw new InvalidDataException("chat template: strftime_now needs a format")));
        g["namespace"] = new Function(args => new Namespace(args.Named));
        g["range"] = new Function(args =>
        {
            var n = args.Positional.Select(v => (long)Values.Num(v)).ToList();
            var (start, stop, step) = n.Count switch { 1 => (0L, n[0], 1L), 2 => (n[0], n[1], 1L), _ => (n[0], n[1], n[2]) };
            var list = new List<object?>();
            for (long i = start; step > 0 ? i < stop : i > stop; i += step) list.Add(i);
            return list;
        });
        g["dict"] = new Function(args => new Dictionary<string, object?>(args.Named));
        try { return new ChatTemplate(source, g); }
        catch (InvalidDataException e) when (!e.Message.StartsWith("chat template", StringComparison.Ordinal)) { throw new InvalidDataException($"chat template: {e.Message}"); }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or InvalidOperationException or IndexOutOfRangeException)
        {
            throw new InvalidDataException($"chat template: {e.Message}");
        }
    }

    /// <summary>Renders the conversation; each message is {role, content}.</summary>
    public string Render(IEnumerable<(string Role, string Content)> messages, bool addGenerationPrompt, IDictionary<string, object?>? extra = null)
    {
        var scope = new Scope(_globals);
        // transformers renders with tools and documents given as None.
        scope.Set("tools", null);
        scope.Set("documents", null);
        scope.Set("messages", messages.Select(m => (object?)new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList());
        scope.Set("add_generation_prompt", addGenerationPrompt);
        foreach (var (k, v) in extra ?? new Dictionary<string, object?>()) scope.Set(k, v);
        var sb = new StringBuilder();
        try { Interpreter.Run(_body, scope, sb); }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or InvalidOperationException or IndexOutOfRangeException or InvalidCastException or KeyNotFoundException)
        {
            throw new InvalidDataException($"chat template: {e.Message}");
        }
        return sb.ToString();
    }

    /// <summary>One user turn and the assistant's start: what a prompt becomes for an instruct model.</summary>
    public string RenderPrompt(string prompt) => Render([("user", prompt)], addGenerationPrompt: true);

    static string Strftime(DateTime t, string format)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length) { sb.Append(format[i]); continue; }
            char c = format[++i];
            sb.Append(c switch
            {
                'd' => t.ToString("dd", CultureInfo.InvariantCulture),
                'm' => t.ToString("MM", CultureInfo.InvariantCulture),
                'Y' => t.ToString("yyyy", CultureInfo.InvariantCulture),
                'y' => t.ToString("yy", CultureInfo.InvariantCulture),
                'b' => t.ToString("MMM", CultureInfo.InvariantCulture),
                'B' => t.ToString("MMMM", CultureInfo.InvariantCulture),
                'a' => t.ToString("ddd", CultureInfo.InvariantCulture),
                'A' => t.ToString("dddd", CultureInfo.InvariantCulture),
                'H' => t.ToString("HH", CultureInfo.InvariantCulture),
                'M' => t.ToString("mm", CultureInfo.InvariantCulture),
                'S' => t.ToString("ss", CultureInfo.InvariantCulture),
                'j' => t.DayOfYear.ToString("D3", CultureInfo.InvariantCulture),
                '%' => "%",
                _ => throw new InvalidDataException($"chat template: strftime_now does not know %{c}"),
            });
        }
        return sb.ToString();
    }

    // ---------------- values ----------------

    public sealed class Undefined
    {
        public static readonly Undefined Value = new();
        public override string ToString() => "";
    }

    sealed class Namespace(IDictionary<string, object?> values)
    {
        public readonly Dictionary<string, object?> Values = new(values);
    }

    sealed record Args(List<object?> Positional, Dictionary<string, object?> Named);

    sealed class Function(Func<Args, object?> call)
    {
        public object? Call(Args args) => call(args);
    }

    class Scope
    {
        readonly Dictionary<string, object?> _vars = [];
        readonly Dictionary<string, object?>? _globals;
        readonly Scope? _outer;

        public Scope(Dictionary<string, object?> globals) => _globals = globals;

        /// <summary>A loop body's scope: names set inside stay inside (namespaces carry values out).</summary>
        public Scope(Scope outer) => _outer = outer;

        public object? Get(string name) =>
            _vars.TryGetValue(name, out var v) ? v : _outer != null ? _outer.Get(name) : _globals!.TryGetValue(name, out var g) ? g : Undefined.Value;

        public void Set(string name, object? value) => _vars[name] = value;
    }

    static class Values
    {
        /// <summary>What Python's str.isspace() calls whitespace (.NET's adds none, lacks \x1c–\x1f).</summary>
        public static readonly char[] PythonSpace = [.. Enumerable.Range(0, 0x3001).Select(i => (char)i).Where(c => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f')];

        public static bool Truthy(object? v) => v switch
        {
            null or Undefined => false,
            bool b => b,
            long l => l != 0,
            double d => d != 0,
            string s => s.Length > 0,
            List<object?> l => l.Count > 0,
            Dictionary<string, object?> d => d.Count > 0,
            _ => true,
        };

        /// <summary>Python's str().</summary>
        public static string Str(object? v) => v switch
        {
            null => "None",
            Undefined => "",
            bool b => b ? "True" : "False",
            long l => l.ToString(CultureInfo.InvariantCulture),
            double d => double.IsInteger(d) && Math.Abs(d) < 1e16 ? d.ToString("F1", CultureInfo.InvariantCulture) : d.ToString("R", CultureInfo.InvariantCulture),
            string s => s,
            List<object?> l => "[" + string.Join(", ", l.Select(Repr)) + "]",
            Dictionary<string, object?> d => "{" + string.Join(", ", d.Select(kv => $"{Repr(kv.Key)}: {Repr(kv.Value)}")) + "}",
            _ => v.ToString() ?? "",
        };

        static string Repr(object? v) => v is string s ? "'" + s.Replace("\\", "\\\\").Replace("'", "\\'").Replace("\n", "\\n") + "'" : Str(v);

        public static double Num(object? v) => v switch
        {
            long l => l,
            double d => d,
            bool b => b ? 1 : 0,
            _ => throw new InvalidDataException($"chat template: {Str(v)} is not a number"),
        };

        public static bool Equal(object? a, object? b) => (a, b) switch
        {
            (null, null) => true,
            (Undefined, Undefined) => true,
            (long or double or bool, long or double or bool) => Num(a) == Num(b),
            (string x, string y) => x == y,
            (List<object?> x, List<object?> y) => x.Count == y.Count && x.Zip(y).All(p => Equal(p.First, p.Second)),
            _ => ReferenceEquals(a, b),
        };

        public static int Compare(object? a, object? b) => (a, b) switch
        {
            (string x, string y) => string.CompareOrdinal(x, y),
            _ => Num(a).CompareTo(Num(b)),
        };

        public static IEnumerable<object?> Iterate(object? v) => v switch
        {
            List<object?> l => l,
            Dictionary<string, object?> d => d.Keys,
            string s => s.EnumerateRunes().Select(r => (object?)r.ToString()),
            null or Undefined => [],
            _ => throw new InvalidDataException($"chat template: {Str(v)} is not iterable"),
        };

        public static object? Index(object? target, object? key) => (target, key) switch
        {
            (Dictionary<string, object?> d, string k) => d.TryGetValue(k, out var v) ? v : Undefined.Value,
            (Namespace ns, string k) => ns.Values.TryGetValue(k, out var v) ? v : Undefined.Value,
            (List<object?> l, long i) => i < 0 ? (l.Count + i >= 0 ? l[(int)(l.Count + i)] : Undefined.Value) : i < l.Count ? l[(int)i] : Undefined.Value,
            (string s, long i) => Runes(s) is var r && (i < 0 ? i + r.Count : i) is var j && j >= 0 && j < r.Count ? r[(int)j] : Undefined.Value,
            _ => Undefined.Value,
        };

        public static List<string> Runes(string s) => s.EnumerateRunes().Select(r => r.ToString()).ToList();

        /// <summary>Python's json.dumps (ensure_ascii off, ", " and ": " separators, or the indent given).</summary>
        public static string ToJson(object? v, int? indent, int depth = 0)
        {
            string nl(int d) => indent is { } n ? "\n" + new string(' ', n * d) : "";
            string sep = indent == null ? ", " : ",";
            return v switch
            {
                null or Undefined => "null",
                bool b => b ? "true" : "false",
                long or double => Str(v),
                string s => JsonSerializer.Serialize(s, new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }),
                List<object?> l => l.Count == 0 ? "[]" : "[" + string.Join(sep, l.Select(x => nl(depth + 1) + ToJson(x, indent, depth + 1))) + nl(depth) + "]",
                Dictionary<string, object?> d => d.Count == 0 ? "{}" : "{" + string.Join(sep, d.Select(kv => nl(depth + 1) + ToJson(kv.Key, indent) + ": " + ToJson(kv.Value, indent, depth + 1))) + nl(depth) + "}",
                _ => ToJson(Str(v), indent),
            };
        }
    }

    // ---------------- lexer ----------------

    enum T { Text, Output, Statement, Name, String, Number, Op, End }

    sealed record Token(T Type, string Value, int Line)
    {
        public string Describe() => Type switch { T.End => $"end of tag at line {Line}", T.Text => $"text at line {Line}", _ => $"'{Value}' at line {Line}" };
    }

    static class Lexer
    {
        static readonly string[] Ops = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", "="];

        public static List<Token> Lex(string src)
        {
            var tokens = new List<Token>();
            int i = 0, line = 1;
            bool trimNext = false;       // "-%}" / "-}}": strip the whitespace that follows
            bool afterBlock = false;     // trim_blocks: drop one newline right after a block tag
            while (i < src.Length)
            {
                int open = FindOpen(src, i);
                string text = src[i..(open < 0 ? src.Length : open)];
                if (afterBlock && text.StartsWith('\n')) text = text[1..];
                else if (afterBlock && text.StartsWith("\r\n", StringComparison.Ordinal)) text = text[2..];
                if (trimNext) text = text.TrimStart();
                afterBlock = trimNext = false;
                if (open < 0) { Add(tokens, T.Text, text, line); break; }
                char kind = src[open + 1];
                bool stripBefore = open + 2 < src.Length && src[open + 2] == '-';
                if (stripBefore) text = text.TrimEnd();
                else if (kind is '%' or '#' && src.Length > open + 2 && src[open + 2] != '+')
                {
                    // lstrip_blocks: spaces and tabs from the line's start (in the source) up to a block or comment tag go.
                    int j = open - 1;
                    while (j >= 0 && src[j] is ' ' or '\t') j--;
                    if (j < 0 || src[j] == '\n') text = text.TrimEnd(' ', '\t');
                }
                Add(tokens, T.Text, text, line);
                line += src[i..open].Count(c => c == '\n');
                int start = open + 2 + (stripBefore || (open + 2 < src.Length && src[open + 2] == '+') ? 1 : 0);
                string close = kind switch { '{' => "}}", '%' => "%}", _ => "#}" };
                if (kind == '#')
                {
                    int end = src.IndexOf("#}", start, StringComparison.Ordinal);
                    if (end < 0) throw new InvalidDataException($"chat template: comment at line {line} is not closed");
                    trimNext = src[end - 1] == '-';
                    afterBlock = true;
                    line += src[open..(end + 2)].Count(c => c == '\n');
                    i = end + 2;
                    continue;
                }
                tokens.Add(new Token(kind == '{' ? T.Output : T.Statement, "", line));
                i = start;
                while (true)
                {
                    while (i < src.Length && char.IsWhiteSpace(src[i])) { if (src[i] == '\n') line++; i++; }
                    if (i >= src.Length) throw new InvalidDataException($"chat template: tag at line {line} is not closed");
                    if (src[i] == '-' && src.AsSpan(i + 1).StartsWith(close)) { trimNext = true; i += 1 + close.Length; break; }
                    if (src.AsSpan(i).StartsWith(close)) { i += close.Length; break; }
                    char c = src[i];
                    if (c is '\'' or '"')
                    {
                        var sb = new StringBuilder();
                        int j = i + 1;
                        for (; j < src.Length && src[j] != c; j++)
                        {
                            if (src[j] != '\\' || j + 1 >= src.Length) { sb.Append(src[j]); continue; }
                            char e = src[++j];
                            sb.Append(e switch { 'n' => '\n', 't' => '\t', 'r' => '\r', '\\' => '\\', '\'' => '\'', '"' => '"', _ => (char)0 });
                            if (e is not ('n' or 't' or 'r' or '\\' or '\'' or '"')) { sb.Length--; sb.Append('\\').Append(e); }
                        }
                        if (j >= src.Length) throw new InvalidDataException($"chat template: string at line {line} is not closed");
                        tokens.Add(new Token(T.String, sb.ToString(), line));
                        i = j + 1;
                    }
                    else if (char.IsAsciiDigit(c))
                    {
                        int j = i;
                        while (j < src.Length && (char.IsAsciiDigit(src[j]) || (src[j] == '.' && j + 1 < src.Length && char.IsAsciiDigit(src[j + 1])))) j++;
                        tokens.Add(new Token(T.Number, src[i..j], line));
                        i = j;
                    }
                    else if (char.IsLetter(c) || c == '_')
                    {
                        int j = i;
                        while (j < src.Length && (char.IsLetterOrDigit(src[j]) || src[j] == '_')) j++;
                        tokens.Add(new Token(T.Name, src[i..j], line));
                        i = j;
                    }
                    else
                    {
                        string? op = Ops.FirstOrDefault(o => src.AsSpan(i).StartsWith(o));
                        if (op == null) throw new InvalidDataException($"chat template: unexpected '{c}' at line {line}");
                        tokens.Add(new Token(T.Op, op, line));
                        i += op.Length;
                    }
                }
                tokens.Add(new Token(T.End, "", line));
                if (kind == '%') afterBlock = true;
            }
            return tokens;
        }

        static int FindOpen(string src, int from)
        {
            for (int i = from; i < src.Length - 1; i++)
                if (src[i] == '{' && src[i + 1] is '{' or '%' or '#') return i;
            return -1;
        }

        static void Add(List<Token> tokens, T type, string text, int line)
        {
            if (text.Length > 0) tokens.Add(new Token(type, text, line));
        }
    }

    // ---------------- syntax ----------------

    abstract record Node;
    sealed record TextNode(string Text) : Node;
    sealed record OutputNode(Expr Value) : Node;
    sealed record IfNode(List<(Expr Cond, List<Node> Body)> Branches, List<Node>? Else) : Node;
    sealed record ForNode(List<string> Targets, Expr Iter, Expr? Filter, List<Node> Body, List<Node>? Else) : Node;
    sealed record SetNode(string Name, string? Attr, Expr Value) : Node;
    sealed record BlockNode(List<Node> Body) : Node;

    abstract record Expr;
    sealed record Lit(object? Value) : Expr;
    sealed record Var(string Name) : Expr;
    sealed record Attr(Expr Target, string Name) : Expr;
    sealed record Item(Expr Target, Expr Key) : Expr;
    sealed record Slice(Expr Target, Expr? Start, Expr? Stop, Expr? Step) : Expr;
    sealed record Call(Expr Target, List<Expr> Args, List<(string, Expr)> Named) : Expr;
    sealed record FilterCall(Expr Target, string Name, List<Expr> Args, List<(string, Expr)> Named) : Expr;
    sealed record Test(Expr Target, string Name, List<Expr> Args, bool Negated) : Expr;
    sealed record Unary(string Op, Expr Value) : Expr;
    sealed record Binary(string Op, Expr Left, Expr Right) : Expr;
    sealed record Cond(Expr Then, Expr If, Expr? Else) : Expr;
    sealed record ListExpr(List<Expr> Items) : Expr;
    sealed record DictExpr(List<(Expr Key, Expr Value)> Items) : Expr;

    static class Parser
    {
        /// <summary>Nodes until one of the end keywords (left unconsumed, at the statement's name).</summary>
        public static List<Node> Block(List<Token> t, ref int at, string[] ends)
        {
            var nodes = new List<Node>();
            while (at < t.Count)
            {
                var tok = t[at];
                if (tok.Type == T.Text) { nodes.Add(new TextNode(tok.Value)); at++; continue; }
                if (tok.Type == T.Output)
                {
                    at++;
                    var e = Expression(t, ref at);
                    Expect(t, ref at, T.End);
                    nodes.Add(new OutputNode(e));
                    continue;
                }
                // a statement
                var name = t[at + 1];
                if (name.Type != T.Name) throw new InvalidDataException($"chat template: expected a statement at line {name.Line}");
                if (ends.Contains(name.Value)) return nodes;
                at += 2;
                switch (name.Value)
                {
                    case "if":
                    {
                        var branches = new List<(Expr, List<Node>)>();
                        var cond = Expression(t, ref at);
                        Expect(t, ref at, T.End);
                        List<Node>? otherwise = null;
                        while (true)
                        {
                            var body = Block(t, ref at, ["elif", "else", "endif"]);
                            branches.Add((cond, body));
                            string kw = EndOf(t, ref at, "if");
                            if (kw == "elif") { cond = Expression(t, ref at); Expect(t, ref at, T.End); continue; }
                            if (kw == "else")
                            {
                                Expect(t, ref at, T.End);
                                otherwise = Block(t, ref at, ["endif"]);
                                EndOf(t, ref at, "if");
                            }
                            Expect(t, ref at, T.End);
                            break;
                        }
                        nodes.Add(new IfNode(branches, otherwise));
                        break;
                    }
                    case "for":
                    {
                        var targets = new List<string> { Name(t, ref at) };
                        while (IsOp(t[at], ",")) { at++; targets.Add(Name(t, ref at)); }
                        if (t[at].Value != "in") throw new InvalidDataException($"chat template: expected 'in' at line {t[at].Line}");
                        at++;
                        var iter = Ternary(t, ref at, allowIf: false);
                        Expr? filter = null;
                        if (t[at].Type == T.Name && t[at].Value == "if") { at++; filter = Expression(t, ref at); }
                        Expect(t, ref at, T.End);
                        var body = Block(t, ref at, ["else", "endfor"]);
                        List<Node>? otherwise = null;
                        if (EndOf(t, ref at, "for") == "else")
                        {
                            Expect(t, ref at, T.End);
                            otherwise = Block(t, ref at, ["endfor"]);
                            EndOf(t, ref at, "for");
                        }
                        Expect(t, ref at, T.End);
                        nodes.Add(new ForNode(targets, iter, filter, body, otherwise));
                        break;
                    }
                    case "set":
                    {
                        string target = Name(t, ref at);
                        string? attr = null;
                        if (IsOp(t[at], ".")) { at++; attr = Name(t, ref at); }
                        if (!IsOp(t[at], "=")) throw new InvalidDataException($"chat template: {{% set %}} blocks are not supported (line {t[at].Line})");
                        at++;
                        var value = Expression(t, ref at);
                        Expect(t, ref at, T.End);
                        nodes.Add(new SetNode(target, attr, value));
                        break;
                    }
                    case "generation":
                    {
                        Expect(t, ref at, T.End);
                        var body = Block(t, ref at, ["endgeneration"]);
                        at += 2;
                        Expect(t, ref at, T.End);
                        nodes.Add(new BlockNode(body));
                        break;
                    }
                    default:
                        throw new InvalidDataException($"chat template: {{% {name.Value} %}} at line {name.Line} is not supported (if, for, set, generation are)");
                }
            }
            if (ends.Length > 0) throw new InvalidDataException($"chat template: {{% {ends[^1]} %}} is missing");
            return nodes;
        }

        static string EndOf(List<Token> t, ref int at, string what)
        {
            if (at + 1 >= t.Count) throw new InvalidDataException($"chat template: {{% end{what} %}} is missing");
            string kw = t[at + 1].Value;
            at += 2;
            return kw;
        }

        static bool IsOp(Token t, string op) => t.Type == T.Op && t.Value == op;

        static bool IsName(Token t, string name) => t.Type == T.Name && t.Value == name;

        static string Name(List<Token> t, ref int at) =>
            t[at].Type == T.Name ? t[at++].Value : throw new InvalidDataException($"chat template: expected a name, found {t[at].Describe()}");

        static void Expect(List<Token> t, ref int at, T type)
        {
            if (at >= t.Count || t[at].Type != type) throw new InvalidDataException($"chat template: unexpected {(at < t.Count ? t[at].Describe() : "end")}");
            at++;
        }

        static void ExpectOp(List<Token> t, ref int at, string op)
        {
            if (!IsOp(t[at], op)) throw new InvalidDataException($"chat template: expected '{op}', found {t[at].Describe()}");
            at++;
        }

        public static Expr Expression(List<Token> t, ref int at) => Ternary(t, ref at, allowIf: true);

        static Expr Ternary(List<Token> t, ref int at, bool allowIf)
        {
            var e = Or(t, ref at);
            if (allowIf && IsName(t[at], "if"))
            {
                at++;
                var cond = Or(t, ref at);
                Expr? otherwise = null;
                if (IsName(t[at], "else")) { at++; otherwise = Ternary(t, ref at, true); }
                return new Cond(e, cond, otherwise);
            }
            return e;
        }

        static Expr Or(List<Token> t, ref int at)
        {
            var e = And(t, ref at);
            while (IsName(t[at], "or")) { at++; e = new Binary("or", e, And(t, ref at)); }
            return e;
        }

        static Expr And(List<Token> t, ref int at)
        {
            var e = Not(t, ref at);
            while (IsName(t[at], "and")) { at++; e = new Binary("and", e, Not(t, ref at)); }
            return e;
        }

        static Expr Not(List<Token> t, ref int at)
        {
            if (IsName(t[at], "not")) { at++; return new Unary("not", Not(t, ref at)); }
            return Compare(t, ref at);
        }

        static Expr Compare(List<Token> t, ref int at)
        {
            var e = Concat(t, ref at);
            while (true)
            {
                if (t[at].Type == T.Op && t[at].Value is "==" or "!=" or "<" or ">" or "<=" or ">=") { string op = t[at++].Value; e = new Binary(op, e, Concat(t, ref at)); }
                else if (IsName(t[at], "in")) { at++; e = new Binary("in", e, Concat(t, ref at)); }
                else if (IsName(t[at], "not") && IsName(t[at + 1], "in")) { at += 2; e = new Unary("not", new Binary("in", e, Concat(t, ref at))); }
                else if (IsName(t[at], "is"))
                {
                    at++;
                    bool negated = false;
                    if (IsName(t[at], "not")) { negated = true; at++; }
                    string name = t[at].Type == T.Name ? t[at++].Value : t[at].Type == T.Op && t[at].Value is "==" ? t[at++].Value : throw new InvalidDataException($"chat template: expected a test after 'is' at line {t[at].Line}");
                    var args = new List<Expr>();
                    if (IsOp(t[at], "(")) (args, _) = CallArgs(t, ref at);
                    else if (t[at].Type is T.String or T.Number || (t[at].Type == T.Name && t[at].Value is not ("and" or "or" or "else" or "if"))) args.Add(Primary(t, ref at));
                    e = new Test(e, name, args, negated);
                }
                else return e;
            }
        }

        static Expr Concat(List<Token> t, ref int at)
        {
            var e = Sum(t, ref at);
            while (IsOp(t[at], "~")) { at++; e = new Binary("~", e, Sum(t, ref at)); }
            return e;
        }

        static Expr Sum(List<Token> t, ref int at)
        {
            var e = Product(t, ref at);
            while (t[at].Type == T.Op && t[at].Value is "+" or "-") { string op = t[at++].Value; e = new Binary(op, e, Product(t, ref at)); }
            return e;
        }

        static Expr Product(List<Token> t, ref int at)
        {
            var e = UnaryMinus(t, ref at);
            while (t[at].Type == T.Op && t[at].Value is "*" or "/" or "//" or "%") { string op = t[at++].Value; e = new Binary(op, e, UnaryMinus(t, ref at)); }
            return e;
        }

        static Expr UnaryMinus(List<Token> t, ref int at)
        {
            if (t[at].Type == T.Op && t[at].Value is "-" or "+") { string op = t[at++].Value; return new Unary(op, UnaryMinus(t, ref at)); }
            return Postfix(t, ref at);
        }

        static Expr Postfix(List<Token> t, ref int at)
        {
            var e = Primary(t, ref at);
            while (true)
            {
                if (IsOp(t[at], ".")) { at++; e = new Attr(e, Name(t, ref at)); }
                else if (IsOp(t[at], "["))
                {
                    at++;
                    Expr? a = null, b = null, c = null;
                    if (!IsOp(t[at], ":")) a = Expression(t, ref at);
                    if (IsOp(t[at], ":"))
                    {
                        at++;
                        if (!IsOp(t[at], "]") && !IsOp(t[at], ":")) b = Expression(t, ref at);
                        if (IsOp(t[at], ":")) { at++; if (!IsOp(t[at], "]")) c = Expression(t, ref at); }
                        ExpectOp(t, ref at, "]");
                        e = new Slice(e, a, b, c);
                    }
                    else { ExpectOp(t, ref at, "]"); e = new Item(e, a!); }
                }
                else if (IsOp(t[at], "(")) { var (args, named) = CallArgs(t, ref at); e = new Call(e, args, named); }
                else if (IsOp(t[at], "|"))
                {
                    at++;
                    string name = Name(t, ref at);
                    var (args, named) = IsOp(t[at], "(") ? CallArgs(t, ref at) : ([], []);
                    e = new FilterCall(e, name, args, named);
                }
                else return e;
            }
        }

        static (List<Expr>, List<(string, Expr)>) CallArgs(List<Token> t, ref int at)
        {
            ExpectOp(t, ref at, "(");
            var args = new List<Expr>();
            var named = new List<(string, Expr)>();
            while (!IsOp(t[at], ")"))
            {
                if (t[at].Type == T.Name && IsOp(t[at + 1], "=")) { string n = t[at].Value; at += 2; named.Add((n, Expression(t, ref at))); }
                else args.Add(Expression(t, ref at));
                if (IsOp(t[at], ",")) at++;
                else if (!IsOp(t[at], ")")) throw new InvalidDataException($"chat template: expected ',' or ')', found {t[at].Describe()}");
            }
            at++;
            return (args, named);
        }

        static Expr Primary(List<Token> t, ref int at)
        {
            var tok = t[at++];
            switch (tok.Type)
            {
                case T.String:
                    string s = tok.Value;
                    while (t[at].Type == T.String) s += t[at++].Value;   // adjacent literals join, as in Python
                    return new Lit(s);
                case T.Number:
                    return new Lit(tok.Value.Contains('.') ? double.Parse(tok.Value, CultureInfo.InvariantCulture) : (object)long.Parse(tok.Value, CultureInfo.InvariantCulture));
                case T.Name:
                    return tok.Value switch
                    {
                        "true" or "True" => new Lit(true),
                        "false" or "False" => new Lit(false),
                        "none" or "None" => new Lit(null),
                        _ => new Var(tok.Value),
                    };
                case T.Op when tok.Value == "(":
                {
                    var e = Expression(t, ref at);
                    if (IsOp(t[at], ","))
                    {
                        var items = new List<Expr> { e };
                        while (IsOp(t[at], ",")) { at++; if (IsOp(t[at], ")")) break; items.Add(Expression(t, ref at)); }
                        e = new ListExpr(items);
                    }
                    ExpectOp(t, ref at, ")");
                    return e;
                }
                case T.Op when tok.Value == "[":
                {
                    var items = new List<Expr>();
                    while (!IsOp(t[at], "]")) { items.Add(Expression(t, ref at)); if (IsOp(t[at], ",")) at++; }
                    at++;
                    return new ListExpr(items);
                }
                case T.Op when tok.Value == "{":
                {
                    var items = new List<(Expr, Expr)>();
                    while (!IsOp(t[at], "}"))
                    {
                        var k = Expression(t, ref at);
                        ExpectOp(t, ref at, ":");
                        items.Add((k, Expression(t, ref at)));
                        if (IsOp(t[at], ",")) at++;
                    }
                    at++;
                    return new DictExpr(items);
                }
                default:
                    throw new InvalidDataException($"chat template: unexpected {tok.Describe()}");
            }
        }
    }

    // ---------------- evaluation ----------------

    static class Interpreter
    {
        public static void Run(List<Node> nodes, Scope scope, StringBuilder output)
        {
            foreach (var node in nodes)
                switch (node)
                {
                    case TextNode x: output.Append(x.Text); break;
                    case OutputNode x: output.Append(Values.Str(Eval(x.Value, scope))); break;
                    case BlockNode x: Run(x.Body, scope, output); break;
                    case IfNode x:
                    {
                        var branch = x.Branches.FirstOrDefault(b => Values.Truthy(Eval(b.Cond, scope)));
                        var body = branch.Body ?? x.Else;
                        if (body != null) Run(body, scope, output);
                        break;
                    }
                    case SetNode x:
                    {
                        var value = Eval(x.Value, scope);
                        if (x.Attr == null) scope.Set(x.Name, value);
                        else if (scope.Get(x.Name) is Namespace ns) ns.Values[x.Attr] = value;
                        else throw new InvalidDataException($"chat template: cannot set {x.Name}.{x.Attr}: {x.Name} is not a namespace");
                        break;
                    }
                    case ForNode x:
                    {
                        var items = Values.Iterate(Eval(x.Iter, scope)).ToList();
                        if (x.Filter != null)
                            items = items.Where(item => { var s = Bind(scope, x.Targets, item); return Values.Truthy(Eval(x.Filter, s)); }).ToList();
                        if (items.Count == 0) { if (x.Else != null) Run(x.Else, scope, output); break; }
                        for (int i = 0; i < items.Count; i++)
                        {
                            var inner = Bind(scope, x.Targets, items[i]);
                            inner.Set("loop", new Dictionary<string, object?>
                            {
                                ["index"] = (long)(i + 1), ["index0"] = (long)i, ["first"] = i == 0, ["last"] = i == items.Count - 1,
                                ["length"] = (long)items.Count, ["revindex"] = (long)(items.Count - i), ["revindex0"] = (long)(items.Count - i - 1),
                                ["previtem"] = i > 0 ? items[i - 1] : Undefined.Value, ["nextitem"] = i + 1 < items.Count ? items[i + 1] : Undefined.Value,
                            });
                            Run(x.Body, inner, output);
                            // Jinja's loop scope: assignments inside stay inside, except through namespaces.
                        }
                        break;
                    }
                }
        }

        static Scope Bind(Scope outer, List<string> targets, object? item)
        {
            var s = new Scope(outer);
            if (targets.Count == 1) s.Set(targets[0], item);
            else
            {
                var parts = Values.Iterate(item).ToList();
                if (parts.Count != targets.Count) throw new InvalidDataException($"chat template: cannot unpack {parts.Count} values into {targets.Count} names");
                for (int i = 0; i < targets.Count; i++) s.Set(targets[i], parts[i]);
            }
            return s;
        }

        public static object? Eval(Expr e, Scope scope)
        {
            switch (e)
            {
                case Lit x: return x.Value;
                case Var x: return scope.Get(x.Name);
                case Attr x:
                {
                    var target = Eval(x.Target, scope);
                    return target switch
                    {
                        Dictionary<string, object?> d => d.TryGetValue(x.Name, out var v) ? v : Method.DictMethods.Contains(x.Name) ? new Method(target, x.Name) : Undefined.Value,
                        Namespace ns => ns.Values.TryGetValue(x.Name, out var v) ? v : Undefined.Value,
                        string when Method.StringMethods.Contains(x.Name) => new Method(target, x.Name),
                        _ => Undefined.Value,
                    };
                }
                case Item x: return Values.Index(Eval(x.Target, scope), Eval(x.Key, scope));
                case Slice x: return SliceOf(Eval(x.Target, scope), x.Start is null ? null : Eval(x.Start, scope), x.Stop is null ? null : Eval(x.Stop, scope), x.Step is null ? null : Eval(x.Step, scope));
                case Call x:
                {
                    var target = Eval(x.Target, scope);
                    var args = new Args(x.Args.Select(a => Eval(a, scope)).ToList(), x.Named.ToDictionary(n => n.Item1, n => Eval(n.Item2, scope)));
                    return target switch
                    {
                        Function f => f.Call(args),
                        Method m => m.Call(args),
                        _ => throw new InvalidDataException($"chat template: {Describe(x.Target)} is not a function"),
                    };
                }
                case FilterCall x: return Filter(x.Name, Eval(x.Target, scope), x.Args.Select(a => Eval(a, scope)).ToList(), x.Named.ToDictionary(n => n.Item1, n => Eval(n.Item2, scope)));
                case Test x:
                {
                    bool r = TestOf(x.Name, Eval(x.Target, scope), x.Args.Select(a => Eval(a, scope)).ToList());
                    return x.Negated ? !r : r;
                }
                case Unary x:
                {
                    var v = Eval(x.Value, scope);
                    return x.Op switch
                    {
                        "not" => !Values.Truthy(v),
                        "-" => v is long l ? -l : (object)-Values.Num(v),
                        _ => v,
                    };
                }
                case Binary x:
                {
                    if (x.Op == "and") { var l = Eval(x.Left, scope); return Values.Truthy(l) ? Eval(x.Right, scope) : l; }
                    if (x.Op == "or") { var l = Eval(x.Left, scope); return Values.Truthy(l) ? l : Eval(x.Right, scope); }
                    var a = Eval(x.Left, scope);
                    var b = Eval(x.Right, scope);
                    return x.Op switch
                    {
                        "==" => Values.Equal(a, b),
                        "!=" => !Values.Equal(a, b),
                        "<" => Values.Compare(a, b) < 0,
                        ">" => Values.Compare(a, b) > 0,
                        "<=" => Values.Compare(a, b) <= 0,
                        ">=" => Values.Compare(a, b) >= 0,
                        "~" => Values.Str(a) + Values.Str(b),
                        "in" => b switch
                        {
                            string s => s.Contains(Values.Str(a), StringComparison.Ordinal),
                            List<object?> l => l.Any(i => Values.Equal(i, a)),
                            Dictionary<string, object?> d => a is string k && d.ContainsKey(k),
                            Namespace ns => a is string k && ns.Values.ContainsKey(k),
                            null or Undefined => false,
                            _ => throw new InvalidDataException($"chat template: 'in' needs a string, list or mapping"),
                        },
                        "+" => (a, b) switch
                        {
                            (string s, string t) => s + t,
                            (List<object?> l, List<object?> m) => (object)l.Concat(m).ToList(),
                            (long l, long m) => l + m,
                            _ when a is string || b is string => throw new InvalidDataException($"chat template: cannot add {Kind(a)} and {Kind(b)}"),
                            _ => Values.Num(a) + Values.Num(b),
                        },
                        "-" => a is long l1 && b is long l2 ? l1 - l2 : (object)(Values.Num(a) - Values.Num(b)),
                        "*" => (a, b) switch
                        {
                            (string s, long n) => string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, n))),
                            (long l, long m) => l * m,
                            _ => Values.Num(a) * Values.Num(b),
                        },
                        "/" => Values.Num(a) / Values.Num(b),
                        "//" => a is long l3 && b is long l4 ? (long)Math.Floor((double)l3 / l4) : (object)Math.Floor(Values.Num(a) / Values.Num(b)),
                        "%" => a is long l5 && b is long l6 ? ((l5 % l6) + l6) % l6 : (object)(Values.Num(a) % Values.Num(b)),
                        _ => throw new InvalidDataException($"chat template: operator {x.Op}"),
                    };
                }
                case Cond x: return Values.Truthy(Eval(x.If, scope)) ? Eval(x.Then, scope) : x.Else is null ? Undefined.Value : Eval(x.Else, scope);
                case ListExpr x: return x.Items.Select(i => Eval(i, scope)).ToList();
                case DictExpr x: return x.Items.ToDictionary(i => Values.Str(Eval(i.Key, scope)), i => Eval(i.Value, scope));
                default: throw new InvalidOperationException(e.GetType().Name);
            }
        }

        static string Kind(object? v) => v switch { null => "None", string => "a string", long or double => "a number", List<object?> => "a list", _ => v.GetType().Name };

        static string Describe(Expr e) => e switch { Var v => v.Name, Attr a => Describe(a.Target) + "." + a.Name, _ => "the expression" };

        static object? SliceOf(object? target, object? start, object? stop, object? step)
        {
            List<object?> items = target switch
            {
                List<object?> l => l,
                string s => Values.Runes(s).Cast<object?>().ToList(),
                _ => throw new InvalidDataException("chat template: only lists and strings can be sliced"),
            };
            long n = items.Count, st = step is null ? 1 : (long)Values.Num(step);
            if (st == 0) throw new InvalidDataException("chat template: slice step cannot be zero");
            long Norm(object? v, long dflt) { if (v is null) return dflt; long i = (long)Values.Num(v); if (i < 0) i += n; return i; }
            var result = new List<object?>();
            if (st > 0)
            {
                long a = Math.Clamp(Norm(start, 0), 0, n), b = Math.Clamp(Norm(stop, n), 0, n);
                for (long i = a; i < b; i += st) result.Add(items[(int)i]);
            }
            else
            {
                long a = Math.Clamp(Norm(start, n - 1), -1, n - 1), b = stop is null ? -1 : Math.Clamp(Norm(stop, -1), -1, n - 1);
                for (long i = a; i > b; i += st) result.Add(items[(int)i]);
            }
            return target is string ? string.Concat(result.Select(r => (string)r!)) : result;
        }

        static object? Filter(string name, object? v, List<object?> args, Dictionary<string, object?> named)
        {
            switch (name)
            {
                case "trim": return Values.Str(v).Trim(Values.PythonSpace);
                case "length" or "count": return (long)(v switch { string s => Values.Runes(s).Count, List<object?> l => l.Count, Dictionary<string, object?> m => m.Count, _ => Values.Iterate(v).Count() });
                case "default" or "d":
                    bool boolean = args.Count > 1 && Values.Truthy(args[1]);
                    return v is Undefined || (boolean && !Values.Truthy(v)) ? (args.Count > 0 ? args[0] : "") : v;
                case "string": return Values.Str(v);
                case "upper": return Values.Str(v).ToUpperInvariant();
                case "lower": return Values.Str(v).ToLowerInvariant();
                case "capitalize": { string s = Values.Str(v); return s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant(); }
                case "first": return Values.Iterate(v).FirstOrDefault(Undefined.Value);
                case "last": return v is List<object?> l1 && l1.Count > 0 ? l1[^1] : Values.Iterate(v).LastOrDefault(Undefined.Value);
                case "list": return Values.Iterate(v).ToList();
                case "reverse": return v is string rs ? string.Concat(Values.Runes(rs).AsEnumerable().Reverse()) : Values.Iterate(v).Reverse().ToList();
                case "join": return string.Join(args.Count > 0 ? Values.Str(args[0]) : "", Values.Iterate(v).Select(Values.Str));
                case "replace": return Values.Str(v).Replace(Values.Str(args[0]), Values.Str(args[1]));
                case "int":
                    if (v is not string si) return (long)Values.Num(v);
                    if (long.TryParse(si.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long n)) return n;
                    return double.TryParse(si.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double fi) ? (long)Math.Truncate(fi) : 0L;
                case "float": return v is string sf ? (double.TryParse(sf.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : 0.0) : Values.Num(v);
                case "safe": return v;
                case "items": return v is Dictionary<string, object?> di ? di.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList() : throw new InvalidDataException("chat template: items needs a mapping");
                case "tojson":
                    int? indent = named.TryGetValue("indent", out var ind) && ind is long il ? (int)il : args.Count > 0 && args[0] is long ia ? (int)ia : null;
                    return Values.ToJson(v, indent);
                case "selectattr" or "rejectattr":
                {
                    string attr = Values.Str(args[0]);
                    bool select = name == "selectattr";
                    return Values.Iterate(v).Where(item =>
                    {
                        var value = Values.Index(item, attr);
                        bool r = args.Count > 1 ? TestOf(Values.Str(args[1]), value, args.Skip(2).ToList()) : Values.Truthy(value);
                        return r == select;
                    }).ToList();
                }
                case "map":
                    if (named.TryGetValue("attribute", out var attribute)) return Values.Iterate(v).Select(item => Values.Index(item, Values.Str(attribute))).ToList();
                    return Values.Iterate(v).Select(item => Filter(Values.Str(args[0]), item, args.Skip(1).ToList(), [])).ToList();
                default:
                    throw new InvalidDataException($"chat template: filter '{name}' is not supported");
            }
        }

        static bool TestOf(string name, object? v, List<object?> args) => name switch
        {
            "defined" => v is not Undefined,
            "undefined" => v is Undefined,
            "none" => v is null,
            "string" => v is string,
            "number" => v is long or double,
            "integer" => v is long,
            "float" => v is double,
            "boolean" => v is bool,
            "true" => v is true,
            "false" => v is false,
            "mapping" => v is Dictionary<string, object?> or Namespace,
            "iterable" => v is string or List<object?> or Dictionary<string, object?>,
            "sequence" => v is string or List<object?> or Dictionary<string, object?>,
            "even" => (long)Values.Num(v) % 2 == 0,
            "odd" => (long)Values.Num(v) % 2 != 0,
            "equalto" or "eq" or "==" or "sameas" => Values.Equal(v, args[0]),
            "ne" => !Values.Equal(v, args[0]),
            "in" => args[0] switch { List<object?> l => l.Any(i => Values.Equal(i, v)), string s => s.Contains(Values.Str(v), StringComparison.Ordinal), _ => false },
            _ => throw new InvalidDataException($"chat template: test '{name}' is not supported"),
        };
    }

    /// <summary>A value's method: Python's str and dict methods that templates call.</summary>
    sealed class Method(object? target, string name)
    {
        public static readonly HashSet<string> StringMethods = ["strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "upper", "lower", "replace", "find", "count"];
        public static readonly HashSet<string> DictMethods = ["items", "keys", "values", "get"];

        public object? Call(Args a)
        {
            var p = a.Positional;
            switch (target, name)
            {
                case (string s, "strip"): return p.Count > 0 && p[0] is string c1 ? s.Trim(c1.ToCharArray()) : s.Trim(Values.PythonSpace);
                case (string s, "lstrip"): return p.Count > 0 && p[0] is string c2 ? s.TrimStart(c2.ToCharArray()) : s.TrimStart(Values.PythonSpace);
                case (string s, "rstrip"): return p.Count > 0 && p[0] is string c3 ? s.TrimEnd(c3.ToCharArray()) : s.TrimEnd(Values.PythonSpace);
                case (string s, "split"):
                {
                    int max = p.Count > 1 ? (int)Values.Num(p[1]) : -1;
                    if (p.Count == 0 || p[0] is null)
                    {
                        var words = s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                        return words.Select(w => (object?)w).ToList();
                    }
                    string sep = Values.Str(p[0]);
                    if (sep.Length == 0) throw new InvalidDataException("chat template: split with an empty separator");
                    var parts = max < 0 ? s.Split(sep) : s.Split(sep, max + 1);
                    return parts.Select(x => (object?)x).ToList();
                }
                case (string s, "rsplit") when p.Count >= 1:
                {
                    string sep = Values.Str(p[0]);
                    int max = p.Count > 1 ? (int)Values.Num(p[1]) : -1;
                    var parts = s.Split(sep).ToList();
                    if (max >= 0 && parts.Count > max + 1)
                    {
                        string head = string.Join(sep, parts.Take(parts.Count - max));
                        parts = [head, .. parts.Skip(parts.Count - max)];
                    }
                    return parts.Select(x => (object?)x).ToList();
                }
                case (string s, "startswith"): return p[0] is List<object?> any ? any.Any(x => s.StartsWith(Values.Str(x), StringComparison.Ordinal)) : s.StartsWith(Values.Str(p[0]), StringComparison.Ordinal);
                case (string s, "endswith"): return p[0] is List<object?> any2 ? any2.Any(x => s.EndsWith(Values.Str(x), StringComparison.Ordinal)) : s.EndsWith(Values.Str(p[0]), StringComparison.Ordinal);
                case (string s, "upper"): return s.ToUpperInvariant();
                case (string s, "lower"): return s.ToLowerInvariant();
                case (string s, "replace"): return s.Replace(Values.Str(p[0]), Values.Str(p[1]));
                case (string s, "find"): return (long)s.IndexOf(Values.Str(p[0]), StringComparison.Ordinal);
                case (string s, "count"): return (long)(s.Length == 0 ? 0 : (s.Length - s.Replace(Values.Str(p[0]), "").Length) / Math.Max(1, Values.Str(p[0]).Length));
                case (Dictionary<string, object?> d, "items"): return d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList();
                case (Dictionary<string, object?> d, "keys"): return d.Keys.Select(k => (object?)k).ToList();
                case (Dictionary<string, object?> d, "values"): return d.Values.ToList();
                case (Dictionary<string, object?> d, "get"): return d.TryGetValue(Values.Str(p[0]), out var v) ? v : p.Count > 1 ? p[1] : null;
                default:
                    throw new InvalidDataException($"chat template: {(target is string ? "a string" : target is Dictionary<string, object?> ? "a mapping" : target?.GetType().Name ?? "None")} has no method '{name}'");
            }
        }
    }

}
