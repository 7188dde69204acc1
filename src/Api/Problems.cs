using Microsoft.AspNetCore.Http;

namespace MathV2.Api;

/// <summary>RFC 7807 problem+json results; 4xx for anything the client got wrong.</summary>
public static class Problems
{
    public static IResult BadRequest(string detail, string? field = null) =>
        field == null
            ? Results.Problem(detail, statusCode: 400, title: "Bad request")
            : Invalid(new Dictionary<string, string[]> { [field] = [detail] }, detail);

    public static IResult Invalid(IDictionary<string, string[]> errors, string? detail = null) =>
        Results.ValidationProblem(errors, detail: detail ?? "One or more fields are invalid: " + string.Join(", ", errors.Keys),
            title: "Invalid request", statusCode: 400);

    public static IResult NotFound(string what, string id) =>
        Results.Problem($"{what} '{id}' was not found.", statusCode: 404, title: "Not found");

    public static IResult Conflict(string detail) => Results.Problem(detail, statusCode: 409, title: "Conflict");

    public static IResult Unauthorized() => Unauthorized("A function key is required: send it in the x-functions-key header or the code query parameter.");

    public static IResult Unauthorized(string detail) => Results.Problem(detail, statusCode: 401, title: "Unauthorized");
}
