using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Kairo.Onnx;
using Kairo.Runtime.Frames;
using Microsoft.Extensions.Logging;

namespace Kairo.Runtime.Sinks;

/// <summary>
/// Logs a loop's outputs, e.g. <c>loop drive tick 300 v1: controls=[0.124, 0.631]</c>. Every N ticks the loop thread
/// copies the output frame into one preallocated seqlock slot, nothing more; a background thread of this sink looks
/// at the slot on its own interval and formats and logs the newest frame it finds there. The two threads share no
/// lock: a frame the loop thread overwrites while the logger copies it is simply taken on the next look.
/// </summary>
/// <remarks><see cref="SinkCounters.Written"/> counts lines logged; <see cref="SinkCounters.Failed"/> lines the logger threw on.</remarks>
public sealed partial class LogSink : IFrameSink
{
    public const int DefaultEveryTicks = 100;
    public const int DefaultMaxValues = 8;

    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromMilliseconds(200);

    private readonly ILogger _logger;
    private readonly int _everyTicks;
    private readonly string? _loopName;
    private readonly TimeSpan _pollInterval;
    private readonly int _maxValues;
    private readonly ManualResetEventSlim _stop = new();
    private readonly StringBuilder _text = new();

    // The slot: written by the loop thread between two increments of _lock (odd while it writes), read by the logger.
    private byte[] _slot = [];
    private int _lock;
    private ulong _tick;
    private long _version;
    private FrameFlags _flags;

    private int _countdown;
    private byte[] _snapshot = [];
    private int _loggedLock;
    private FrameLayout? _layout;
    private Thread? _thread;
    private bool _disposed;

    /// <param name="logger">Where the lines go.</param>
    /// <param name="everyTicks">Keep one output frame in this many.</param>
    /// <param name="loopName">Starts each line with <c>loop NAME</c>; leave it out when the logger's category names the loop.</param>
    /// <param name="pollInterval">How often the background thread looks for a new frame (default 200 ms).</param>
    /// <param name="maxValues">Values shown per tensor before the rest is abbreviated.</param>
    public LogSink(ILogger logger, int everyTicks = DefaultEveryTicks, string? loopName = null, TimeSpan? pollInterval = null, int maxValues = DefaultMaxValues)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(everyTicks, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxValues, 1);
        _logger = logger;
        _everyTicks = everyTicks;
        _loopName = loopName;
        _pollInterval = pollInterval ?? DefaultPollInterval;
        if (_pollInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(pollInterval), _pollInterval, "the poll interval must be positive");
        }

        _maxValues = maxValues;
        Description = $"log every {_everyTicks} {(_everyTicks == 1 ? "tick" : "ticks")}";
    }

    public string Description { get; }

    public SinkCounters Counters { get; } = new();

    public void Open(FrameLayout layout)
    {
        _layout = layout;
        _slot = new byte[layout.TotalBytes];
        _snapshot = new byte[layout.TotalBytes];
        _thread = new Thread(RunLogger) { Name = _loopName is null ? "kairo-log" : $"kairo-log-{_loopName}", IsBackground = true };
        _thread.Start();
    }

    public void Write(in TickFrame tick, ReadOnlySpan<byte> outputs)
    {
        if (--_countdown >= 0)
        {
            return;
        }

        _countdown = _everyTicks - 1;
        var slot = _slot;
        Interlocked.Increment(ref _lock); // odd, with a full fence: the copy below cannot be seen before it
        outputs[..Math.Min(outputs.Length, slot.Length)].CopyTo(slot);
        _tick = tick.Sequence;
        _version = tick.ModelVersion;
        _flags = tick.Flags;
        Interlocked.Increment(ref _lock); // even: the frame above is complete
    }

    private void RunLogger()
    {
        while (!_stop.Wait(_pollInterval))
        {
            LogNewest();
        }

        LogNewest(); // the newest frame before the sink closes
    }

    /// <summary>Logs the slot's frame if it is new since the last line. Runs on the sink's thread only.</summary>
    internal void LogNewest()
    {
        for (int attempt = 0; attempt < 8; attempt++)
        {
            int before = Volatile.Read(ref _lock);
            if (before == _loggedLock)
            {
                return; // nothing new
            }

            if ((before & 1) != 0)
            {
                Thread.Yield(); // the loop thread is inside its copy, a matter of microseconds
                continue;
            }

            _slot.CopyTo(_snapshot, 0);
            ulong tick = _tick;
            long version = _version;
            FrameFlags flags = _flags;
            Interlocked.MemoryBarrier(); // the copy completes before the lock is read again
            if (Volatile.Read(ref _lock) != before)
            {
                continue; // overwritten during the copy: take the newer one
            }

            _loggedLock = before;
            Emit(tick, version, flags);
            return;
        }
    }

    private void Emit(ulong tick, long version, FrameFlags flags)
    {
        if (!_logger.IsEnabled(LogLevel.Information))
        {
            return;
        }

        _text.Clear();
        AppendOutputs(_text, _layout!, _snapshot, _maxValues);
        string outputs = _text.ToString();
        try
        {
            string? emitted = flags switch
            {
                FrameFlags.None => null,
                FrameFlags.Safe => "safe",
                FrameFlags.Held => "held",
                _ => flags.ToString().ToLowerInvariant(),
            };
            if (_loopName is null)
            {
                if (emitted is null)
                {
                    LogTick(_logger, tick, version, outputs);
                }
                else
                {
                    LogTickEmitted(_logger, tick, version, emitted, outputs);
                }
            }
            else if (emitted is null)
            {
                LogLoopTick(_logger, _loopName, tick, version, outputs);
            }
            else
            {
                LogLoopTickEmitted(_logger, _loopName, tick, version, emitted, outputs);
            }

            Counters.CountWritten();
        }
        catch (Exception)
        {
            // A logger that throws loses a line, never the sink's thread.
            Counters.CountFailed();
        }
    }

    /// <summary><c>name=[v0, v1, ...]</c> for each tensor of the frame, separated by <c>"; "</c>; long tensors abbreviated.</summary>
    internal static void AppendOutputs(StringBuilder text, FrameLayout layout, ReadOnlySpan<byte> frame, int maxValues)
    {
        for (int s = 0; s < layout.Slots.Count; s++)
        {
            var slot = layout.Slots[s];
            if (s > 0)
            {
                text.Append("; ");
            }

            text.Append(slot.Name).Append('=');
            var bytes = frame.Slice(slot.Offset, slot.Length);
            long count = slot.ElementCount;
            if (slot.Shape.Length == 0)
            {
                AppendElement(text, slot.ElementType, bytes, 0); // a scalar
                continue;
            }

            text.Append('[');
            long shown = Math.Min(count, maxValues);
            for (long i = 0; i < shown; i++)
            {
                if (i > 0)
                {
                    text.Append(", ");
                }

                AppendElement(text, slot.ElementType, bytes, i);
            }

            if (shown < count)
            {
                text.Append(CultureInfo.InvariantCulture, $", ... ({count} values)");
            }

            text.Append(']');
        }
    }

    internal static string FormatOutputs(FrameLayout layout, ReadOnlySpan<byte> frame, int maxValues = DefaultMaxValues)
    {
        var text = new StringBuilder();
        AppendOutputs(text, layout, frame, maxValues);
        return text.ToString();
    }

    /// <summary>One element, as its type reads best: 4 significant digits for float, 6 for double, 3 for the 16-bit floats.</summary>
    private static void AppendElement(StringBuilder text, TensorElementType type, ReadOnlySpan<byte> bytes, long index)
    {
        var invariant = CultureInfo.InvariantCulture;
        int i = (int)index;
        switch (type)
        {
            case TensorElementType.Float: text.Append(BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]).ToString("G4", invariant)); break;
            case TensorElementType.Double: text.Append(BinaryPrimitives.ReadDoubleLittleEndian(bytes[(i * 8)..]).ToString("G6", invariant)); break;
            case TensorElementType.Float16: text.Append(((float)BinaryPrimitives.ReadHalfLittleEndian(bytes[(i * 2)..])).ToString("G3", invariant)); break;
            case TensorElementType.BFloat16: text.Append(((float)BFloat16.FromBits(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 2)..]))).ToString("G3", invariant)); break;
            case TensorElementType.Int8: text.Append((sbyte)bytes[i]); break;
            case TensorElementType.UInt8: text.Append(bytes[i]); break;
            case TensorElementType.Int16: text.Append(BinaryPrimitives.ReadInt16LittleEndian(bytes[(i * 2)..])); break;
            case TensorElementType.UInt16: text.Append(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 2)..])); break;
            case TensorElementType.Int32: text.Append(BinaryPrimitives.ReadInt32LittleEndian(bytes[(i * 4)..])); break;
            case TensorElementType.UInt32: text.Append(BinaryPrimitives.ReadUInt32LittleEndian(bytes[(i * 4)..])); break;
            case TensorElementType.Int64: text.Append(BinaryPrimitives.ReadInt64LittleEndian(bytes[(i * 8)..])); break;
            case TensorElementType.UInt64: text.Append(BinaryPrimitives.ReadUInt64LittleEndian(bytes[(i * 8)..])); break;
            case TensorElementType.Bool: text.Append(bytes[i] != 0 ? "true" : "false"); break;
            case TensorElementType.Complex64:
                AppendComplex(text, BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 8)..]), BinaryPrimitives.ReadSingleLittleEndian(bytes[((i * 8) + 4)..]), "G4");
                break;
            case TensorElementType.Complex128:
                AppendComplex(text, BinaryPrimitives.ReadDoubleLittleEndian(bytes[(i * 16)..]), BinaryPrimitives.ReadDoubleLittleEndian(bytes[((i * 16) + 8)..]), "G6");
                break;
            case TensorElementType.UInt4:
                text.Append(Nibble(bytes, i));
                break;
            case TensorElementType.Int4:
                text.Append((Nibble(bytes, i) ^ 8) - 8); // sign-extend the 4-bit two's complement value
                break;
            case TensorElementType.Float4E2M1:
                text.Append(CultureInfo.InvariantCulture, $"0x{Nibble(bytes, i):X1}");
                break;
            default:
                // The 8-bit floats: their raw bits, which is how their producers and consumers talk about them.
                text.Append(CultureInfo.InvariantCulture, $"0x{bytes[i]:X2}");
                break;
        }
    }

    private static int Nibble(ReadOnlySpan<byte> bytes, int index) => (index & 1) == 0 ? bytes[index / 2] & 0xF : bytes[index / 2] >> 4;

    private static void AppendComplex(StringBuilder text, double real, double imaginary, string format)
    {
        var invariant = CultureInfo.InvariantCulture;
        text.Append(real.ToString(format, invariant));
        if (imaginary >= 0 || double.IsNaN(imaginary))
        {
            text.Append('+');
        }

        text.Append(imaginary.ToString(format, invariant)).Append('i');
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "loop {Loop} tick {Tick} v{Version}: {Outputs}")]
    private static partial void LogLoopTick(ILogger logger, string loop, ulong tick, long version, string outputs);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "loop {Loop} tick {Tick} v{Version} ({Emitted}): {Outputs}")]
    private static partial void LogLoopTickEmitted(ILogger logger, string loop, ulong tick, long version, string emitted, string outputs);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "tick {Tick} v{Version}: {Outputs}")]
    private static partial void LogTick(ILogger logger, ulong tick, long version, string outputs);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "tick {Tick} v{Version} ({Emitted}): {Outputs}")]
    private static partial void LogTickEmitted(ILogger logger, ulong tick, long version, string emitted, string outputs);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _stop.Set();
        _thread?.Join();
        _thread = null;
        _stop.Dispose();
    }
}
