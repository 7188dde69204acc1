using MathV2.Api;
using MathV2.Core;
using MathV2.Core.Jobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MathV2.Api.Tests;

/// <summary>MATHV2_* settings bound as Options from the host's configuration, checked when the host starts.</summary>
public sealed class SettingsOptionsTests
{
    static ServiceProvider Services(Dictionary<string, string?> settings)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddMathV2Services(_ => new Core.Storage.MathV2Storage("UseDevelopmentStorage=true"));
        return services.BuildServiceProvider();
    }

    [Fact]
    public void Job_limits_come_from_the_configuration_once()
    {
        using var sp = Services(new() { ["MATHV2_JOB_MAX_ATTEMPTS"] = "5", ["MATHV2_JOB_POLL_S"] = "7" });
        var limits = sp.GetRequiredService<GpuJobLimits>();
        Assert.Equal((5, 7), (limits.MaxAttempts, limits.PollSeconds));
        Assert.Same(limits, sp.GetRequiredService<IOptions<GpuJobLimits>>().Value);
        Assert.Same(limits, sp.GetRequiredService<ApiHandlers>().DefaultLimits);
        using var defaults = Services([]);
        Assert.Equal(new GpuJobLimits(), defaults.GetRequiredService<GpuJobLimits>());
    }

    [Theory]
    [InlineData("MATHV2_JOB_MAX_ATTEMPTS", "many", "MATHV2_JOB_MAX_ATTEMPTS='many' is not an integer")]
    [InlineData("MATHV2_JOB_HEARTBEAT_STALE_S", "1", "MATHV2_JOB_HEARTBEAT_STALE_S must be between 2 and 86400")]
    public void A_mistyped_setting_fails_the_start_naming_the_variable(string name, string value, string message)
    {
        using var sp = Services(new() { [name] = value });
        // What the host runs before it starts serving (ValidateOnStart).
        var e = Assert.Throws<SettingsException>(() => sp.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains(message, e.Message);
    }
}
