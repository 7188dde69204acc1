using MathV2.Core.Laps;

namespace MathV2.Core.Tests;

public sealed class AnnotationLabelTests
{
    static readonly AnnotationItem[] Items =
    [
        new() { ItemId = "i1", ProblemId = "p1", Problem = "Prove A.", Proof = "a" },
        new() { ItemId = "i2", ProblemId = "p2", Problem = "Prove B.", Proof = "b" },
    ];

    [Fact]
    public void Labels_may_carry_the_items_own_fields_back_but_a_typo_is_named_with_its_line()
    {
        // A labelled copy of the items file is fine.
        var (labels, errors) = AnnotationValidation.Parse(
            """
            {"itemId":"i1","problemId":"p1","problem":"Prove A.","proof":"a","score":1}
            {"itemId":"i2","score":"1/2"}
            """, Items);
        Assert.Empty(errors);
        Assert.Equal([1, 0.5], labels.Select(l => l.Score));

        (labels, errors) = AnnotationValidation.Parse(
            """
            {"itemId":"i1","score":1,"comment":"fine"}
            {"itemId":"i2","score":0,"scroe":1}
            """, Items);
        Assert.Equal(["labels.jsonl:1: comment is not a field of a label (known here: itemId, score)",
            "labels.jsonl:2: scroe is not a field of a label; did you mean 'score'? (known here: itemId, score)"], errors.Select(e => e.ToString()));
    }

    [Fact]
    public void A_batch_token_opens_only_its_batch_until_the_deadline()
    {
        var deadline = new DateTime(2026, 12, 1, 12, 0, 0, DateTimeKind.Utc);
        var access = AnnotationAccess.Issue("lap-000000000001-1a-batch", deadline);
        var other = AnnotationAccess.Issue("lap-000000000001-1c-batch", deadline);
        Assert.StartsWith("mva_", access.Token);
        Assert.NotEqual(access.Token, other.Token);
        Assert.Null(access.Refuses(access.Token, deadline.AddMinutes(-1)));
        Assert.Contains("x-annotation-token header", access.Refuses(null, deadline.AddMinutes(-1)));
        Assert.Contains("x-annotation-token header", access.Refuses("", deadline.AddMinutes(-1)));
        Assert.Contains("does not open batch lap-000000000001-1a-batch", access.Refuses(other.Token, deadline.AddMinutes(-1)));
        Assert.Contains("does not open", access.Refuses(access.Token + "x", deadline.AddMinutes(-1)));
        Assert.Contains("expired at 2026-12-01 12:00:00Z", access.Refuses(access.Token, deadline));
    }
}
