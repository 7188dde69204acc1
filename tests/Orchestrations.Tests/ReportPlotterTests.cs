using System.Buffers.Binary;
using MathV2.Activities;
using MathV2.Core.Laps;

namespace MathV2.Orchestrations.Tests;

public sealed class ReportPlotterTests
{
    static PlotSpec Spec(params double[] ys) => new()
    {
        File = "plots/1a-loss.png", Title = "Phase 1a: training loss", XLabel = "step", YLabel = "loss",
        Series = [new PlotSeries("bootstrap", [.. ys.Select((_, i) => (double)i + 1)], ys), new PlotSeries("bootstrap (eval)", [1, 3], [ys[0], ys[^1]], Dashed: true)],
    };

    [Fact]
    public void A_plot_renders_as_a_png_of_the_report_size_that_depends_on_its_data()
    {
        byte[] png = ReportPlotter.Png(Spec(2.5, 2.0, 1.5));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10 }, png[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal((ReportPlotter.Width, ReportPlotter.Height), (BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20))));
        Assert.Equal(png, ReportPlotter.Png(Spec(2.5, 2.0, 1.5)));   // deterministic for the same data
        Assert.NotEqual(png, ReportPlotter.Png(Spec(2.5, 0.5, 1.5)));
        Directory.CreateDirectory("plots");
        File.WriteAllBytes(Path.Combine("plots", "report-plot-sample.png"), png);   // kept as test output
    }
}
