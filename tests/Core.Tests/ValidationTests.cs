using MathV2.Core;
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

    [Theory]
    [InlineData("MATHV2_JOB_POLL_S", "fast", "MATHV2_JOB_POLL_S='fast' is not an integer")]
    [InlineData("MATHV2_JOB_MAX_ATTEMPTS", "0", "MATHV2_JOB_MAX_ATTEMPTS must be between 1 and 20")]
    [InlineData("MATHV2_JOB_TIMEOUT_S", "1e3", "MATHV2_JOB_TIMEOUT_S='1e3' is not an integer")]
    public void A_mistyped_job_limit_setting_stops_with_the_variable_named(string name, string value, string message)
    {
        var settings = new Settings(n => n == name ? value : null);
        var e = Assert.Throws<SettingsException>(() => GpuJobLimits.FromEnvironment(settings));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Unset_settings_take_the_defaults_and_set_ones_are_read()
    {
        Assert.Equal(new GpuJobLimits(), GpuJobLimits.FromEnvironment(new Settings(_ => null)));
        Assert.Equal(7, GpuJobLimits.FromEnvironment(new Settings(n => n == "MATHV2_JOB_POLL_S" ? " 7 " : null)).PollSeconds);
        Assert.Equal(0.25, new Settings(_ => "0.25").Double("X", 1, 0, 1));
        Assert.Throws<SettingsException>(() => new Settings(_ => "2").Double("X", 1, 0, 1));
        Assert.Throws<SettingsException>(() => new Settings(_ => "loud").Enum("X", DayOfWeek.Monday));
    }
}
