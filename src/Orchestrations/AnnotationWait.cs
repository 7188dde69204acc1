using System.Text.Json;
using MathV2.Core;
using MathV2.Core.Jobs;
using MathV2.Core.Laps;
using Microsoft.DurableTask;

namespace MathV2.Orchestrations;

/// <summary>Waiting for people: custom status "awaiting-annotation", a deadline, reminders in the status while waiting.</summary>
static class Annotations
{
    public static async Task WaitAsync(TaskOrchestrationContext context, AnnotationBatch batch, AnnotationOptions o, string phase)
    {
        var deadline = context.CurrentUtcDateTime.AddMinutes(o.DeadlineMinutes);
        int reminders = 0;
        using var cts = new CancellationTokenSource();
        var labelled = context.WaitForExternalEvent<int>(AnnotationEvents.Submitted(batch.BatchId), cts.Token);
        while (true)
        {
            context.SetCustomStatus(new PhaseStatus
            {
                Phase = phase, Status = PhaseStatus.AwaitingAnnotation, BatchId = batch.BatchId, Items = batch.Items, Deadline = deadline, Reminders = reminders,
                Submit = $"POST /api/laps/{batch.LapId}/annotations/{batch.BatchId} (JSONL: {{\"itemId\", \"score\"}} per item)",
            });
            var next = context.CurrentUtcDateTime.AddMinutes(o.ReminderMinutes);
            if (next > deadline) next = deadline;
            using var timerCts = new CancellationTokenSource();
            var timer = context.CreateTimer(next, timerCts.Token);
            if (await Task.WhenAny(labelled, timer) == labelled)
            {
                // Synchronous Cancel: an awaited CancelAsync would continue off the orchestration's thread.
                timerCts.Cancel();
                return;
            }
            if (context.CurrentUtcDateTime >= deadline)
            {
                cts.Cancel();
                throw new TimeoutException($"annotation batch {batch.BatchId} ({batch.Items} items) was not labelled within {o.DeadlineMinutes} minutes");
            }
            reminders++;
        }
    }
}
