using MathV2.Core.Jobs;
using MathV2.Core.Probes;

namespace MathV2.Core.Tests;

public sealed class ValidationTests
{
    [Fact]
    public void Probe_request_defaults_are_valid() => Assert.Empty(new ProbeRequest().Validate());

    [Theory]
    [InlineData(0, 10, 1, "size")]
    [InlineData(20000, 10, 1, "size")]
    [InlineData(64, 0, 1, "repeats")]
    [InlineData(64, 10, 0, "jobs")]
    [InlineData(64, 10, 300, "jobs")]
    public void Probe_request_names_the_bad_field(int size, int repeats, int jobs, string field) =>
        Assert.Contains(new ProbeRequest { Size = size, Repeats = repeats, Jobs = jobs }.Validate(), e => e.Field == field);

    [Fact]
    public void Job_limits_name_the_bad_field() =>
        Assert.Contains(new ProbeRequest { Limits = new GpuJobLimits { MaxAttempts = 0 } }.Validate(), e => e.Field == "limits.maxAttempts");
}
