using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Loops;
using Kairo.Runtime.Sources;

namespace Kairo.Runtime.Tests;

public sealed class DatagramFloodTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public void MalformedDatagramsAreCountedAndDroppedWhileTheLoopKeepsItsOutputsRight()
    {
        const int Rounds = 50;
        Repo.LoadOnnxRuntime();
        var options = new LoopOptions { Name = "flood", RateHz = 200 };
        using var sink = new FrameCaptureSink(50_000, 4, wanted: 6f);
        var model = ModelInstance.Load(Repo.Source("scale_add_v1.onnx"), options);
        var source = DatagramSource.Udp("127.0.0.1:0");
        using var loop = new ControlLoop(options, model, source, [sink]);
        var input = loop.Layout.Input;
        var target = (IPEndPoint)source.LocalEndPoint!;
        loop.Start();

        // Every bad datagram carries x = 100 where a payload would be: if one got through, an output would read 101.
        byte[] Datagram(FrameKind kind, uint layoutId, int payloadLength, int totalLength, float x, ulong sequence)
        {
            var bytes = new byte[totalLength];
            new FrameHeader(kind, FrameFlags.None, sequence, 0, layoutId, payloadLength).Write(bytes);
            var floats = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(FrameHeader.Size, (totalLength - FrameHeader.Size) / 4 * 4));
            floats.Fill(x);
            return bytes;
        }

        int full = FrameHeader.Size + input.TotalBytes;
        var badMagic = Datagram(FrameKind.Input, input.LayoutId, 16, full, 100, 1);
        badMagic[0] = (byte)'X';
        var badVersion = Datagram(FrameKind.Input, input.LayoutId, 16, full, 100, 1);
        badVersion[4] = 9;
        var bad = new (byte[] Bytes, FrameError Cause)[]
        {
            (new byte[10], FrameError.Truncated),
            (Datagram(FrameKind.Input, input.LayoutId, 64, full, 100, 1), FrameError.Truncated), // announces more than it carries
            (badMagic, FrameError.BadMagic),
            (badVersion, FrameError.BadVersion),
            (Datagram(FrameKind.Output, input.LayoutId, 16, full, 100, 1), FrameError.WrongKind),
            (Datagram(FrameKind.Input, 0xDEADBEEF, 16, full, 100, 1), FrameError.WrongLayout),
            (Datagram(FrameKind.Input, input.LayoutId, 12, FrameHeader.Size + 12, 100, 1), FrameError.WrongSize),
            (Datagram(FrameKind.Input, input.LayoutId, 16, full + 8, 100, 1), FrameError.WrongSize), // trailing bytes
        };

        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        for (int round = 1; round <= Rounds; round++)
        {
            foreach (var (bytes, _) in bad)
            {
                sender.SendTo(bytes, target);
            }

            sender.SendTo(Datagram(FrameKind.Input, round % 2 == 0 ? 0 : input.LayoutId, 16, full, 5, (ulong)round), target); // layout id 0 is accepted
            foreach (var (bytes, _) in bad)
            {
                sender.SendTo(bytes, target);
            }

            // One round per tick or so, never more than the socket buffer holds: wait for the loop to take this round.
            Assert.True(SpinWait.SpinUntil(() => source.Counters.Frames >= round, Patience), $"round {round} not taken");
        }

        Assert.True(SpinWait.SpinUntil(() => source.Counters.Dropped >= Rounds * bad.Length * 2, Patience));
        Assert.True(sink.SawWanted.Wait(Patience));
        long ticks = loop.Metrics.Ticks;
        SpinWait.SpinUntil(() => loop.Metrics.Ticks >= ticks + 5, Patience); // the loop runs on after the flood
        loop.Stop();

        foreach (var cause in bad.Select(b => b.Cause).Distinct())
        {
            Assert.Equal(Rounds * 2 * bad.Count(b => b.Cause == cause), source.Counters.DroppedFor(cause));
        }

        Assert.Equal(Rounds, source.Counters.Frames);
        bool fed = false;
        for (int i = 0; i < sink.Count; i++)
        {
            if (sink.Flags(i) != FrameFlags.None)
            {
                continue; // a safe output: a first tick that missed its deadline while this process JITs, or the stop's
            }

            float[] y = sink.Frame(i);
            fed |= y[0] == 6f;
            Assert.Equal(fed ? [6f, 6f, 6f, 6f] : [1f, 1f, 1f, 1f], y); // y = x + 1: 0 before the first frame, 5 after
        }

        Assert.True(fed);
        Assert.Equal(0, loop.Metrics.Misses(MissCause.InferenceError));
        Assert.Equal(0, loop.Metrics.NanOutputs);
    }
}
