using Microsoft.AspNetCore.Http;

namespace MathV2.Api;

/// <summary>An <see cref="IResult"/> with response headers set before it writes (Location, Retry-After).</summary>
public sealed class HeaderResult(IResult inner, IReadOnlyDictionary<string, string> headers) : IResult
{
    /// <summary>Seconds a client should wait before asking an in-progress instance again (the Durable Functions default).</summary>
    public const int RetryAfterSeconds = 10;

    /// <summary>A Durable HTTP answer for work in progress: the body, with Location (where to ask next) and Retry-After.</summary>
    public static HeaderResult InProgress(IResult body, string location) =>
        new(body, new Dictionary<string, string> { ["Location"] = location, ["Retry-After"] = RetryAfterSeconds.ToString() });

    public Task ExecuteAsync(HttpContext httpContext)
    {
        foreach (var (name, value) in headers) httpContext.Response.Headers[name] = value;
        return inner.ExecuteAsync(httpContext);
    }
}
