using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Loops;
using Kairo.Runtime.Sources;

namespace Kairo.Runtime.Tests;

/// <summary>kairoctl send, record and frames, run as separate processes against the runtime in this one.</summary>
public sealed class KairoctlFrameTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly ScratchDirectory _scratch = new(sharedMemory: true);

    public KairoctlFrameTests() => Repo.LoadOnnxRuntime();

    public void Dispose() => _scratch.Dispose();

    private static LoopLayout LayoutOf(string model, LoopOptions? options = null)
    {
        using var instance = ModelInstance.Load(Repo.Source(model), options ?? new LoopOptions { Name = "layout", RateHz = 1 }, warmupRuns: 1);
        return instance.Layout;
    }

    [Fact]
    public void RecordedFramesReplayIntoALoopInOrder()
    {
        string model = Repo.Model("scale_add_v1.onnx");
        var input = LayoutOf("scale_add_v1.onnx").Input;
        string recording = _scratch.File("drive.krc");

        using var recorder = Kairoctl.Start("record", "--model", model, "--udp", "127.0.0.1:0", "--out", recording, "--count", "20", "--seconds", "120");
        string ready = recorder.WaitForLine(l => l.StartsWith("recording input frames on udp ", StringComparison.Ordinal), Patience);
        var target = IPEndPoint.Parse(Regex.Match(ready, @"udp (127\.0\.0\.1:\d+)").Groups[1].Value);

        // Four datagrams that are not input frames of this model go first: counted and left out.
        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            var output = new byte[FrameHeader.Size + input.TotalBytes];
            new FrameHeader(FrameKind.Output, FrameFlags.None, 1, 0, input.LayoutId, input.TotalBytes).Write(output);
            socket.SendTo(output, target);
            socket.SendTo(new byte[FrameHeader.Size + input.TotalBytes], target); // zeros: no magic
            var small = new byte[FrameHeader.Size + 8];
            new FrameHeader(FrameKind.Input, FrameFlags.None, 1, 0, input.LayoutId, 8).Write(small);
            socket.SendTo(small, target);
            var large = new byte[FrameHeader.Size + 4096]; // cut to the longest frame the recorder takes: truncated
            new FrameHeader(FrameKind.Input, FrameFlags.None, 1, 0, input.LayoutId, 4096).Write(large);
            socket.SendTo(large, target);
        }

        using (var sender = Kairoctl.Start("send", "--model", model, "--udp", target.ToString(), "--count", "20", "--rate", "200", "--pattern", "wave"))
        {
            Assert.Equal(0, sender.WaitForExit(Patience));
            Assert.Contains("sent 20 frames", sender.Output);
        }

        Assert.Equal(0, recorder.WaitForExit(Patience));
        Assert.Contains("recorded 20 frames", recorder.Output);
        Assert.Contains("dropped 4 datagrams: 1 truncated, 1 bad magic, 1 not input frames, 1 wrong size", recorder.Output);

        // The recording holds send's wave frames 1..20, as they went over the wire.
        var replay = ReplayFile.Load(recording, input);
        Assert.Equal(20, replay.Count);
        Assert.Equal(input.LayoutId, replay.LayoutId);
        var wave = new SyntheticSource(SyntheticPattern.Wave);
        wave.Open(input);
        var expected = new byte[input.TotalBytes];
        for (int i = 0; i < 20; i++)
        {
            wave.TryRead(expected, out _);
            Assert.Equal((ulong)(i + 1), replay.Sequence(i));
            Assert.Equal(expected, replay.Payload(i).ToArray());
        }

        // A loop on the recording answers each frame in turn.
        var options = new LoopOptions { Name = "replay", RateHz = 50 };
        using var sink = new RecordingSink(64, 20);
        var instance = ModelInstance.Load(Repo.Source("scale_add_v1.onnx"), options);
        using (var loop = new ControlLoop(options, instance, new ReplaySource(recording, loop: false), [sink]))
        {
            loop.Start();
            Assert.True(sink.Reached.Wait(Patience));
        }

        int fresh = 0;
        for (int i = 0; i < 20; i++)
        {
            if (sink.Flags(i) == FrameFlags.None)
            {
                Assert.Equal(MemoryMarshal.Read<float>(replay.Payload(i)) + 1f, sink.Value(i));
                fresh++;
            }
        }

        Assert.True(fresh >= 15, $"only {fresh} of 20 ticks were fresh");
    }

    [Fact]
    public void SendPlaysARecordingIntoARing()
    {
        var input = LayoutOf("scale_add_v1.onnx").Input;
        string recording = _scratch.File("steps.krc");
        using (var writer = new ReplayFileWriter(recording, input.LayoutId))
        {
            for (int i = 0; i < 10; i++)
            {
                var frame = new float[4];
                Array.Fill(frame, i * 10f);
                writer.Append((ulong)(i + 1), 0, MemoryMarshal.AsBytes(frame.AsSpan()));
            }
        }

        string ring = _scratch.File("ring");
        var run = Kairoctl.Run(Patience, "send", "--model", Repo.Model("scale_add_v1.onnx"), "--ring", ring, "--from-replay", recording, "--count", "15", "--rate", "500");
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("sent 15 frames", run.Output);

        using var source = new FrameRingSource(ring, create: false);
        source.Open(input);
        var newest = new byte[input.TotalBytes];
        Assert.True(source.TryRead(newest, out ulong sequence));
        Assert.Equal(15ul, sequence);
        Assert.Equal([40f, 40f, 40f, 40f], MemoryMarshal.Cast<byte, float>(newest).ToArray()); // frame 15 is record 4 (x = 40), on the second pass
    }

    [Fact]
    public void FramesPrintsTheLayoutsTheRuntimeUses()
    {
        var pilotnet = LayoutOf("pilotnet.onnx");
        var run = Kairoctl.Run(Patience, "frames", "--model", Repo.Model("pilotnet.onnx"));
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains($"layout id  0x{pilotnet.Input.LayoutId:X8}", run.Output);
        Assert.Contains($"layout id  0x{pilotnet.Output.LayoutId:X8}", run.Output);
        Assert.Contains("camera:float[1,3,66,200]", run.Output);
        Assert.Contains("158400  camera: float[1,3,66,200]", run.Output);
        Assert.Contains("too big for one UDP datagram", run.Output);

        var options = new LoopOptions { Name = "layout", RateHz = 1, InputShapes = new Dictionary<string, long[]> { ["observation"] = [2, 48] } };
        var policy = LayoutOf("mlp_policy.onnx", options);
        var shaped = Kairoctl.Run(Patience, "frames", "--model", Repo.Model("mlp_policy.onnx"), "--input", "observation=2x48");
        Assert.True(shaped.ExitCode == 0, shaped.Output);
        Assert.Contains($"layout id  0x{policy.Input.LayoutId:X8}", shaped.Output);
        Assert.Contains("observation:float[2,48]", shaped.Output);
        Assert.Contains("joint_targets:float[2,12]", shaped.Output); // the dynamic output dimension follows the input's

        var missing = Kairoctl.Run(Patience, "frames", "--model", _scratch.File("absent.onnx"));
        Assert.True(missing.ExitCode == 2, missing.Output);
        Assert.Contains("no such file", missing.Output);

        var noTarget = Kairoctl.Run(Patience, "send", "--model", Repo.Model("scale_add_v1.onnx"));
        Assert.True(noTarget.ExitCode == 2, noTarget.Output);
        Assert.Contains("exactly one of --udp", noTarget.Output);
    }
}
