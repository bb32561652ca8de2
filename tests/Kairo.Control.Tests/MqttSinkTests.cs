using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Kairo.Control.Plane;
using Kairo.Onnx;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Sinks;

namespace Kairo.Control.Tests;

/// <summary>
/// The mqtt sink on its own, as the loop thread drives it: decimation, the ring between the loop thread and the
/// publisher, and what it counts when the ring is full or the broker is not there. The publish function stands in
/// for <see cref="ControlPlane.PublishOutput"/>, whose broker side the control-plane tests cover.
/// </summary>
public sealed class MqttSinkTests
{
    private static readonly FrameLayout Layout = new FrameLayout([("y", TensorElementType.Float, new long[] { 1, 2 })]);

    [Fact]
    public void EveryNthTickGoesOut_AndEverySafeOutput_WithItsValuesAndVersion()
    {
        var sent = new BlockingCollection<JsonNode>();
        using var sink = new MqttSink((_, payload, _) => { sent.Add(JsonNode.Parse(payload)!); return true; }, "t", "ctl", everyTicks: 5);
        sink.Open(Layout);

        for (ulong tick = 1; tick <= 12; tick++)
        {
            var flags = tick == 7 ? FrameFlags.Safe : FrameFlags.None;
            sink.Write(new TickFrame(tick, 0, flags, ModelVersion: 3), Output(tick, tick == 7 ? -1f : tick));
        }

        var ticks = Take(sent, 3).Select(m => ((long)m["tick"]!, (string?)m["output"], (float)m["outputs"]!["y"]![1]!, (long)m["modelVersion"]!)).ToArray();
        Assert.Equal(new (long, string?, float, long)[] { (5L, "fresh", 5f, 3L), (7L, "safe", -1f, 3L), (10L, "fresh", 10f, 3L) }, ticks);
        Assert.Equal(3, sink.Counters.Written);
        Assert.Equal(0, sink.Counters.Failed);
        Assert.Equal(0, sink.Unsent);
    }

    [Fact]
    public void AFullRingDropsAndCountsFrames_TheLoopNeverWaits_AndTheRestGoOutOnceThePublisherCatchesUp()
    {
        using var entered = new ManualResetEventSlim();
        using var held = new ManualResetEventSlim();
        var sent = new BlockingCollection<long>();
        using var sink = new MqttSink(
            (_, payload, _) =>
            {
                entered.Set();
                held.Wait();
                sent.Add((long)JsonNode.Parse(payload)!["tick"]!);
                return true;
            },
            "t",
            "ctl",
            everyTicks: 1);
        sink.Open(Layout);

        // The publisher takes tick 1 out of the ring and hangs on it; 16 more fill the ring; the next 20 find it full.
        sink.Write(new TickFrame(1, 0, FrameFlags.None, 1), Output(1, 1f));
        Assert.True(entered.Wait(TimeSpan.FromSeconds(10)), "the publisher took the first frame");
        for (ulong tick = 2; tick <= 37; tick++)
        {
            sink.Write(new TickFrame(tick, 0, FrameFlags.None, 1), Output(tick, tick)); // returns at once, full or not
        }

        Assert.Equal(17, sink.Counters.Written);
        Assert.Equal(20, sink.Counters.Failed);
        Assert.Equal(20, sink.Dropped);

        held.Set();
        Assert.Equal(Enumerable.Range(1, 17).Select(i => (long)i), Take(sent, 17));
        Assert.False(sent.TryTake(out _, TimeSpan.FromMilliseconds(100)), "nothing dropped went out");
    }

    [Fact]
    public void OutputsThatCannotBeHandedOverAreCountedAsUnsent()
    {
        int calls = 0;
        using var sink = new MqttSink((_, _, _) => Interlocked.Increment(ref calls) % 2 == 0, "t", "ctl", everyTicks: 1);
        sink.Open(Layout);
        for (ulong tick = 1; tick <= 10; tick++)
        {
            sink.Write(new TickFrame(tick, 0, FrameFlags.None, 1), Output(tick, tick));
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref calls) == (int)tick, TimeSpan.FromSeconds(10)));
        }

        Assert.True(SpinWait.SpinUntil(() => sink.Unsent == 5, TimeSpan.FromSeconds(10)), $"unsent {sink.Unsent}");
        Assert.Equal(10, sink.Counters.Written);
        Assert.Equal(0, sink.Counters.Failed);
    }

    private static byte[] Output(ulong tick, float value)
    {
        var bytes = new byte[Layout.TotalBytes];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 4), (float)tick);
        BitConverter.TryWriteBytes(bytes.AsSpan(4, 4), value);
        return bytes;
    }

    private static IEnumerable<T> Take<T>(BlockingCollection<T> collection, int count)
    {
        var taken = new List<T>();
        for (int i = 0; i < count; i++)
        {
            Assert.True(collection.TryTake(out var item, TimeSpan.FromSeconds(10)), $"only {i} of {count} messages went out");
            taken.Add(item);
        }

        return taken;
    }
}
