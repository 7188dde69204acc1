using MathV2.Cli;

var root = Environment.GetEnvironmentVariable("MATHV2_ROOT") ?? Directory.GetCurrentDirectory();
try
{
    return await new Commands(StackLayout.ForRepository(root), Console.Out, Console.Error).RunAsync(args);
}
catch (Exception e) when (e is CliException or MathV2.Core.SettingsException)
{
    Console.Error.WriteLine($"mathv2: {e.Message}");
    return 1;
}
