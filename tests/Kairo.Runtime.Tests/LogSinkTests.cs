using System.Buffers.Binary;
using System.Text.RegularExpressions;
using Kairo.Onnx;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Loops;
using Kairo.Runtime.Sinks;
using Kairo.Runtime.Sources;
using Microsoft.Extensions.Logging;

namespace Kairo.Runtime.Tests;

public sealed class LogSinkTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public void ValuesAreFormattedByElementType()
    {
        var layout = new FrameLayout(
        [
            ("controls", TensorElementType.Float, new long[] { 1, 2 }),
            ("ids", TensorElementType.Int64, new long[] { 3 }),
            ("flags", TensorElementType.Bool, new long[] { 2 }),
            ("half", TensorElementType.Float16, new long[] { 1 }),
            ("pixels", TensorElementType.UInt8, new long[] { 2 }),
            ("nibbles", TensorElementType.Int4, new long[] { 2 }),
            ("gain", TensorElementType.Double, []),
        ]);
        var frame = new byte[layout.TotalBytes];
        Span<byte> Slot(string name) => frame.AsSpan(layout.Find(name)!.Offset);
        BinaryPrimitives.WriteSingleLittleEndian(Slot("controls"), 0.12403567f);
        BinaryPrimitives.WriteSingleLittleEndian(Slot("controls")[4..], 0.631f);
        BinaryPrimitives.WriteInt64LittleEndian(Slot("ids"), 1);
        BinaryPrimitives.WriteInt64LittleEndian(Slot("ids")[8..], -2);
        BinaryPrimitives.WriteInt64LittleEndian(Slot("ids")[16..], 30_000_000_000);
        Slot("flags")[0] = 1;
        BinaryPrimitives.WriteHalfLittleEndian(Slot("half"), (Half)1.5f);
        Slot("pixels")[0] = 255;
        Slot("pixels")[1] = 7;
        Slot("nibbles")[0] = 0xF3; // 3, then -1
        BinaryPrimitives.WriteDoubleLittleEndian(Slot("gain"), 2.25);

        Assert.Equal(
            "controls=[0.124, 0.631]; ids=[1, -2, 30000000000]; flags=[true, false]; half=[1.5]; pixels=[255, 7]; nibbles=[3, -1]; gain=2.25",
            LogSink.FormatOutputs(layout, frame));
    }

    [Fact]
    public void LongTensorsAreAbbreviated()
    {
        var layout = new FrameLayout([("camera", TensorElementType.Float, new long[] { 1, 3, 66, 200 })]);
        var frame = new byte[layout.TotalBytes];
        for (int i = 0; i < 3; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(frame.AsSpan(i * 4), (i + 1) * 0.1f);
        }

        Assert.Equal("camera=[0.1, 0.2, ... (39600 values)]", LogSink.FormatOutputs(layout, frame, maxValues: 2));
    }

    [Fact]
    public void ALoopsOutputsAreLoggedEveryNTicksOffTheLoopThread()
    {
        Repo.LoadOnnxRuntime();
        var logger = new CapturingLogger(wanted: 3);
        var options = new LoopOptions { Name = "drive", RateHz = 200 };
        var model = ModelInstance.Load(Repo.Source("scale_add_v1.onnx", version: 1), options);
        var log = new LogSink(logger, everyTicks: 10, loopName: "drive", pollInterval: TimeSpan.FromMilliseconds(20));
        using (var loop = new ControlLoop(options, model, new SyntheticSource(SyntheticPattern.Constant, 0.5f), [log]))
        {
            loop.Start();
            Assert.True(logger.Reached.Wait(Patience));
            Assert.All(logger.Threads, name => Assert.Equal("kairo-log-drive", name)); // the sink's thread, never the loop's (kairo-drive)
        }

        var lines = logger.Lines;
        var pattern = new Regex(@"^loop drive tick (\d+) v1( \(safe\))?: y=\[(.*)\]$");
        foreach (string line in lines)
        {
            var match = pattern.Match(line);
            Assert.True(match.Success, line);
            ulong tick = ulong.Parse(match.Groups[1].Value);
            Assert.Equal(1ul, tick % 10); // ticks 1, 11, 21, ...: one frame in ten is kept
            Assert.Equal(match.Groups[2].Success ? "0, 0, 0, 0" : "1.5, 1.5, 1.5, 1.5", match.Groups[3].Value); // y = 0.5 + 1
        }

        Assert.True(lines.Count >= 3);
        Assert.Equal(lines.Count, log.Counters.Written);
        Assert.Equal(LogLevel.Information, logger.Level);
    }

    [Fact]
    public void WritingAFrameAllocatesNothing()
    {
        var layout = new FrameLayout([("y", TensorElementType.Float, new long[] { 1, 4 })]);
        using var log = new LogSink(new CapturingLogger(wanted: int.MaxValue), everyTicks: 3);
        log.Open(layout);
        var frame = new byte[layout.TotalBytes];
        for (ulong i = 1; i <= 100; i++)
        {
            log.Write(new TickFrame(i, 0, FrameFlags.None, 1), frame);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (ulong i = 101; i <= 100_000; i++)
        {
            log.Write(new TickFrame(i, 0, FrameFlags.None, 1), frame);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void TheLoggerNeverSeesAFrameHalfOverwritten()
    {
        // Frames whose every byte is the tick's number mod 251, written as fast as possible while the logger polls
        // every millisecond: every line must show one tick's frame whole.
        var layout = new FrameLayout([("v", TensorElementType.UInt8, new long[] { 4096 })]);
        var logger = new CapturingLogger(wanted: 50);
        using (var log = new LogSink(logger, everyTicks: 1, pollInterval: TimeSpan.FromMilliseconds(1), maxValues: 4096))
        {
            log.Open(layout);
            var frame = new byte[layout.TotalBytes];
            for (ulong tick = 1; !logger.Reached.IsSet; tick++)
            {
                Array.Fill(frame, (byte)(tick % 251));
                log.Write(new TickFrame(tick, 0, FrameFlags.None, 3), frame);
            }
        }

        var pattern = new Regex(@"^tick (\d+) v3: v=\[(.*)\]$");
        foreach (string line in logger.Lines)
        {
            var match = pattern.Match(line);
            Assert.True(match.Success, line);
            string value = (ulong.Parse(match.Groups[1].Value) % 251).ToString();
            Assert.All(match.Groups[2].Value.Split(", "), v => Assert.Equal(value, v));
        }
    }

    /// <summary>An ILogger that keeps every message and the thread it came from, and signals after a number of them.</summary>
    private sealed class CapturingLogger(int wanted) : ILogger
    {
        private readonly List<string> _lines = [];
        private readonly List<string?> _threads = [];

        public ManualResetEventSlim Reached { get; } = new();

        public LogLevel Level { get; private set; }

        public List<string> Lines
        {
            get
            {
                lock (_lines)
                {
                    return [.. _lines];
                }
            }
        }

        public List<string?> Threads
        {
            get
            {
                lock (_lines)
                {
                    return [.. _threads];
                }
            }
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lines)
            {
                Level = logLevel;
                _lines.Add(formatter(state, exception));
                _threads.Add(Thread.CurrentThread.Name);
                if (_lines.Count >= wanted)
                {
                    Reached.Set();
                }
            }
        }
    }
}
