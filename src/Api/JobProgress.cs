using MathV2.Core.Http;
using MathV2.Core.Jobs;

namespace MathV2.Api;

static class JobProgress
{
    /// <summary>The named jobs' progress (step/steps, done/total, iteration) from their records; jobs without one are left out.</summary>
    public static async Task<List<JobProgressView>> ProgressAsync(this GpuJobClient jobs, IEnumerable<string> jobIds, CancellationToken ct)
    {
        var running = new List<JobProgressView>();
        foreach (string jobId in jobIds)
            if (await jobs.GetAsync(jobId, ct) is { } r)
                running.Add(new JobProgressView { JobId = jobId, Status = r.Status, Attempt = r.Attempt, Progress = r.Progress });
        return running;
    }
}
