using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Kairo.Onnx;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Loops;
using Kairo.Runtime.Sources;

namespace Kairo.Runtime.Tests;

public sealed class ReplayTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    // x: float[1,4], the scale_add models' input.
    private static readonly FrameLayout Layout = new([("x", TensorElementType.Float, new long[] { 1, 4 })]);

    private readonly ScratchDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private static byte[] Frame(float value)
    {
        var bytes = new byte[Layout.TotalBytes];
        MemoryMarshal.Cast<byte, float>(bytes.AsSpan()).Fill(value);
        return bytes;
    }

    /// <summary>A recording of <paramref name="count"/> frames whose elements are 0, 1, 2, ...</summary>
    private string Record(int count, string name = "drive.krc")
    {
        string path = _scratch.File(name);
        using var writer = new ReplayFileWriter(path, Layout.LayoutId);
        for (int i = 0; i < count; i++)
        {
            writer.Append((ulong)(i + 1), 1_000_000L * i, Frame(i));
        }

        return path;
    }

    [Fact]
    public void RecordsReadBackAsWritten()
    {
        string path = _scratch.File("round-trip.krc");
        var datagram = new byte[FrameHeader.Size + Layout.TotalBytes];
        new FrameHeader(FrameKind.Input, FrameFlags.None, 42, 777, 0, Layout.TotalBytes).Write(datagram);
        Frame(9f).CopyTo(datagram, FrameHeader.Size);
        using (var writer = new ReplayFileWriter(path, Layout.LayoutId))
        {
            writer.Append(1, 100, Frame(0.5f));
            writer.Append(2, 200, Frame(-3f));
            writer.AppendDatagram(datagram); // as it arrived: layout id 0 is kept
            Assert.Equal(3, writer.Count);
        }

        byte[] file = File.ReadAllBytes(path);
        Assert.Equal(16 + (3 * 48), file.Length);
        Assert.Equal("KRRC"u8.ToArray(), file[..4]);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(4)));
        Assert.Equal(Layout.LayoutId, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(8)));
        Assert.Equal(datagram, file[(16 + 96)..]);

        var replay = ReplayFile.Load(path, Layout);
        Assert.Equal(3, replay.Count);
        Assert.Equal(Layout.LayoutId, replay.LayoutId);
        Assert.Equal(new FrameHeader(FrameKind.Input, FrameFlags.None, 1, 100, Layout.LayoutId, 16), replay.Header(0));
        Assert.Equal(new FrameHeader(FrameKind.Input, FrameFlags.None, 2, 200, Layout.LayoutId, 16), replay.Header(1));
        Assert.Equal(Frame(0.5f), replay.Payload(0).ToArray());
        Assert.Equal(Frame(-3f), replay.Payload(1).ToArray());
        Assert.Equal(42ul, replay.Sequence(2));
        Assert.Equal(datagram, replay.Record(2).ToArray());
    }

    [Fact]
    public void MalformedRecordingsAreRefusedWithTheRecordOffsetAndReason()
    {
        byte[] good = File.ReadAllBytes(Record(3));
        const int Second = 16 + 48; // byte offset of record 1

        string Broken(string name, Action<byte[]> damage, int? length = null)
        {
            var bytes = good[..(length ?? good.Length)];
            damage(bytes);
            string path = _scratch.File(name);
            File.WriteAllBytes(path, bytes);
            return path;
        }

        string Problem(string path, FrameLayout? layout = null) => Assert.Throws<InvalidDataException>(() => ReplayFile.Load(path, layout ?? Layout)).Message;

        string magic = Broken("magic.krc", b => b[0] = (byte)'X');
        Assert.Contains(magic, Problem(magic));
        Assert.Contains("KRRC", Problem(magic));

        Assert.Contains("version 9", Problem(Broken("version.krc", b => b[4] = 9)));
        Assert.Contains("shorter than the 16-byte", Problem(Broken("stub.krc", _ => { }, length: 10)));
        Assert.Contains("holds no records", Problem(Broken("empty.krc", _ => { }, length: 16)));

        string cut = Problem(Broken("cut.krc", _ => { }, length: good.Length - 5));
        Assert.Contains($"record 2 at byte {16 + 96}", cut);
        Assert.Contains("cut short", cut);

        string frameMagic = Problem(Broken("frame-magic.krc", b => b[Second] = 0));
        Assert.Contains($"record 1 at byte {Second}", frameMagic);
        Assert.Contains("KRF1", frameMagic);

        Assert.Contains("kind 2", Problem(Broken("kind.krc", b => b[Second + 5] = (byte)FrameKind.Output)));
        Assert.Contains("layout 0xDEADBEEF", Problem(Broken("record-layout.krc", b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(Second + 24), 0xDEADBEEF))));

        // A longer payload announced: the records no longer line up, and the loader says where.
        string size = Problem(Broken("size.krc", b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(Second + 28), 12)));
        Assert.Contains($"record 1 at byte {Second}", size);
        Assert.Contains("12 bytes", size);

        var other = new FrameLayout([("x", TensorElementType.Float, new long[] { 1, 8 })]);
        string layout = Problem(Record(3, "other.krc"), other);
        Assert.Contains($"0x{Layout.LayoutId:X8}", layout);
        Assert.Contains($"0x{other.LayoutId:X8}", layout);
    }

    [Fact]
    public void ReplayingAllocatesNothing()
    {
        using var source = new ReplaySource(Record(7));
        source.Open(Layout);
        var frame = new byte[Layout.TotalBytes];
        source.TryRead(frame, out _);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100_000; i++)
        {
            Assert.True(source.TryRead(frame, out _));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(100_001 / 7, source.Laps);
    }

    [Fact]
    public void RecordingsOverOneGibibyteAreRefusedBeforeLoading()
    {
        string path = _scratch.File("huge.krc");
        using (var stream = new FileStream(path, FileMode.CreateNew))
        {
            stream.SetLength(ReplayFile.MaxFileBytes + 1); // sparse: costs no disk
        }

        var error = Assert.Throws<InvalidDataException>(() => new ReplaySource(path).Open(Layout));
        Assert.Contains(path, error.Message);
        Assert.Contains("1 GiB", error.Message);
    }

    /// <summary>
    /// Runs scale_add v1 at 100 Hz on a replay until the sink has <paramref name="frames"/> frames. A tick that misses its
    /// deadline emits the safe output instead of its record, which says nothing about the replay; on this shared
    /// machine a stall now and then does that, so a run with a miss is made again, at most three times in all.
    /// </summary>
    private static (RecordingSink Sink, ReplaySource Source, ControlLoop Loop) RunWithoutMisses(Func<ReplaySource> open, int frames)
    {
        Repo.LoadOnnxRuntime();
        var options = new LoopOptions { Name = "replay", RateHz = 100 };
        for (int attempt = 1; ; attempt++)
        {
            var sink = new RecordingSink(64, frames);
            var model = ModelInstance.Load(Repo.Source("scale_add_v1.onnx"), options);
            var source = open();
            var loop = new ControlLoop(options, model, source, [sink]);
            loop.Start();
            Assert.True(sink.Reached.Wait(Patience));
            loop.Stop();
            if (loop.Metrics.DeadlineMisses == 0 || attempt == 3)
            {
                Assert.Equal(0, loop.Metrics.DeadlineMisses);
                return (sink, source, loop);
            }

            loop.Dispose();
            sink.Dispose();
        }
    }

    [Fact]
    public void ALoopOnARecordingProducesItsOutputsInOrderThenHoldsTheLastFrame()
    {
        var (sink, source, loop) = RunWithoutMisses(() => new ReplaySource(Record(10), loop: false), 16);
        using var disposeSink = sink;
        using var disposeLoop = loop;

        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(i + 1f, sink.Value(i)); // y = x + 1, record by record
        }

        for (int i = 10; i < 16; i++)
        {
            Assert.Equal(10f, sink.Value(i)); // the last frame, kept
        }

        Assert.Equal(10, source.Counters.Frames);
        Assert.True(loop.Metrics.StaleInputs >= 6);
    }

    [Fact]
    public void ALoopingReplayStartsAgainAtTheEnd()
    {
        var (sink, source, loop) = RunWithoutMisses(() => new ReplaySource(Record(10)), 25);
        using var disposeSink = sink;
        using var disposeLoop = loop;

        for (int i = 0; i < 25; i++)
        {
            Assert.Equal((i % 10) + 1f, sink.Value(i));
        }

        Assert.True(source.Laps >= 2);
        Assert.Equal(0, loop.Metrics.StaleInputs);
    }
}
