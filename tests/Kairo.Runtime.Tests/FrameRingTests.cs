using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using Kairo.Onnx;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Loops;
using Kairo.Runtime.Sources;

namespace Kairo.Runtime.Tests;

public sealed class FrameRingTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    // x: float[1,4], the scale_add models' input: 16 bytes.
    private static readonly FrameLayout Layout = new([("x", TensorElementType.Float, new long[] { 1, 4 })]);

    private readonly ScratchDirectory _scratch = new(sharedMemory: true);

    public void Dispose() => _scratch.Dispose();

    private static byte[] Frame(float value)
    {
        var bytes = new byte[Layout.TotalBytes];
        MemoryMarshal.Cast<byte, float>(bytes.AsSpan()).Fill(value);
        return bytes;
    }

    private static float First(ReadOnlySpan<byte> frame) => MemoryMarshal.Read<float>(frame);

    [Fact]
    public void TheHeaderIsLaidOutAsDocumented()
    {
        string path = _scratch.File("ring");
        using (var writer = FrameRingWriter.Open(path, Layout.TotalBytes, Layout.LayoutId, slotCount: 3))
        {
            writer.Write(Frame(2f), timestampNanoseconds: 123456789);
        }

        byte[] file = File.ReadAllBytes(path);
        Assert.Equal(64 + (3 * 128), file.Length); // 64-byte slot header + 16 bytes, rounded up to 128
        Assert.Equal("KRRG"u8.ToArray(), file[..4]);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(4)));
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(8)));
        Assert.Equal(16u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(12)));
        Assert.Equal(Layout.LayoutId, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(16)));
        Assert.Equal(128u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(20)));
        Assert.Equal(1ul, BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(24)));
        Assert.All(file[32..64], b => Assert.Equal(0, b));

        // Frame 1 lives in slot 1 % 3 = 1.
        var slot = file.AsSpan(64 + 128);
        Assert.Equal(2ul, BinaryPrimitives.ReadUInt64LittleEndian(slot)); // the lock: entered once, left once
        Assert.Equal(1ul, BinaryPrimitives.ReadUInt64LittleEndian(slot[8..]));
        Assert.Equal(123456789L, BinaryPrimitives.ReadInt64LittleEndian(slot[16..]));
        Assert.Equal(16u, BinaryPrimitives.ReadUInt32LittleEndian(slot[24..]));
        Assert.Equal(2f, BinaryPrimitives.ReadSingleLittleEndian(slot[64..]));
    }

    [Fact]
    public void FramesGoRoundTheRingInOrder()
    {
        string path = _scratch.File("ring");
        using var writer = FrameRingWriter.Open(path, Layout.TotalBytes, Layout.LayoutId, slotCount: 3);
        using var source = new FrameRingSource(path, create: false);
        source.Open(Layout);
        var frame = new byte[Layout.TotalBytes];

        Assert.False(source.TryRead(frame, out _)); // nothing published yet
        for (int i = 1; i <= 10; i++) // more than three times round the ring
        {
            Assert.Equal((ulong)i, writer.Write(Frame(i)));
            Assert.True(source.TryRead(frame, out ulong sequence));
            Assert.Equal((ulong)i, sequence);
            Assert.Equal(Frame(i), frame);
            Assert.False(source.TryRead(frame, out _)); // the same frame is not new twice
        }

        // A reader that falls behind takes the newest frame, not the oldest.
        writer.Write(Frame(11));
        writer.Write(Frame(12));
        Assert.True(source.TryRead(frame, out ulong newest));
        Assert.Equal(12ul, newest);
        Assert.Equal(12f, First(frame));
        Assert.Equal(11, source.Counters.Frames);
        Assert.Equal(0, source.Counters.Dropped);
    }

    [Fact]
    public void AFrameTheWriterIsInsideIsCountedTornAndLeavesTheInputAlone()
    {
        string path = _scratch.File("ring");
        using var writer = FrameRingWriter.Open(path, Layout.TotalBytes, Layout.LayoutId);
        using var source = new FrameRingSource(path, create: false);
        source.Open(Layout);
        var frame = new byte[Layout.TotalBytes];
        writer.Write(Frame(1f));
        Assert.True(source.TryRead(frame, out _));
        writer.Write(Frame(2f));

        // Another mapping of the same file plays a writer caught mid-frame in the newest frame's slot: lock odd, payload half new.
        long slot = FrameRing.HeaderSize + ((2 % writer.SlotCount) * FrameRing.SlotStride(Layout.TotalBytes));
        using (var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite))
        using (var view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.ReadWrite))
        {
            ulong lockWord = view.ReadUInt64(slot);
            view.Write(slot, lockWord + 1);
            view.Write(slot + FrameRing.SlotHeaderSize, 99f);

            Assert.False(source.TryRead(frame, out _));
            Assert.Equal(1, source.Counters.DroppedFor(FrameError.Torn));
            Assert.Equal(Frame(1f), frame); // the loop keeps running on the last good input

            // The writer finishes the frame: the next tick takes it.
            view.Write(slot + FrameRing.SlotHeaderSize, 2f);
            view.Write(slot, lockWord + 2);
        }

        Assert.True(source.TryRead(frame, out ulong sequence));
        Assert.Equal(2ul, sequence);
        Assert.Equal(Frame(2f), frame);
        Assert.Equal(1, source.Counters.Dropped);
    }

    [Fact]
    public void AWriterRacingTheReaderNeverHandsOverAMixedFrame()
    {
        // 64 KiB frames whose every float is the frame's number, written flat out into a two-slot ring: the writer laps
        // the reader constantly. Whatever the reader takes must be one whole frame, the one its sequence says.
        var big = new FrameLayout([("image", TensorElementType.Float, new long[] { 1, 16384 })]);
        string path = _scratch.File("ring");
        using var writer = FrameRingWriter.Open(path, big.TotalBytes, big.LayoutId, slotCount: 2);
        using var source = new FrameRingSource(path, create: false);
        source.Open(big);

        var stop = false;
        var writing = new Thread(() =>
        {
            var payload = new float[16384];
            while (!Volatile.Read(ref stop))
            {
                ulong next = writer.LastSequence + 1;
                Array.Fill(payload, (float)next);
                writer.Write(MemoryMarshal.AsBytes(payload.AsSpan()));
            }
        });
        writing.Start();

        var frame = new byte[big.TotalBytes];
        int taken = 0;
        string? mixed = null;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            while (mixed == null && (taken < 2000 || source.Counters.DroppedFor(FrameError.Torn) == 0) && clock.Elapsed < TimeSpan.FromSeconds(5))
            {
                if (!source.TryRead(frame, out ulong sequence))
                {
                    continue;
                }

                var values = MemoryMarshal.Cast<byte, float>(frame);
                int wrong = values.IndexOfAnyExcept((float)sequence);
                if (wrong >= 0)
                {
                    mixed = $"frame {sequence} holds {values[wrong]} at element {wrong}";
                }

                taken++;
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            writing.Join();
        }

        Assert.Null(mixed);
        // A writer flat out on a busy machine can starve a reader now and then; what matters is that none was mixed.
        Assert.True(taken >= 100, $"only {taken} frames taken in {clock.Elapsed.TotalSeconds:F1} s ({source.Counters.DroppedFor(FrameError.Torn)} torn)");
        Assert.Equal(taken, source.Counters.Frames);
    }

    [Fact]
    public void ReadingAllocatesNothing()
    {
        string path = _scratch.File("ring");
        using var writer = FrameRingWriter.Open(path, Layout.TotalBytes, Layout.LayoutId);
        using var source = new FrameRingSource(path, create: false);
        source.Open(Layout);
        var payload = Frame(1f);
        var frame = new byte[Layout.TotalBytes];
        writer.Write(payload, 0);
        source.TryRead(frame, out _);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100_000; i++)
        {
            writer.Write(payload, i);
            source.TryRead(frame, out _); // a new frame
            source.TryRead(frame, out _); // nothing new
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(100_001, source.Counters.Frames);
    }

    [Fact]
    public void EitherSideMayStartFirst()
    {
        // The reader first: it creates the ring, the writer joins it.
        string readerFirst = _scratch.File("reader-first");
        using (var source = new FrameRingSource(readerFirst, create: true, slots: 5))
        {
            source.Open(Layout);
            using var writer = FrameRingWriter.Open(readerFirst, Layout.TotalBytes, Layout.LayoutId, slotCount: 2);
            Assert.Equal(5, writer.SlotCount); // the ring's own, not the joiner's wish
            writer.Write(Frame(7f));
            var frame = new byte[Layout.TotalBytes];
            Assert.True(source.TryRead(frame, out _));
            Assert.Equal(7f, First(frame));
        }

        // The writer first, and a restarted writer carries on numbering after the frames already there.
        string writerFirst = _scratch.File("writer-first");
        using (var writer = FrameRingWriter.Open(writerFirst, Layout.TotalBytes, layoutId: 0))
        {
            writer.Write(Frame(1f));
            writer.Write(Frame(2f));
        }

        using (var writer = FrameRingWriter.Open(writerFirst, Layout.TotalBytes, layoutId: 0))
        using (var source = new FrameRingSource(writerFirst, create: false))
        {
            source.Open(Layout); // a ring that declares no layout (0) is taken
            Assert.Equal(2ul, writer.LastSequence);
            Assert.Equal(3ul, writer.Write(Frame(3f)));
            var frame = new byte[Layout.TotalBytes];
            Assert.True(source.TryRead(frame, out ulong sequence));
            Assert.Equal(3ul, sequence);
        }
    }

    [Fact]
    public void OpenRefusesRingsThatDoNotFitNamingTheFileAndTheMismatch()
    {
        string path = _scratch.File("ring");
        using (FrameRingWriter.Open(path, 8, layoutId: 0x11223344))
        {
        }

        var wrongLayout = Assert.Throws<InvalidDataException>(() => Open(path, Layout, create: false));
        Assert.Contains(path, wrongLayout.Message);
        Assert.Contains("0x11223344", wrongLayout.Message);
        Assert.Contains($"0x{Layout.LayoutId:X8}", wrongLayout.Message);

        string small = _scratch.File("small");
        using (FrameRingWriter.Open(small, 8))
        {
        }

        var tooSmall = Assert.Throws<InvalidDataException>(() => Open(small, Layout, create: false));
        Assert.Contains(small, tooSmall.Message);
        Assert.Contains("hold 8 bytes", tooSmall.Message);
        Assert.Contains("16 bytes", tooSmall.Message);

        byte[] header = File.ReadAllBytes(small);
        header[0] = (byte)'X';
        string notRing = _scratch.File("not-a-ring");
        File.WriteAllBytes(notRing, header);
        var magic = Assert.Throws<InvalidDataException>(() => Open(notRing, Layout, create: true));
        Assert.Contains(notRing, magic.Message);
        Assert.Contains("KRRG", magic.Message);

        header[0] = (byte)'K';
        header[4] = 2;
        string future = _scratch.File("version-2");
        File.WriteAllBytes(future, header);
        var version = Assert.Throws<InvalidDataException>(() => Open(future, Layout, create: false));
        Assert.Contains("version 2", version.Message);

        string cut = _scratch.File("cut");
        File.WriteAllBytes(cut, File.ReadAllBytes(path)[..100]);
        var shortFile = Assert.Throws<InvalidDataException>(() => Open(cut, new FrameLayout([("x", TensorElementType.Float, new long[] { 2 })]), create: false));
        Assert.Contains("100 bytes", shortFile.Message);

        string absent = _scratch.File("absent");
        var missing = Assert.Throws<FileNotFoundException>(() => Open(absent, Layout, create: false));
        Assert.Contains(absent, missing.Message);

        // The writer checks an existing ring the same way.
        var writerMismatch = Assert.Throws<InvalidDataException>(() => FrameRingWriter.Open(path, 8, layoutId: 0x55667788));
        Assert.Contains("0x55667788", writerMismatch.Message);
    }

    private static void Open(string path, FrameLayout layout, bool create)
    {
        using var source = new FrameRingSource(path, create);
        source.Open(layout);
    }

    [Fact]
    public void ALoopRunsOnFramesAnotherProcessWritesIntoTheRing()
    {
        Repo.LoadOnnxRuntime();
        string path = _scratch.File("camera");
        var options = new LoopOptions { Name = "ring", RateHz = 100 };
        using var sink = new FrameCaptureSink(20_000, 4, wanted: 4f);
        var model = ModelInstance.Load(Repo.Source("scale_add_v1.onnx"), options);
        var source = new FrameRingSource(path); // the loop's side starts first and creates the ring
        using var loop = new ControlLoop(options, model, source, [sink]);
        loop.Start();
        Assert.True(File.Exists(path));

        using var writer = Kairoctl.Start("send", "--model", Repo.Model("scale_add_v1.onnx"), "--ring", path, "--pattern", "constant", "--value", "3", "--rate", "200", "--count", "400");
        Assert.True(sink.SawWanted.Wait(Patience), $"no output y = 3 + 1 from the ring's frames\n{writer.Output}");
        Assert.Equal(0, writer.WaitForExit(Patience));
        Assert.Contains("sent 400 frames", writer.Output);
        long before = loop.Metrics.Ticks;
        SpinWait.SpinUntil(() => loop.Metrics.Ticks >= before + 3, Patience); // ticks after the writer is gone
        loop.Stop();

        Assert.InRange(source.Counters.Frames, 1, 400);
        Assert.Equal(0, source.Counters.Dropped);
        int last = sink.Count - 2; // before the stop's safe output: the writer's last frame, still the input
        Assert.Equal([4f, 4f, 4f, 4f], sink.Frame(last));
        Assert.True(loop.Metrics.StaleInputs > 0); // ticks without a new frame ran on the last one
        Assert.Equal(0, loop.Metrics.Misses(MissCause.InferenceError));
    }
}
