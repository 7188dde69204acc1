namespace MathV2.Cli.Tests;

public sealed class ArgsTests
{
    [Fact]
    public void Options_flags_and_positionals_are_parsed()
    {
        var a = new Args(["show", "id-1", "--reason", "because", "--json", "--size=64"]);
        Assert.Equal(["show", "id-1"], a.Positionals);
        Assert.Equal("because", a.Get("--reason"));
        Assert.True(a.Json);
        Assert.Equal(64, a.Int("--size", 1, 1, 100));
        Assert.Equal(5, a.Int("--jobs", 5, 1, 10));
    }

    [Theory]
    [InlineData("--size", "0")]
    [InlineData("--size", "big")]
    [InlineData("--size", "100000")]
    public void Out_of_range_numbers_name_the_option(string name, string value)
    {
        var e = Assert.Throws<CliException>(() => new Args([name, value]).Int(name, 1, 1, 16384));
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void Unknown_options_and_missing_values_are_errors()
    {
        Assert.Contains("--colour", Assert.Throws<CliException>(() => new Args(["--colour", "red"]).Allow("--size")).Message);
        Assert.Contains("--size", Assert.Throws<CliException>(() => new Args(["--size"])).Message);
        Assert.Contains("instance id", Assert.Throws<CliException>(() => new Args(["show"]).Positional(1, "instance id")).Message);
    }

    [Theory]
    [InlineData(new double[] { 5 }, 50, 5)]
    [InlineData(new double[] { 1, 2, 3, 4 }, 50, 2.5)]
    [InlineData(new double[] { 10, 20, 30, 40, 50 }, 95, 48)]
    public void Percentiles_interpolate(double[] values, double p, double expected) =>
        Assert.Equal(expected, Commands.Percentile([.. values], p), 6);

    [Fact]
    public async Task Unknown_commands_fail_with_a_hint()
    {
        var layout = StackLayout.ForRepository(Path.GetTempPath());
        var e = await Assert.ThrowsAsync<CliException>(() => new Commands(layout, TextWriter.Null, TextWriter.Null).RunAsync(["frobnicate"]));
        Assert.Contains("help", e.Message);
    }

    [Fact]
    public void The_stack_connection_string_points_at_its_own_azurite_ports()
    {
        var layout = StackLayout.ForRepository("/repo") with { AzuritePort = 20000 };
        Assert.Contains("BlobEndpoint=http://127.0.0.1:20000/", layout.StorageConnectionString);
        Assert.Contains("QueueEndpoint=http://127.0.0.1:20001/", layout.StorageConnectionString);
        Assert.Contains("TableEndpoint=http://127.0.0.1:20002/", layout.StorageConnectionString);
    }
}
