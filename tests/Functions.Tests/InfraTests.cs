using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using MathV2.Core;
using MathV2.Core.Storage;
using MathV2.Tests;
using YamlDotNet.RepresentationModel;

namespace MathV2.Functions.Tests;

/// <summary>
/// infra/ (Bicep) checked offline with the Bicep CLI from NuGet: it builds and lints clean, and the names the
/// templates set are the ones the code uses (storage names, settings, the task hub, the worker's queue).
/// </summary>
public sealed class InfraTests
{
    static readonly string Infra = Path.Combine(Repo.Root, "infra");

    static string Bicep()
    {
        string path = typeof(InfraTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "BicepPath").Value!.Replace('\\', '/');
        Assert.True(File.Exists(path), $"the Bicep CLI is not at {path} (package Azure.Bicep.CommandLine.linux-x64)");
        // NuGet does not keep the executable bit.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute | UnixFileMode.UserRead);
        return path;
    }

    static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var psi = new ProcessStartInfo(Bicep()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await p.WaitForExitAsync(timeout.Token);
        return (p.ExitCode, await o, await e);
    }

    static async Task<JsonElement> TemplateAsync()
    {
        var (code, json, err) = await RunAsync("build", Path.Combine(Infra, "main.bicep"), "--stdout");
        Assert.True(code == 0, err);
        return JsonDocument.Parse(json).RootElement;
    }

    [Fact]
    public async Task The_templates_build_and_lint_clean()
    {
        await TemplateAsync();
        foreach (string file in new[] { "main.bicep", "main.bicepparam" }.Concat(Directory.GetFiles(Path.Combine(Infra, "modules"), "*.bicep")))
        {
            var (code, o, e) = await RunAsync("lint", Path.Combine(Infra, file));
            Assert.True(code == 0 && o.Trim() == "" && e.Trim() == "", $"bicep lint {file}: {o}{e}");
        }
        var (pc, _, pe) = await RunAsync("build-params", Path.Combine(Infra, "main.bicepparam"), "--stdout");
        Assert.True(pc == 0, pe);
    }

    /// <summary>Every object with a "name" and a "value" under arrays named appSettings or env, by name.</summary>
    static List<string> SettingNames(JsonElement e, string array)
    {
        var names = new List<string>();
        void Walk(JsonElement x)
        {
            if (x.ValueKind == JsonValueKind.Object)
                foreach (var p in x.EnumerateObject())
                {
                    if (p.Name == array && p.Value.ValueKind == JsonValueKind.Array)
                        names.AddRange(p.Value.EnumerateArray().Where(i => i.TryGetProperty("name", out _)).Select(i => i.GetProperty("name").GetString()!));
                    Walk(p.Value);
                }
            else if (x.ValueKind == JsonValueKind.Array)
                foreach (var i in x.EnumerateArray()) Walk(i);
        }
        Walk(e);
        return names;
    }

    static IEnumerable<string> Strings(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => [e.GetString()!],
        JsonValueKind.Array => e.EnumerateArray().SelectMany(Strings),
        JsonValueKind.Object => e.EnumerateObject().SelectMany(p => Strings(p.Value)),
        _ => [],
    };

    [Fact]
    public async Task The_templates_set_the_names_the_code_uses()
    {
        var template = await TemplateAsync();
        var literals = Strings(template).ToHashSet();
        // The storage account's containers, tables and queues.
        foreach (string name in StorageNames.Containers.Concat(StorageNames.Tables).Concat(StorageNames.Queues))
            Assert.Contains(name, literals);
        // The worker scales on the queue the jobs go to.
        Assert.Contains(Regex.Matches(template.GetRawText(), "\"queueName\": \"([^\"]+)\"").Select(m => m.Groups[1].Value), q => q == StorageNames.GpuJobsQueue);
        // The task hub host.json names (%MATHV2_TASKHUB%): its default is one the app accepts.
        string hub = template.GetProperty("parameters").GetProperty("taskHub").GetProperty("defaultValue").GetString()!;
        Assert.Equal(hub, new Settings(n => n == "MATHV2_TASKHUB" ? hub : null).TaskHub(fallback: null));
        Assert.Contains("%MATHV2_TASKHUB%", File.ReadAllText(Path.Combine(Repo.Root, "host.json")));

        // The Functions app's settings and the worker's environment: each reaches the account as the code reads it.
        var app = SettingNames(template, "appSettings");
        var worker = SettingNames(template, "env");
        Assert.Contains("MATHV2_TASKHUB", app);
        Assert.Contains("AzureWebJobsStorage__accountName", app);
        foreach (var names in new[] { app, worker })
        {
            Assert.DoesNotContain("MATHV2_STORAGE", names);   // no connection string: shared keys are off
            var values = names.Where(n => n.StartsWith("MATHV2_STORAGE__")).ToDictionary(n => n, n => n switch
            {
                _ when n.EndsWith("ServiceUri") => $"https://acct.{n["MATHV2_STORAGE__".Length..^"ServiceUri".Length]}.core.windows.net",
                "MATHV2_STORAGE__accountName" => "acct",
                "MATHV2_STORAGE__clientId" => "00000000-0000-0000-0000-000000000001",
                "MATHV2_STORAGE__credential" => "managedidentity",
                _ => throw new Xunit.Sdk.XunitException($"{n}: a storage setting the code does not read"),
            });
            var storage = MathV2Storage.FromSettings(new Settings(n => values.GetValueOrDefault(n)));
            Assert.Equal(new Uri("https://acct.queue.core.windows.net"), storage.Endpoints!.Queue);
            Assert.Contains("MATHV2_STORAGE__clientId", names);   // user-assigned identities: the client id picks one
        }
        // The job-events trigger's connection (Connection = "MATHV2_STORAGE") binds by its queue service URI.
        Assert.Contains("MATHV2_STORAGE__queueServiceUri", app);
        Assert.Contains("MATHV2_WORKER_MEMORY_GB", worker);
        // Every MATHV2_ setting the templates set is one the code reads.
        string code = string.Concat(Directory.GetFiles(Path.Combine(Repo.Root, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/obj/") && !f.Contains("/bin/")).Select(File.ReadAllText));
        foreach (string name in app.Concat(worker).Where(n => n.StartsWith("MATHV2_") && !n.StartsWith("MATHV2_STORAGE__")).Distinct())
            Assert.Contains($"\"{name}\"", code);

        // Telemetry: the app and the worker export to Application Insights by the variable FunctionsSetup and
        // TelemetrySetup read; the worker gets it from a secret, not as a plain value.
        Assert.Contains("APPLICATIONINSIGHTS_CONNECTION_STRING", app);
        Assert.Contains("APPLICATIONINSIGHTS_CONNECTION_STRING", worker);
        Assert.Contains("\"APPLICATIONINSIGHTS_CONNECTION_STRING\"", code);
        var workerEnv = Resources(template).Single(r => r.GetProperty("type").GetString() == "Microsoft.App/containerApps")
            .GetProperty("properties").GetProperty("template").GetProperty("containers")[0].GetProperty("env").EnumerateArray();
        Assert.True(workerEnv.Single(e => e.GetProperty("name").GetString() == "APPLICATIONINSIGHTS_CONNECTION_STRING").TryGetProperty("secretRef", out _));
    }

    /// <summary>Every resource of the template and of its modules' nested templates.</summary>
    static IEnumerable<JsonElement> Resources(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            if (e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && e.TryGetProperty("apiVersion", out _)) yield return e;
            foreach (var p in e.EnumerateObject()) foreach (var r in Resources(p.Value)) yield return r;
        }
        else if (e.ValueKind == JsonValueKind.Array)
            foreach (var x in e.EnumerateArray()) foreach (var r in Resources(x)) yield return r;
    }

    [Fact]
    public async Task Azure_yaml_deploys_each_service_to_the_resource_the_templates_tag_for_it()
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(Path.Combine(Repo.Root, "azure.yaml"))));
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        static YamlNode At(YamlNode n, params string[] path) => path.Aggregate(n, (x, key) => ((YamlMappingNode)x).Children[new YamlScalarNode(key)]);
        static string Text(YamlNode n, params string[] path) => ((YamlScalarNode)At(n, path)).Value!;

        // azd provisions infra/main.bicep with infra/main.bicepparam (which it prefers to a parameters.json).
        Assert.Equal(("bicep", "infra", "main"), (Text(root, "infra", "provider"), Text(root, "infra", "path"), Text(root, "infra", "module")));
        Assert.True(File.Exists(Path.Combine(Repo.Root, "infra", "main.bicepparam")));
        var services = ((YamlMappingNode)At(root, "services")).Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => kv.Value);
        Assert.Equal(["functions", "worker"], services.Keys.Order());
        // A top-level infra/<service>.bicep would switch azd to another deploy mode for that service.
        Assert.All(services.Keys, k => Assert.False(File.Exists(Path.Combine(Repo.Root, "infra", $"{k}.bicep")), k));

        var template = await TemplateAsync();
        var resources = Resources(template).ToList();
        string Tagged(string service) => Assert.Single(resources, r => r.TryGetProperty("tags", out var tags) && tags.ValueKind == JsonValueKind.Object
            && tags.TryGetProperty("azd-service-name", out var v) && v.GetString() == service).GetProperty("type").GetString()!;
        Assert.Equal("Microsoft.Web/sites", Tagged("functions"));
        Assert.Equal("Microsoft.App/containerApps", Tagged("worker"));
        Assert.True(template.GetProperty("outputs").TryGetProperty("AZURE_CONTAINER_REGISTRY_ENDPOINT", out _), "azd pushes images to this output's registry");

        var functions = services["functions"];
        Assert.Equal(("function", "dotnet"), (Text(functions, "host"), Text(functions, "language")));
        Assert.True(File.Exists(Path.Combine(Repo.Root, Text(functions, "project"), "MathV2.Functions.csproj")));

        // The worker: its project, Dockerfile and build context as azd resolves them (relative to the project).
        var worker = services["worker"];
        Assert.Equal(("containerapp", "docker"), (Text(worker, "host"), Text(worker, "language")));
        string project = Path.GetFullPath(Path.Combine(Repo.Root, Text(worker, "project")));
        Assert.True(File.Exists(Path.Combine(project, "MathV2.Gpu.Worker.csproj")));
        string dockerfile = Path.GetFullPath(Path.Combine(project, Text(worker, "docker", "path")));
        string context = Path.GetFullPath(Path.Combine(project, Text(worker, "docker", "context")));
        Assert.Equal(Path.Combine(Repo.Root, "src", "Gpu.Worker", "Dockerfile"), dockerfile);
        Assert.Equal(Path.GetFullPath(Repo.Root), context.TrimEnd('/'));
        // Its prebuild hook publishes (CUDA) into the folder the Dockerfile copies from the context.
        string copied = Regex.Match(File.ReadAllText(dockerfile), @"^COPY (\S+) ", RegexOptions.Multiline).Groups[1].Value;
        foreach (string os in new[] { "posix", "windows" })
        {
            string run = Text(worker, "hooks", "prebuild", os, "run");
            Assert.StartsWith("dotnet publish . ", run);
            Assert.Contains("-p:TorchBackend=cuda", run);
            string output = Regex.Match(run, @"-o (\S+)").Groups[1].Value;
            Assert.Equal(Path.GetFullPath(Path.Combine(context, copied)).TrimEnd('/'), Path.GetFullPath(Path.Combine(project, output)).TrimEnd('/'));
        }
        // azd patches the app at the API version of the template, which keeps the scale rule's identity.
        Assert.Contains($"Microsoft.App/containerApps@{Text(worker, "apiVersion")}'", File.ReadAllText(Path.Combine(Infra, "modules", "worker.bicep")));
    }
}
