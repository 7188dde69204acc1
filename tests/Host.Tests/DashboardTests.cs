using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Datasets;
using MathV2.Core.Laps;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace MathV2.Host.Tests;

/// <summary>A headless Chromium (Debian's, through its chromedriver) on the dashboard page of the real stack.</summary>
public sealed class Browser : IDisposable
{
    public ChromeDriver Driver { get; }
    readonly string _profile = Directory.CreateTempSubdirectory("mathv2-chromium-").FullName;

    /// <summary>Screenshots land in the test output folder (screenshots/), kept after the run.</summary>
    public static string ScreenshotDir => Path.Combine(AppContext.BaseDirectory, "screenshots");

    public Browser()
    {
        string chromium = Environment.GetEnvironmentVariable("MATHV2_CHROMIUM") ?? "/usr/bin/chromium";
        string driver = Environment.GetEnvironmentVariable("MATHV2_CHROMEDRIVER") ?? "/usr/bin/chromedriver";
        foreach (string f in new[] { chromium, driver })
            if (!File.Exists(f))
                throw new InvalidOperationException($"{f} is missing: the browser tests need Debian's chromium and chromium-driver (./mathv2 test installs them; or set MATHV2_CHROMIUM and MATHV2_CHROMEDRIVER)");
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(driver)!, Path.GetFileName(driver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = chromium };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1500", $"--user-data-dir={_profile}");
        Driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(90));
    }

    public object? Script(string js, params object[] args) => ((IJavaScriptExecutor)Driver).ExecuteScript(js, args);

    public IWebElement? Find(string css) => Driver.FindElements(By.CssSelector(css)).FirstOrDefault();

    /// <summary>Polls the page until the element is there (and the condition holds); fails naming what was awaited.</summary>
    public async Task<IWebElement> WaitAsync(string css, Func<IWebElement, bool>? condition = null, int seconds = 60)
    {
        IWebElement? found = null;
        await StackFixture.Until(() =>
        {
            try { found = Find(css); return Task.FromResult(found != null && (condition?.Invoke(found) ?? true)); }
            catch (StaleElementReferenceException) { return Task.FromResult(false); }   // the page re-rendered under us
        }, seconds, () => $"{css} never appeared as expected; the page says: {Find("main")?.Text}");
        return found!;
    }

    public string Screenshot(string name)
    {
        Directory.CreateDirectory(ScreenshotDir);
        string path = Path.Combine(ScreenshotDir, name);
        Driver.GetScreenshot().SaveAsFile(path);
        return path;
    }

    public void Dispose()
    {
        Driver.Quit();
        try { Directory.Delete(_profile, true); } catch (IOException) { }
    }
}

[Collection("stack")]
[Trait("Category", "EndToEnd")]
public sealed class DashboardTests(StackFixture stack)
{
    [Fact]
    public async Task A_small_lap_is_followed_in_the_browser_from_start_through_its_annotation_forms_to_its_report()
    {
        await stack.Stack.UpAsync();
        var resp = await stack.Http.PostAsJsonAsync("/api/laps", LapTestSpecs.Small("http"), Json.Options);
        string id = (await resp.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        using var b = new Browser();
        b.Driver.Navigate().GoToUrl($"{stack.Stack.Layout.Url}/api/dashboard/");

        // The key: a wrong one is refused and asked for again; the right one opens the runs.
        (await b.WaitAsync("#key", e => e.Displayed)).SendKeys("not-the-key");
        b.Find("#login-form button")!.Click();
        await b.WaitAsync("#login-error", e => e.Text == "The key was refused.");
        b.Find("#key")!.SendKeys(stack.Stack.Key);
        b.Find("#login-form button")!.Click();
        await b.WaitAsync("#laps", e => e.Text.Contains(id));
        // The batch waiting for people is listed with its lap.
        await b.WaitAsync("#waiting", e => e.Text.Contains(id) && e.Text.Contains($"{id}-1a-batch"), seconds: 600);
        b.Screenshot("runs.png");

        // The lap: phase 1a running (waiting for labels), the batch's items in a form.
        b.Find($"#waiting a[href='#/laps/{id}']")!.Click();
        var form = await b.WaitAsync("#annotation-form", f => f.GetAttribute("data-batch") == $"{id}-1a-batch");
        Assert.NotNull(b.Find("#timeline tr.running[data-phase='1a']"));
        Assert.Equal(4, b.Driver.FindElements(By.CssSelector("#annotation-form .item")).Count);
        // Submitting with one item scored: the API's problem (the items with no label) is shown and nothing is stored.
        double[] scores = [1, 0.5, 0, 1];
        var items = b.Driver.FindElements(By.CssSelector("#annotation-form .item"));
        items[0].FindElement(By.CssSelector($"input[value='{scores[0]}']")).Click();
        b.Find("#annotation-submit")!.Click();
        await b.WaitAsync("#annotation-message.error", e => e.Text.Contains("have no label"));
        for (int i = 1; i < items.Count; i++) items[i].FindElement(By.CssSelector($"input[value='{scores[i]}']")).Click();
        b.Screenshot("annotation.png");
        b.Find("#annotation-submit")!.Click();
        await b.WaitAsync("#annotation-message.ok", e => e.Text.StartsWith("4 labels stored"));

        // Phase 1C's batch of analyses: the lap's page shows its annotator token; an annotator without the key
        // labels it on the batch's own page (every analysis rated 1).
        string batch1c = $"{id}-1c-batch";
        await b.WaitAsync("#annotator-access", e => e.Text.Contains(batch1c), seconds: 600);
        string token = b.Find("#annotator-token")!.Text;
        Assert.StartsWith("mva_", token);
        b.Find("#forget-key")!.Click();
        b.Driver.Navigate().GoToUrl($"{stack.Stack.Layout.Url}/api/dashboard/#/annotate/{batch1c}");
        b.Driver.Navigate().Refresh();
        (await b.WaitAsync("#annotator-token-input", e => e.Displayed)).SendKeys("mva_not-the-token");
        b.Find("#token-form button")!.Click();
        await b.WaitAsync("#token-error", e => e.Text.Contains($"does not open batch {batch1c}"));
        b.Find("#annotator-token-input")!.SendKeys(token);
        b.Find("#token-form button")!.Click();
        await b.WaitAsync("#annotation-form", f => f.GetAttribute("data-batch") == batch1c);
        Assert.Null(b.Script("return sessionStorage.getItem('mathv2.key');"));   // the annotator holds no key
        Assert.All(b.Driver.FindElements(By.CssSelector("#annotation-form .item")), item => item.FindElement(By.CssSelector("input[value='1']")).Click());
        b.Screenshot("annotator.png");
        b.Find("#annotation-submit")!.Click();
        await b.WaitAsync("#annotation-message.ok", e => e.Text.Contains("labels stored"));

        // Back to the lap as an admin: the key again.
        b.Driver.Navigate().GoToUrl($"{stack.Stack.Layout.Url}/api/dashboard/#/laps/{id}");
        (await b.WaitAsync("#key", e => e.Displayed)).SendKeys(stack.Stack.Key);
        b.Find("#login-form button")!.Click();

        // The lap ends in the page: every phase done, the report with its plots (fetched with the key).
        await b.WaitAsync("#lap-status", e => e.Text == "Completed", seconds: 600);
        var report = await b.WaitAsync("#report", r => r.Text.Contains($"Lap report: {id}"));
        Assert.Equal(7, b.Driver.FindElements(By.CssSelector("#timeline tr.done")).Count);
        await StackFixture.Until(() => Task.FromResult(b.Script(
            "const i = [...document.querySelectorAll('#report img')]; return i.length >= 5 && i.every(x => x.complete && x.naturalWidth === 800);") is true),
            30, () => "the report's plots did not load");
        Assert.Contains("verifierV2.accuracy", report.Text);
        b.Script("document.getElementById('report').scrollIntoView()");
        b.Screenshot("report.png");

        // What the form posted is what the lap learnt from: the scores chosen, in D_v.
        var lap = await stack.Http.GetFromJsonAsync<JsonElement>($"/api/laps/{id}");
        string dv = lap.GetProperty("output").GetProperty("phases")[0].GetProperty("artifacts").GetProperty("dv").GetString()!;
        var rows = Jsonl.Read<GradedProofRow>(Encoding.UTF8.GetString(await stack.Artifacts.ReadFileAsync((await stack.Artifacts.GetAsync(dv))!, LapFiles.GradedProofs)), "dv").Rows;
        Assert.Equal(scores, rows.TakeLast(4).Select(r => r.Score));

        // A GRPO job's page draws its curve from all its metrics lines.
        string job = $"{id}-1b-verifier-v1";
        int lines = (await stack.Http.GetStringAsync($"/api/jobs/{job}/metrics")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        b.Driver.Navigate().GoToUrl($"{stack.Stack.Layout.Url}/api/dashboard/#/jobs/{job}");
        await b.WaitAsync("canvas.curve", c => c.GetAttribute("data-points") == lines.ToString());
        Assert.Contains("lastMeanReward", b.Find("#job-summary")!.Text);
        b.Screenshot("job.png");

        // The key never appears in a URL the page loaded or navigated to.
        var urls = ((IEnumerable<object>)b.Script("return performance.getEntriesByType('resource').map(e => e.name).concat([location.href]);")!).Select(u => u.ToString()!).ToList();
        Assert.Contains(urls, u => u.Contains("/api/laps"));
        Assert.DoesNotContain(urls, u => u.Contains(stack.Stack.Key) || u.Contains(token));
    }
}
