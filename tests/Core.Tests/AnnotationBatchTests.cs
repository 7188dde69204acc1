using MathV2.Core.Laps;

namespace MathV2.Core.Tests;

public sealed class AnnotationBatchTests
{
    [Fact]
    public void A_batch_takes_every_prompts_first_sample_before_any_second_and_spreads_over_the_whole_list()
    {
        // 200 prompts (the first hundred "easy"), two samples each: a batch of 64 is 64 distinct prompts from both halves.
        var samples = (from i in Enumerable.Range(0, 200) from k in Enumerable.Range(0, 2) select (Id: $"p{i}", Index: k, Easy: i < 100)).ToList();
        var batch = AnnotationValidation.PickForBatch(samples, s => s.Id, s => s.Index, "lap-1-1a-batch", 64);
        Assert.Equal(64, batch.Count);
        Assert.Equal(64, batch.Select(s => s.Id).Distinct().Count());
        Assert.All(batch, s => Assert.Equal(0, s.Index));
        Assert.InRange(batch.Count(s => s.Easy), 16, 48);
        Assert.Equal(batch, AnnotationValidation.PickForBatch(samples, s => s.Id, s => s.Index, "lap-1-1a-batch", 64));   // a replay picks the same
        Assert.NotEqual(batch, AnnotationValidation.PickForBatch(samples, s => s.Id, s => s.Index, "lap-2-1a-batch", 64));
        var all = AnnotationValidation.PickForBatch(samples, s => s.Id, s => s.Index, "b", 1000);
        Assert.Equal(400, all.Count);
        Assert.Equal(Enumerable.Repeat(0, 200).Concat(Enumerable.Repeat(1, 200)), all.Select(s => s.Index));
    }
}
