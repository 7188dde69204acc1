using System.Text;
using System.Text.RegularExpressions;
using static MathV2.Tests.HttpTestKit;

namespace MathV2.Api.Tests;

/// <summary>The dashboard's static files: what index.html loads is served from here, nothing from elsewhere.</summary>
public sealed class DashboardPageTests
{
    static async Task<(int Status, string? Type, string Body, Microsoft.AspNetCore.Http.IHeaderDictionary Headers)> GetAsync(string? file)
    {
        var ctx = Context("GET", $"/api/dashboard/{file}");
        await DashboardPage.Get(ctx.Response, file).ExecuteAsync(ctx);
        ctx.Response.Body.Position = 0;
        return (ctx.Response.StatusCode, ctx.Response.ContentType, await new StreamReader(ctx.Response.Body).ReadToEndAsync(), ctx.Response.Headers);
    }

    [Fact]
    public async Task The_page_is_served_with_its_script_and_style_under_a_strict_content_security_policy()
    {
        Assert.Equal(["dashboard.css", "dashboard.js", "index.html"], DashboardPage.Names.Order());
        var (status, type, html, headers) = await GetAsync("");
        Assert.Equal((200, "text/html; charset=utf-8"), (status, type));
        Assert.Contains("<title>MathV2 dashboard</title>", html);
        Assert.Equal(DashboardPage.ContentSecurityPolicy, headers["Content-Security-Policy"].ToString());
        Assert.Contains("script-src 'self'", DashboardPage.ContentSecurityPolicy);
        // Every script and stylesheet the page loads is one of its own files, served from this route.
        var loaded = Regex.Matches(html, "(?:src|href)=\"([^\"#]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(["/api/dashboard/dashboard.css", "/api/dashboard/dashboard.js"], loaded.Order());
        foreach (string path in loaded)
        {
            var (s, t, _, _) = await GetAsync(path["/api/dashboard/".Length..]);
            Assert.Equal(200, s);
            Assert.StartsWith(path.EndsWith(".js") ? "text/javascript" : "text/css", t);
        }
    }

    [Fact]
    public async Task No_file_reaches_outside_the_host_and_the_key_goes_only_in_a_header()
    {
        foreach (string file in DashboardPage.Names)
        {
            string text = (await GetAsync(file)).Body;
            Assert.DoesNotMatch(new Regex("https?://|//cdn|\\beval\\(|innerHTML"), text);
        }
        string js = (await GetAsync("dashboard.js")).Body;
        Assert.Contains("'x-functions-key': key()", js);
        Assert.DoesNotContain("code=", js);
    }

    [Theory]
    [InlineData("nope.js")]
    [InlineData("../MathV2.Api.dll")]
    public async Task An_unknown_file_is_a_404_problem(string file)
    {
        var (status, type, body, _) = await GetAsync(file);
        Assert.Equal((404, "application/problem+json"), (status, type));
        Assert.Contains("Dashboard file", body);
    }
}
