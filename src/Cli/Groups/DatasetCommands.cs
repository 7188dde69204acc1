using System.CommandLine;
using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Artifacts;
using MathV2.Core.Datasets;
using MathV2.Core.Demo;
using MathV2.Core.Method;
using MathV2.Core.Storage;
using static MathV2.Cli.Groups.CliOptions;

namespace MathV2.Cli.Groups;

/// <summary>datasets (import, demo) and method (parse): the method's data on this machine, without the stack.</summary>
public static class DatasetCommands
{
    public static IEnumerable<Command> Build(CliContext c)
    {
        yield return Group("datasets", "Datasets: import your own rows, or write the demo domain's", Import(c), Demo(c));
        yield return Group("method", "The method's parsers, for debugging prompts", Parse(c));
        yield return Group("prompts", "Prompt sets: import the authors' templates, show a set", ImportPrompts(c), ShowPrompts(c));
        yield return Tokenize(c);
    }

    static Command Tokenize(CliContext c)
    {
        var dir = Text("--tokenizer", "A checkpoint folder (or its tokenizer.json): tokenizer.json, and tokenizer_config.json when the model has one", "DIR", required: true);
        return Command("tokenize", "The ids a tokenizer gives the text on stdin (read whole), with each id's piece and text, as the worker encodes it", async (pr, ct) =>
        {
            // The tokenizers live in the worker (beside TorchSharp, which the CLI does not load); it runs without the stack.
            if (!File.Exists(c.Layout.WorkerDll)) throw new CliException($"worker not built: {c.Layout.WorkerDll} is missing (run ./mathv2 once to build)");
            var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in (string[])[c.Layout.WorkerDll, "tokenize", "--tokenizer", Path.GetFullPath(pr.GetValue(dir)!)]) psi.ArgumentList.Add(a);
            if (c.IsJson(pr)) psi.ArgumentList.Add("--json");
            psi.StandardInputEncoding = psi.StandardOutputEncoding = psi.StandardErrorEncoding = new System.Text.UTF8Encoding(false);
            using var p = System.Diagnostics.Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEndAsync(ct);
            var errors = p.StandardError.ReadToEndAsync(ct);
            try
            {
                await p.StandardInput.WriteAsync(await c.In.ReadToEndAsync(ct));
                p.StandardInput.Close();
            }
            catch (IOException) { }   // the worker stopped early (a bad tokenizer): its error follows
            await p.WaitForExitAsync(ct);
            await c.Out.WriteAsync(await output);
            string err = await errors;
            if (p.ExitCode != 0) throw new CliException(err.Trim().Replace("mathv2 tokenize: ", ""));
            await c.Err.WriteAsync(err);
            return 0;
        }, dir);
    }

    static Command Import(CliContext c)
    {
        var input = ExistingFile("--in", "The rows to import (JSONL, or a JSON array)", required: true);
        var problem = Text("--problem-field", "The field holding the problem statement (dot paths for nested fields: meta.statement)", "FIELD", required: true);
        var proof = Text("--proof-field", "The field holding a proof (graded proofs)", "FIELD");
        var score = Text("--score-field", "The field holding a proof's or analysis's score", "FIELD");
        var analysis = Text("--analysis-field", "The field holding a verifier analysis (rated analyses)", "FIELD");
        var id = Text("--id-field", "The field holding the row's id (a hash of the problem otherwise)", "FIELD");
        var scoreMap = Text("--score-map", "Map points to scores, inclusive ranges: \"7:1,5-6:0.5,0-4:0\" (an unmapped value is a bad row)", "MAP");
        var scoreScale = Text("--score-scale", "A continuous score on LO-HI, rounded to the nearest of 0, 0.5, 1 (ties to the lower): \"0-1\"", "LO-HI");
        // A bad map or scale is a usage error (exit 2) found when the command line is parsed, before the file is read.
        scoreMap.Validators.Add(r => { try { if (r.GetValueOrDefault<string?>() is { } m) ScoreMapping.ParseMap(m); } catch (FormatException e) { r.AddError($"--score-map: {e.Message}"); } });
        scoreScale.Validators.Add(r => { try { if (r.GetValueOrDefault<string?>() is { } m) ScoreMapping.ParseScale(m); } catch (FormatException e) { r.AddError($"--score-scale: {e.Message}"); } });
        var outFile = Text("--out", "Write the imported JSONL here (bad rows to FILE.rejected with --skip-invalid)", "FILE");
        var skip = Flag("--skip-invalid", "Set bad rows aside instead of rejecting the whole file");
        var artifact = Text("--artifact", "Also store the rows as a dataset artifact with this id on the local stack", "ID");
        return Command("import", "Import problems, graded proofs or rated analyses from JSONL or a JSON array, streamed; duplicates dropped; every bad row named (file:line: field)", async (pr, ct) =>
        {
            string path = pr.GetValue(input)!;
            ScoreMapping? scores;
            try
            {
                scores = (pr.GetValue(scoreMap), pr.GetValue(scoreScale)) switch
                {
                    ({ }, { }) => throw new CliException("--score-map and --score-scale exclude each other"),
                    ({ } m, null) => ScoreMapping.ParseMap(m),
                    (null, { } sc) => ScoreMapping.ParseScale(sc),
                    _ => null,
                };
            }
            catch (FormatException e) { throw new CliException($"--score-{(pr.GetValue(scoreMap) != null ? "map" : "scale")}: {e.Message}"); }
            var map = new FieldMapping
            {
                ProblemField = pr.GetValue(problem)!, ProofField = pr.GetValue(proof), ScoreField = pr.GetValue(score),
                AnalysisField = pr.GetValue(analysis), IdField = pr.GetValue(id), Scores = scores,
            };
            string? outPath = pr.GetValue(outFile);
            bool json = c.IsJson(pr);
            // Written to a temporary file first: a rejected import leaves nothing behind.
            string temp = Path.GetTempFileName();
            ImportSummary summary;
            try
            {
                await using (var source = File.OpenRead(path))
                await using (var target = File.Create(temp))
                await using (var rejected = outPath != null && pr.GetValue(skip) ? File.Create(outPath + ".rejected") : null)
                {
                    try { summary = await DatasetImporter.ImportAsync(source, path, map, target, rejected, pr.GetValue(skip), ct); }
                    catch (DatasetException e)
                    {
                        throw new CliException(string.Join("\n", e.Errors.Take(20)) + (e.Total > 20 ? $"\n… {e.Total - 20} more bad rows" : "") +
                            "\nnothing was imported (use --skip-invalid to set bad rows aside)");
                    }
                    catch (ArgumentException e) { throw new CliException(e.Message); }
                }
                foreach (var e in summary.Errors.Take(20)) c.Err.WriteLine($"skipped: {e}");
                if (outPath != null) File.Move(temp, outPath, overwrite: true);
                string stored = outPath ?? temp;
                string? artifactId = pr.GetValue(artifact) is { } a ? await UploadDatasetAsync(c.Layout, a, summary.Kind, stored, ct) : null;
                var done = new DatasetImported(summary.Kind, summary.Kept, summary.Rejected, outPath, artifactId)
                {
                    Read = summary.Read, Mapped = summary.Mapped, Duplicates = summary.Duplicates,
                };
                if (json) c.WriteJson(done);
                else
                {
                    c.Err.WriteLine($"read {summary.Read} row(s): kept {summary.Kept} {summary.Kind}" + (summary.Mapped > 0 ? $" ({summary.Mapped} scores mapped by {scores!.Spec})" : "") +
                        $", {summary.Duplicates} duplicate(s) dropped, {summary.Rejected} rejected" + (summary.Rejected > 0 && outPath != null ? $" (in {outPath}.rejected)" : "") +
                        $"{(outPath != null ? $" → {outPath}" : "")}{(artifactId != null ? $" (artifact {artifactId})" : "")}");
                    if (outPath == null && artifactId == null)
                        await using (var written = File.OpenRead(temp)) { using var r = new StreamReader(written); while (await r.ReadLineAsync(ct) is { } line) c.Out.WriteLine(line); }
                }
                return 0;
            }
            finally { if (File.Exists(temp)) File.Delete(temp); }
        }, input, problem, proof, score, analysis, id, scoreMap, scoreScale, outFile, skip, artifact);
    }

    static Command Demo(CliContext c)
    {
        var seed = Int("--seed", "The generator's seed", 1, int.MinValue, int.MaxValue);
        var perDifficulty = Int("--problems-per-difficulty", "Problems per difficulty level", 50, 1, 100000);
        var maxDifficulty = Int("--max-difficulty", "The hardest level", 2, 1, 4);
        var prompts = Choice("--prompts", "The prompt set", "standard", "standard", "compact");
        var outDir = Text("--out", "The folder to write the datasets to", "DIR", required: true);
        var prefix = Text("--artifact-prefix", "Also store them as an artifact PREFIX-demo-seedS on the local stack", "PREFIX");
        return Command("demo", "Write the demo domain's datasets (problems, graded proofs, graded analyses, demonstrations)", async (pr, ct) =>
        {
            var o = new DemoDatasetOptions
            {
                Seed = pr.GetValue(seed), ProblemsPerDifficulty = pr.GetValue(perDifficulty), MaxDifficulty = pr.GetValue(maxDifficulty), Prompts = pr.GetValue(prompts)!,
            };
            string dir = pr.GetValue(outDir)!;
            Directory.CreateDirectory(dir);
            var files = new (string Name, string Text)[]
            {
                ("problems.jsonl", Jsonl.Write(DemoDatasets.ProblemRows(o))),
                ("graded-proofs.jsonl", Jsonl.Write(DemoDatasets.GradedProofs(o))),
                ("graded-analyses.jsonl", Jsonl.Write(DemoDatasets.GradedAnalyses(o))),
                ("demonstrations.jsonl", Jsonl.Write(DemoDatasets.Demonstrations(o))),
            };
            foreach (var (name, text) in files) await File.WriteAllTextAsync(Path.Combine(dir, name), text, ct);
            string? artifact = pr.GetValue(prefix) is { } p ? await UploadDatasetAsync(c.Layout, $"{p}-demo-seed{o.Seed}", "demo-datasets", files, ct) : null;
            var counts = files.ToDictionary(f => f.Name, f => f.Text.Count(ch => ch == '\n'));
            if (c.IsJson(pr)) c.WriteJson(new DemoDatasetsWritten(dir, o, counts, artifact));
            else c.Out.WriteLine($"demo datasets in {dir}: " + string.Join(", ", counts.Select(x => $"{x.Key} {x.Value}")) + (artifact != null ? $" (artifact {artifact})" : ""));
            return 0;
        }, seed, perDifficulty, maxDifficulty, prompts, outDir, prefix);
    }

    /// <summary>
    /// Stores imported rows as a dataset artifact on the local stack, in the file a lap's datasets role reads for
    /// their kind (problems.jsonl, graded-proofs.jsonl, graded-analyses.jsonl).
    /// </summary>
    static Task<string> UploadDatasetAsync(StackLayout layout, string id, DatasetKind kind, string file, CancellationToken ct) =>
        StoreAsync(layout, id, "dataset", async w =>
        {
            string name = UploadValidation.DatasetFiles.First(f => f.Value == kind).Key;
            await using var stream = File.OpenRead(file);
            await w.AddStreamAsync(name, stream, ct);
        }, ct);

    static Task<string> UploadDatasetAsync(StackLayout layout, string id, string kind, IEnumerable<(string Name, string Text)> files, CancellationToken ct) =>
        StoreAsync(layout, id, kind, async w => { foreach (var (name, text) in files) await w.AddTextAsync(name, text, ct); }, ct);

    /// <summary>Stores files as an immutable artifact in the datasets container of the local stack.</summary>
    static async Task<string> StoreAsync(StackLayout layout, string id, string kind, Func<ArtifactWriter, Task> add, CancellationToken ct)
    {
        if (!Ids.IsValid(id)) throw new CliException($"invalid artifact id '{id}': use letters, digits, '-', '_' or '.'");
        if (!File.Exists(layout.PidFile)) throw new CliException("storing an artifact needs the local stack: run ./mathv2 up");
        var store = new ArtifactStore(new MathV2Storage(layout.StorageConnectionString));
        if (await store.GetAsync(id, ct) != null) throw new CliException($"artifact {id} already exists (artifacts are immutable)");
        var w = store.Create(id, kind, StorageNames.DatasetsContainer, id, new ArtifactProducer { Worker = "mathv2 cli" });
        await add(w);
        await w.CommitAsync(ct);
        return id;
    }

    static Command ImportPrompts(CliContext c)
    {
        var input = ExistingFile("--in", "The authors' math_templates.py (from their published inference code)", required: true);
        var outFile = Text("--out", "Write the prompt set (JSON) here; stdout otherwise", "FILE");
        var name = Text("--name", "The set's name (not a built-in one)", "NAME");
        return Command("import", "Read the authors' prompt templates verbatim into a prompt set for 'lap start --prompts FILE' or a spec's prompts", async (pr, ct) =>
        {
            string path = pr.GetValue(input)!;
            string source = await File.ReadAllTextAsync(path, ct);
            PromptSet set;
            try { set = PromptImport.FromPythonTemplates(source, path, pr.GetValue(name) ?? "paper"); }
            catch (FormatException e) { throw new CliException(e.Message); }
            string json = Json.Serialize(set, indented: true) + "\n";
            string sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(source)));
            if (pr.GetValue(outFile) is { } outPath)
            {
                await File.WriteAllTextAsync(outPath, json, ct);
                if (c.IsJson(pr)) c.WriteJson(new PromptsImported(set.Name, path, sha, outPath));
                else c.Out.WriteLine($"prompt set '{set.Name}' from {path} (sha256 {sha[..12]}…) → {outPath}; use it with ./mathv2 lap start --prompts {outPath}");
            }
            else c.Out.Write(json);
            return 0;
        }, input, outFile, name);
    }

    static Command ShowPrompts(CliContext c)
    {
        var set = PromptSetOption("--set", "A built-in set (standard, compact) or a prompt-set file");
        set.Required = true;
        var role = Choice("--render", "Print this template rendered on a sample problem instead of the set", null, "verification", "meta", "generation", "refinement");
        return Command("show", "Print a prompt set (JSON), or one of its prompts rendered", (pr, ct) =>
        {
            var s = pr.GetValue(set)!;
            const string problem = "Prove that 1 + 1 = 2.", proof = "Step 1: 1 + 1 = 2.";
            string analysis = $"{Prompts.VerificationLead.Phrase}\nStep 1 is right.\n{Prompts.VerificationClosing.Phrase}\n\\boxed{{1}}";
            string? text = pr.GetValue(role) switch
            {
                "verification" => Prompts.RenderVerification(problem, proof, s.Verification),
                "meta" => Prompts.RenderMetaVerification(problem, proof, analysis, s.MetaVerification),
                "generation" => Prompts.RenderGeneration(problem, s.Generation),
                "refinement" => Prompts.RenderRefinement(problem, [(proof, analysis, 1)], s),
                _ => null,
            };
            c.Out.WriteLine(text ?? Json.Serialize(s.Expanded(), indented: true));
            return Task.FromResult(0);
        }, set, role);
    }

    /// <summary>What the parsers extract from a model output read from stdin; exit 2 when its format is wrong.</summary>
    static Command Parse(CliContext c)
    {
        var kind = Choice("--kind", "What the output answers: a verification, a meta-verification or a generation", null, "verification", "meta", "generation");
        kind.Required = true;
        var finish = Choice("--finish-reason", "Why the sampler stopped (length: cut at the token cap)", "stop", "stop", "length");
        return Command("parse", "Parse a model output read from stdin as the method's parsers do", (pr, ct) =>
        {
            string text = c.In.ReadToEnd(), reason = pr.GetValue(finish)!;
            (object result, bool formatOk) = pr.GetValue(kind) switch
            {
                "verification" => Parsed(Parsers.Verification(text, reason)),
                "meta" => Parsed(Parsers.MetaVerification(text, reason)),
                _ => Parsers.Generation(text, reason) is var g ? (g, g.FormatOk) : default,
            };
            var doc = JsonSerializer.SerializeToElement(result, result.GetType(), Json.Options);
            if (c.IsJson(pr)) c.WriteJson(doc);
            else foreach (var p in doc.EnumerateObject()) c.Out.WriteLine($"{p.Name,-15} {(p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : p.Value.GetRawText())}");
            return Task.FromResult(formatOk ? 0 : 2);
        }, kind, finish);

        static (object, bool) Parsed(AnalysisParse a) => (a, a.FormatOk);
    }
}

public sealed record PromptsImported(string Name, string Source, string Sha256, string Out);

public sealed record DatasetImported(DatasetKind Kind, int Rows, int Rejected, string? Out, string? Artifact)
{
    public int Read { get; init; }
    public int Mapped { get; init; }
    public int Duplicates { get; init; }
}
public sealed record DemoDatasetsWritten(string Dir, DemoDatasetOptions Options, IReadOnlyDictionary<string, int> Rows, string? Artifact);
