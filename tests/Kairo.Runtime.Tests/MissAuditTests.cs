using Kairo.Runtime.Frames;
using Kairo.Runtime.Loops;
using Kairo.Runtime.Sinks;
using Kairo.Runtime.Sources;
using Kairo.Testing;
using Xunit.Sdk;

namespace Kairo.Runtime.Tests;

/// <summary>The record of missed ticks, and the audit that tells the machine's stalls from Kairo's misses.</summary>
[Collection(nameof(SteadyState))]
public sealed class MissAuditTests
{
    private const long Ms = 1_000_000;

    public MissAuditTests() => Repo.LoadOnnxRuntime();

    [Fact]
    public void AStallCoveringTheOvershootExplainsALateWakeup()
    {
        // Due at 0, deadline at 2 ms, woke at 6 ms: 4 ms over. The witness was due at 0.4 ms and ran at 5.9 ms.
        var miss = new MissRecord(1, 10, MissCause.LateWakeup, 0, 0, 2 * Ms, 6 * Ms, 6 * Ms + 20_000, 6 * Ms + 30_000, 2 * Ms);
        Assert.Single(MissAudit.Explaining(miss, [new MachineStall(400_000, 5_900_000)]));
    }

    [Fact]
    public void AShortStallDoesNotExplainALongOvershoot()
    {
        var miss = new MissRecord(1, 10, MissCause.SlowInference, 0, 0, 2 * Ms, 10_000, 9 * Ms, 9 * Ms, 2 * Ms);
        Assert.Empty(MissAudit.Explaining(miss, [new MachineStall(Ms, 2 * Ms)]));
    }

    [Fact]
    public void AStallOutsideTheTickExplainsNothing()
    {
        var miss = new MissRecord(1, 10, MissCause.LateWakeup, 0, 100 * Ms, 102 * Ms, 106 * Ms, 106 * Ms, 106 * Ms, 2 * Ms);
        Assert.Empty(MissAudit.Explaining(miss, [new MachineStall(80 * Ms, 90 * Ms), new MachineStall(110 * Ms, 120 * Ms)]));
    }

    [Fact]
    public void AnInferenceErrorIsNeverTheMachines()
    {
        var miss = new MissRecord(1, 10, MissCause.InferenceError, 0, 0, 2 * Ms, 10_000, 50_000, 60_000, 2 * Ms);
        Assert.Empty(MissAudit.Explaining(miss, [new MachineStall(0, 10 * Ms)]));
    }

    [Fact]
    public void TheLoopRecordsAMissWithItsTimesAndTheWitnessDoesNotExcuseIt()
    {
        // A sink that holds the loop thread for 30 ms on one tick: a miss of Kairo's own making (as a collection or a
        // lock on the loop thread would be), which the witness above the loop on its CPU does not see.
        int cpu = Environment.ProcessorCount - 1;
        using var witness = StallWitness.Start(cpu, priority: 60);
        var options = new LoopOptions { Name = "held", RateHz = 100, MissPolicy = MissPolicy.Safe, Priority = 50, CpuAffinity = [cpu] };
        using var sink = new HoldingSink(holdAtTick: 50, TimeSpan.FromMilliseconds(30));
        using var model = ModelInstance.Load(Repo.Source("scale_add_v1.onnx", version: 1), options);
        using var loop = new ControlLoop(options, model, new SyntheticSource(SyntheticPattern.Constant, 0f), [sink]);
        loop.Start();
        Assert.True(sink.Held.Wait(TimeSpan.FromSeconds(10)), "the loop reached the tick that holds it");
        Assert.True(SpinWait.SpinUntil(() => loop.Metrics.Ticks >= 60, TimeSpan.FromSeconds(10)));
        loop.Stop();

        var record = Assert.Single(loop.Metrics.RecentMisses(), m => m.Tick == 50);
        Assert.Equal(MissCause.Overrun, record.Cause);
        Assert.True(record.Overruns >= 2, $"30 ms at 100 Hz passes two releases or more: {record}");
        Assert.Equal(record.Overruns, loop.Metrics.Misses(MissCause.Overrun) - loop.Metrics.RecentMisses().Where(m => m.Tick != 50).Sum(m => m.Overruns));
        Assert.True(record.Release < record.Wake && record.Wake <= record.Finished && record.Finished < record.End);
        Assert.InRange(record.End - record.Finished, 30 * Ms, 500 * Ms);
        Assert.Equal(10 * Ms, record.Period);

        var failure = Assert.Throws<TrueException>(() => MissAudit.AssertOnlyMachineStalls(loop.Metrics, 0, witness));
        Assert.Contains($"tick 50: Overrun (+{record.Overruns} overrun)", failure.Message);
        Assert.Contains("NOT a stall of the machine", failure.Message);
    }

    [Fact]
    public void TheRecordKeepsTheNewestMissesInSequence()
    {
        var options = new LoopOptions { Name = "many", RateHz = 1000, MissPolicy = MissPolicy.Safe };
        using var sink = new HoldingSink(holdAtTick: 0, TimeSpan.FromMilliseconds(2)); // every tick ends a period late
        using var model = ModelInstance.Load(Repo.Source("scale_add_v1.onnx", version: 1), options);
        using var loop = new ControlLoop(options, model, new SyntheticSource(SyntheticPattern.Constant, 0f), [sink]);
        loop.Start();
        Assert.True(SpinWait.SpinUntil(() => loop.Metrics.MissRecords > LoopMetrics.RecentMissCapacity + 10, TimeSpan.FromSeconds(20)));
        loop.Stop();

        long written = loop.Metrics.MissRecords;
        var kept = loop.Metrics.RecentMisses();
        Assert.Equal(LoopMetrics.RecentMissCapacity, kept.Count);
        Assert.Equal(Enumerable.Range(0, kept.Count).Select(i => written - kept.Count + 1 + i), kept.Select(m => m.Sequence));
        Assert.Equal(kept.Skip(10).Select(m => m.Sequence), loop.Metrics.RecentMisses(kept[9].Sequence).Select(m => m.Sequence));
        Assert.True(kept.Zip(kept.Skip(1)).All(p => p.First.Tick < p.Second.Tick), "ticks in order");
    }

    [Fact]
    public void ReadersRacingTheLoopSeeWholeRecordsOnly()
    {
        var options = new LoopOptions { Name = "race", RateHz = 1000, MissPolicy = MissPolicy.Safe };
        using var sink = new HoldingSink(holdAtTick: 0, TimeSpan.FromMilliseconds(1)); // a miss nearly every tick
        using var model = ModelInstance.Load(Repo.Source("scale_add_v1.onnx", version: 1), options);
        using var loop = new ControlLoop(options, model, new SyntheticSource(SyntheticPattern.Constant, 0f), [sink]);
        loop.Start();
        Assert.True(SpinWait.SpinUntil(() => loop.Metrics.MissRecords > LoopMetrics.RecentMissCapacity, TimeSpan.FromSeconds(20)));

        int reads = 0;
        long seen = 0;
        for (var until = DateTime.UtcNow + TimeSpan.FromMilliseconds(500); DateTime.UtcNow < until; reads++)
        {
            var kept = loop.Metrics.RecentMisses();
            Assert.True(kept.Count > 0, "each read keeps records");
            for (int i = 0; i < kept.Count; i++)
            {
                var r = kept[i];
                if (i > 0)
                {
                    Assert.True(r.Sequence == kept[i - 1].Sequence + 1, $"read {reads}: sequence {r.Sequence} after {kept[i - 1].Sequence}");
                }

                Assert.True(r.Release < r.Deadline && r.Release <= r.Wake && r.Wake <= r.Finished && r.Finished <= r.End, $"read {reads}: a torn record {r}");
                Assert.Equal(1_000_000, r.Period);
            }

            Assert.True(kept[^1].Sequence >= seen, "the newest record never goes back");
            seen = kept[^1].Sequence;
        }

        loop.Stop();
        Assert.True(reads > 10, $"{reads} reads");
    }

    /// <summary>Holds the loop thread for a while on one tick (or on every tick when <c>holdAtTick</c> is 0).</summary>
    private sealed class HoldingSink(ulong holdAtTick, TimeSpan hold) : IFrameSink
    {
        public ManualResetEventSlim Held { get; } = new();

        public string Description => "holding";

        public SinkCounters Counters { get; } = new();

        public void Open(FrameLayout layout)
        {
        }

        public void Write(in TickFrame tick, ReadOnlySpan<byte> outputs)
        {
            if (holdAtTick == 0 || tick.Sequence == holdAtTick)
            {
                Thread.Sleep(hold);
                Held.Set();
            }
        }

        public void Dispose() => Held.Dispose();
    }
}
