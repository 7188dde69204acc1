using MathV2.Core;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Testing;

namespace MathV2.Orchestrations.Tests;

/// <summary>
/// The in-memory engine on a port that is free when it starts: the test host's own choice is a random port in
/// 30000–40000, unchecked, which now and then is one a client socket or another test's server holds.
/// </summary>
static class TestHosts
{
    public static async Task<DurableTaskTestHost> StartAsync(Action<DurableTaskRegistry> register)
    {
        for (int attempt = 1; ; attempt++)
        {
            try { return await DurableTaskTestHost.StartAsync(register, new DurableTaskTestHostOptions { Port = LoopbackPorts.FreeRange(1) }); }
            catch (IOException e) when (attempt < 5 && e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase)) { }
        }
    }
}
