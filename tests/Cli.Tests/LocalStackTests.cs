namespace MathV2.Cli.Tests;

public sealed class LocalStackTests
{
    [Fact]
    public void A_process_started_before_its_binaries_were_built_again_is_stale()
    {
        string dir = Directory.CreateTempSubdirectory("mathv2-stale-").FullName;
        try
        {
            string dll = Path.Combine(dir, "MathV2.Host.dll"), core = Path.Combine(dir, "MathV2.Core.dll");
            File.WriteAllText(dll, "");
            File.WriteAllText(core, "");
            var longAgo = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);
            File.SetLastWriteTimeUtc(dll, longAgo);
            File.SetLastWriteTimeUtc(core, longAgo);
            int self = Environment.ProcessId;
            Assert.False(LocalStack.IsStale(self, dll));
            // Any MathV2 assembly next to it counts (a rebuilt library is new code too); other files do not.
            File.WriteAllText(Path.Combine(dir, "Other.dll"), "");
            Assert.False(LocalStack.IsStale(self, dll));
            File.SetLastWriteTimeUtc(core, DateTime.UtcNow);
            Assert.True(LocalStack.IsStale(self, dll));
            Assert.False(LocalStack.IsStale(self, Path.Combine(dir, "missing", "MathV2.Host.dll")));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
