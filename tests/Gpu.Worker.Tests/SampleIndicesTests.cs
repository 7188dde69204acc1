using System.Text.Json;
using MathV2.Core.Jobs;
using MathV2.Gpu.Worker.Jobs;

namespace MathV2.Gpu.Worker.Tests;

/// <summary>A prompt row's "samples" list (waves of keyed samples): what it may hold, and the error naming the prompt when it may not.</summary>
public sealed class SampleIndicesTests
{
    static readonly SampleJobParameters Keyed = new() { N = 4, StreamsByPrompt = true };

    static IReadOnlyList<int> Indices(string row, SampleJobParameters p) => SampleJob.SampleIndices(("p7", "2+2=", JsonDocument.Parse(row).RootElement), p);

    [Fact]
    public void A_row_without_samples_draws_all_n_and_one_with_them_draws_those_in_its_order()
    {
        Assert.Equal([0, 1, 2, 3], Indices("""{"id":"p7","prompt":"2+2="}""", Keyed));
        Assert.Equal([3, 1], Indices("""{"id":"p7","prompt":"2+2=","samples":[3,1]}""", Keyed));
        Assert.Empty(Indices("""{"id":"p7","prompt":"2+2=","samples":[]}""", Keyed));
    }

    [Theory]
    [InlineData("\"2\"", "must be an array of sample indices")]
    [InlineData("[1, \"2\"]", "must be an array of sample indices")]
    [InlineData("[1.5]", "must be an array of sample indices")]
    [InlineData("[-1]", "must be an array of sample indices")]
    [InlineData("[1, 1]", "lists an index twice")]
    [InlineData("[4]", "must be below n (4)")]
    public void A_bad_samples_list_fails_the_job_naming_the_prompt(string samples, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Indices($$"""{"id":"p7","prompt":"2+2=","samples":{{samples}}}""", Keyed));
        Assert.Contains("prompt 'p7'", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Samples_need_streams_keyed_by_prompt() =>
        Assert.Contains("needs streamsByPrompt", Assert.Throws<ArgumentException>(() => Indices("""{"id":"p7","prompt":"2+2=","samples":[0]}""", Keyed with { StreamsByPrompt = false })).Message);
}
