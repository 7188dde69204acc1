using System.Reflection;
using MathV2.Build;
using MathV2.Core.Probes;
using MathV2.Gpu.Worker.Jobs;

namespace MathV2.Gpu.Worker.Tests;

/// <summary>The build-time fix that lets TorchSharp-cpu load on Debian 12 (docs/local-engine.md, "TorchSharp on Debian 12").</summary>
public sealed class TorchSharpLoadingTests
{
    static string Packaged => typeof(TorchSharpLoadingTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .First(a => a.Key == "PackagedLibTorchSharp").Value!;

    static string InOutput => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    [Fact]
    public void The_packaged_library_requires_GLIBCXX_3_4_32_strongly()
    {
        var reqs = ElfVersionPatch.ReadRequirements(File.ReadAllBytes(Packaged));
        Assert.Contains(new KeyValuePair<string, bool>("GLIBCXX_3.4.32", false), reqs);
    }

    [Fact]
    public void Patching_marks_exactly_the_missing_versions_weak_and_is_idempotent()
    {
        byte[] original = File.ReadAllBytes(Packaged);
        byte[] bytes = (byte[])original.Clone();
        Assert.Equal(["GLIBCXX_3.4.32"], ElfVersionPatch.MarkWeak(bytes, v => v == "GLIBCXX_3.4.32"));
        Assert.Empty(ElfVersionPatch.MarkWeak(bytes, v => v == "GLIBCXX_3.4.32"));
        var after = ElfVersionPatch.ReadRequirements(bytes);
        Assert.All(after, kv => Assert.Equal(kv.Key == "GLIBCXX_3.4.32", kv.Value));
        Assert.Equal(original.Length, bytes.Length);
        Assert.Equal(1, original.Zip(bytes).Count(p => p.First != p.Second)); // one flag byte
    }

    [Fact]
    public void Where_libstdcxx_is_new_enough_nothing_changes()
    {
        byte[] bytes = File.ReadAllBytes(Packaged);
        Assert.Empty(ElfVersionPatch.MarkWeak(bytes, _ => false));
        Assert.Equal(File.ReadAllBytes(Packaged), bytes);
    }

    [Fact]
    public void The_build_output_copy_is_patched_exactly_as_far_as_this_system_needs()
    {
        var missing = ElfVersionPatch.MissingFromSystemLibStdCxx(out _);
        var reqs = ElfVersionPatch.ReadRequirements(File.ReadAllBytes(InOutput));
        Assert.All(reqs, r => Assert.Equal(missing(r.Key), r.Value));
        if (!reqs.Any(r => r.Value)) Assert.Equal(File.ReadAllBytes(Packaged), File.ReadAllBytes(InOutput));
    }

    [Fact]
    public void TorchSharp_loads_and_the_probe_measures_matmul_throughput()
    {
        var r = ProbeJob.Measure(new ProbeParameters { Size = 128, Repeats = 3 }, "test");
        Assert.Equal("cpu", r.Device);
        Assert.StartsWith("2.10", r.LibTorchVersion);
        Assert.StartsWith("0.107", r.TorchSharpVersion);
        Assert.True(r.Threads >= 1);
        Assert.Equal(3, r.Repeats);
        Assert.True(r.Gflops > 0 && double.IsFinite(r.Gflops));
    }

    [Fact]
    public void The_probe_keeps_measuring_for_min_seconds_and_reports_progress()
    {
        int reports = 0;
        var r = ProbeJob.Measure(new ProbeParameters { Size = 64, Repeats = 1, MinSeconds = 0.3 }, "test", (_, _, _) => reports++);
        Assert.True(r.Seconds >= 0.3);
        Assert.True(r.Repeats > 1);
        Assert.Equal(r.Repeats, reports);
    }
}
