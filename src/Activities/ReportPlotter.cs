namespace MathV2.Activities;

/// <summary>Renders a report's <see cref="PlotSpec"/> as a PNG with ScottPlot.</summary>
public static class ReportPlotter
{
    public const int Width = 800, Height = 450;

    public static byte[] Png(PlotSpec spec)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int k = 0;
        foreach (var s in spec.Series)
        {
            var line = plot.Add.Scatter(s.X, s.Y, palette.GetColor(k++));
            line.LegendText = s.Name;
            line.MarkerSize = s.X.Length > 40 ? 0 : 4;
            if (s.Dashed) line.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        plot.Title(spec.Title);
        plot.XLabel(spec.XLabel);
        plot.YLabel(spec.YLabel);
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        return plot.GetImageBytes(Width, Height, ScottPlot.ImageFormat.Png);
    }
}
