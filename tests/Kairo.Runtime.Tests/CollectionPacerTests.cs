using Kairo.Runtime.Loops;
using Kairo.Runtime.Sources;
using Kairo.Testing;
using Xunit.Abstractions;

namespace Kairo.Runtime.Tests;

/// <summary>
/// The collection pacer: garbage collections in the loops' idle time. A thread of this process allocates garbage fast
/// beside a 200 Hz loop pinned at SCHED_FIFO 50 (as a board runs it) and a <see cref="StallWitness"/>; the pacer
/// collects at SCHED_FIFO 1, and not one tick may be late for a collection.
/// </summary>
[Collection(nameof(SteadyState))]
public sealed class CollectionPacerTests
{
    private readonly ITestOutputHelper _output;

    public CollectionPacerTests(ITestOutputHelper output)
    {
        _output = output;
        Repo.LoadOnnxRuntime();
    }

    [Fact]
    public void CollectionsRunWhileTheLoopSleeps_NotOneTickLateForThem()
    {
        int cpu = Environment.ProcessorCount - 1;
        using var witness = StallWitness.Start(cpu, priority: 60);
        var options = new LoopOptions { Name = "paced", RateHz = 200, MissPolicy = MissPolicy.Safe, Priority = 50, CpuAffinity = [cpu] };
        using var model = ModelInstance.Load(Repo.Source("scale_add_v1.onnx"), options);
        using var loop = new ControlLoop(options, model, new SyntheticSource(SyntheticPattern.Constant, 0f), []);
        loop.Start();
        Assert.True(SpinWait.SpinUntil(() => loop.Metrics.Ticks >= 100, TimeSpan.FromSeconds(30)), "the loop ticks");

        using var pacer = new CollectionPacer(() => [loop], new CollectionPacerOptions { ThresholdBytes = 1024 * 1024, Priority = 1 });
        pacer.Start();
        Assert.Empty(pacer.Warnings);
        long misses = loop.Metrics.MissRecords;
        int collections = GC.CollectionCount(0);

        // About 30 MB of short-lived garbage a second for 3 seconds, from a normal thread as the control plane's.
        long garbage = Garbage(TimeSpan.FromSeconds(3), bytesPerMillisecond: 30_000);

        int ran = GC.CollectionCount(0) - collections;
        _output.WriteLine($"{garbage / 1e6:0.0} MB of garbage; {ran} collections: {pacer.Paced} paced ({pacer.Late} late), {pacer.Unpaced} unpaced; " +
            $"paced pause last {pacer.LastPauseNanoseconds / 1e6:0.000} ms, max {pacer.MaxPauseNanoseconds / 1e6:0.000} ms; {loop.Metrics.Ticks} ticks");
        Assert.True(pacer.Paced >= 20, $"{pacer.Paced} paced collections for {garbage / 1e6:0.0} MB at a 1 MB threshold");
        Assert.True(pacer.Unpaced <= 1, $"{pacer.Unpaced} collections the runtime started itself");
        MissAudit.AssertOnlyMachineStalls(loop.Metrics.RecentMisses(misses), witness, _output, collections: (int)pacer.Unpaced);
        Assert.Equal(0, loop.Metrics.AllocatedBytes);
    }

    [Fact]
    public void WhenTheRuntimeCollectsFirst_ThePacerCountsItAndTakesHalfItsBudgetAsItsThreshold()
    {
        long threshold = 1L << 40; // never reached: the runtime's budget is met first
        using var pacer = new CollectionPacer(() => [], new CollectionPacerOptions { ThresholdBytes = threshold });
        pacer.Start();

        Assert.True(SpinWait.SpinUntil(() => { Garbage(TimeSpan.FromMilliseconds(20), 50_000); return pacer.Unpaced > 0; }, TimeSpan.FromSeconds(30)),
            "the runtime collects once its budget is allocated");
        Assert.True(SpinWait.SpinUntil(() => pacer.ThresholdBytes < threshold, TimeSpan.FromSeconds(5)));
        _output.WriteLine($"threshold now {pacer.ThresholdBytes / 1e6:0.00} MB after {pacer.Unpaced} unpaced collections");
        Assert.InRange(pacer.ThresholdBytes, 256 * 1024, 1L << 32);

        // From then on, with no loop to wait for, the pacer collects first.
        long paced = pacer.Paced;
        Assert.True(SpinWait.SpinUntil(() => { Garbage(TimeSpan.FromMilliseconds(20), 50_000); return pacer.Paced > paced; }, TimeSpan.FromSeconds(30)),
            "the pacer collects at its new threshold");
    }

    [Fact]
    public void AThresholdBelow256KiBIsRefused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new CollectionPacer(() => [], new CollectionPacerOptions { ThresholdBytes = 1000 }));
        Assert.Equal(nameof(CollectionPacerOptions.ThresholdBytes), e.ParamName);
    }

    /// <summary>Allocates short-lived arrays at about <paramref name="bytesPerMillisecond"/> for <paramref name="duration"/>; returns the bytes.</summary>
    private static long Garbage(TimeSpan duration, int bytesPerMillisecond)
    {
        long total = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        byte[]? keep = null;
        while (clock.Elapsed < duration)
        {
            for (int i = 0; i < bytesPerMillisecond / 1000; i++)
            {
                keep = new byte[1000];
                keep[i % 1000] = 1;
                total += 1000;
            }

            Thread.Sleep(1);
        }

        GC.KeepAlive(keep);
        return total;
    }
}
