using Microsoft.AspNetCore.Http;

namespace MathV2.Api;

/// <summary>An <see cref="IResult"/> with response headers set before it writes (Location, Retry-After).</summary>
public sealed class HeaderResult(IResult inner, IReadOnlyDictionary<string, string> headers) : IResult
{
    public IResult Inner => inner;
    public IReadOnlyDictionary<string, string> Headers => headers;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        foreach (var (name, value) in headers) httpContext.Response.Headers[name] = value;
        return inner.ExecuteAsync(httpContext);
    }
}
