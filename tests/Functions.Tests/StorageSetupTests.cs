using System.Text.Json;
using MathV2.Core.Storage;
using MathV2.Tests;

namespace MathV2.Functions.Tests;

public sealed class StorageSetupTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task A_fresh_account_gets_every_queue_table_and_container_at_start_and_a_second_start_changes_nothing()
    {
        // The fixture made them; an empty account is what a new deployment starts with.
        var s = azurite.Storage;
        foreach (string q in StorageNames.Queues) await s.Queue(q).DeleteIfExistsAsync();
        foreach (string c in StorageNames.Containers) await s.Container(c).DeleteIfExistsAsync();
        foreach (string t in StorageNames.Tables) await s.Tables.DeleteTableAsync(t);
        Assert.False((await s.Queue(StorageNames.GpuJobsQueue).ExistsAsync()).Value);

        var setup = new StorageSetup(s);
        await setup.StartAsync(default);
        await setup.StartAsync(default);   // idempotent: a restart of the app
        foreach (string q in StorageNames.Queues) Assert.True((await s.Queue(q).ExistsAsync()).Value, q);
        foreach (string c in StorageNames.Containers) Assert.True((await s.Container(c).ExistsAsync()).Value, c);
        var tables = new List<string>();
        await foreach (var t in s.Tables.QueryAsync()) tables.Add(t.Name);
        Assert.Subset(tables.ToHashSet(), StorageNames.Tables.ToHashSet());
    }

    [Fact]
    public void The_task_hub_is_a_setting()
    {
        var host = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repo.Root, "host.json"))).RootElement;
        Assert.Equal("%MATHV2_TASKHUB%", host.GetProperty("extensions").GetProperty("durableTask").GetProperty("hubName").GetString());
        var local = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repo.Root, "src", "Functions", "local.settings.json"))).RootElement;
        Assert.Equal("mathv2", local.GetProperty("Values").GetProperty("MATHV2_TASKHUB").GetString());
    }
}
