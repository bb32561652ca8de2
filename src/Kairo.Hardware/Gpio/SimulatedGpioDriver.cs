using System.Diagnostics;
using Kairo.Hardware.Interop;

namespace Kairo.Hardware.Gpio;

/// <summary>One electrical level a simulated output line took, and when (monotonic nanoseconds).</summary>
public readonly record struct GpioLevelChange(long TimestampNanoseconds, bool Level);

/// <summary>
/// A GPIO chip in memory, for tests and for boards without GPIO (<c>"chip": "simulated"</c>). It keeps the kernel's
/// semantics that Kairo relies on: active-low inverts reads, writes and edges; bias decides what an undriven input
/// reads; a line is requested once; each edge-event line queues at most 16 edges and drops the rest, as the kernel
/// does. Tests drive the wires with <see cref="SetInput"/> and watch the outputs with <see cref="GetOutput"/>,
/// <see cref="GetOutputHistory"/> and <see cref="WaitForOutputChanges"/>; <see cref="InjectFault"/> makes a line fail.
/// </summary>
public sealed class SimulatedGpioDriver : IGpioDriver
{
    /// <summary>How many edges a line queues before it drops new ones (the kernel's v1 event FIFO holds 16).</summary>
    public const int EdgeQueueCapacity = 16;

    /// <summary>How many level changes each output keeps for <see cref="GetOutputHistory"/>; a heartbeat on a simulated chip runs for as long as the daemon does.</summary>
    public const int HistoryCapacity = 1024;

    private readonly object _gate = new();
    private readonly SimLine[] _lines;
    private bool _disposed;

    public SimulatedGpioDriver(int lineCount = 64, string chipName = IGpioDriver.SimulatedChip)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lineCount);
        ArgumentException.ThrowIfNullOrEmpty(chipName);
        ChipName = chipName;
        _lines = new SimLine[lineCount];
        for (int i = 0; i < lineCount; i++)
        {
            _lines[i] = new SimLine();
        }
    }

    public string ChipName { get; }

    public int LineCount => _lines.Length;

    public void RequestInput(int line, bool activeLow = false, GpioBias bias = GpioBias.AsIs) =>
        Request(line, GpioLineMode.Input, activeLow, bias, initialValue: false);

    public void RequestEdgeEvents(int line, bool activeLow = false, GpioBias bias = GpioBias.AsIs) =>
        Request(line, GpioLineMode.EdgeEvents, activeLow, bias, initialValue: false);

    public void RequestOutput(int line, bool initialValue = false, bool activeLow = false) =>
        Request(line, GpioLineMode.Output, activeLow, GpioBias.AsIs, initialValue);

    public bool Read(int line)
    {
        lock (_gate)
        {
            SimLine l = Use(line);
            if (l.Mode == GpioLineMode.Free)
            {
                GpioErrors.ThrowWrongMode(ChipName, line, l.Mode, "a requested line");
            }

            return (l.Mode == GpioLineMode.Output ? l.OutputLevel : l.InputLevel) ^ l.ActiveLow;
        }
    }

    public void Write(int line, bool value)
    {
        lock (_gate)
        {
            SimLine l = Use(line);
            if (l.Mode != GpioLineMode.Output)
            {
                GpioErrors.ThrowWrongMode(ChipName, line, l.Mode, "an output");
            }

            Drive(l, value ^ l.ActiveLow);
        }
    }

    public bool WaitForEdge(int line, TimeSpan timeout, out GpioEdgeEvent edge)
    {
        TimeSpan limit = TimeSpan.FromTicks(GpioErrors.TimeoutNanoseconds(timeout) / 100);
        long start = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            while (true)
            {
                SimLine l = Use(line);
                if (l.Mode != GpioLineMode.EdgeEvents)
                {
                    GpioErrors.ThrowWrongMode(ChipName, line, l.Mode, "an edge-event input");
                }

                if (l.Edges.Count > 0)
                {
                    edge = l.Edges.Dequeue();
                    return true;
                }

                TimeSpan remaining = limit - Stopwatch.GetElapsedTime(start);
                if (remaining <= TimeSpan.Zero)
                {
                    edge = default;
                    return false;
                }

                // Woken by SetInput, InjectFault, Release and Dispose; each pass re-checks all of them.
                Monitor.Wait(_gate, remaining);
            }
        }
    }

    public void Release(int line)
    {
        lock (_gate)
        {
            SimLine l = Line(line);
            l.Mode = GpioLineMode.Free;
            l.Edges.Clear();
            Monitor.PulseAll(_gate);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            foreach (SimLine l in _lines)
            {
                l.Mode = GpioLineMode.Free;
                l.Edges.Clear();
            }

            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>
    /// Drives the wire of an input line to an electrical level. A line requested for edge events queues an edge when
    /// its logical value changes; a line not yet requested keeps the level for when it is.
    /// </summary>
    public void SetInput(int line, bool level)
    {
        lock (_gate)
        {
            SimLine l = Line(line);
            if (l.Mode == GpioLineMode.Output)
            {
                throw new InvalidOperationException($"GPIO line {line} of {ChipName} is an output; SetInput drives inputs");
            }

            bool before = l.InputLevel;
            l.InputLevel = level;
            l.InputDriven = true;
            if (l.Mode == GpioLineMode.EdgeEvents && before != level)
            {
                bool active = level ^ l.ActiveLow;
                if (l.Edges.Count < EdgeQueueCapacity)
                {
                    l.Edges.Enqueue(new GpioEdgeEvent(active ? GpioEdge.Rising : GpioEdge.Falling, NowNanoseconds()));
                }

                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>The electrical level an output line drives (what a meter on the pin shows; low until first driven).</summary>
    public bool GetOutput(int line)
    {
        lock (_gate)
        {
            return Line(line).OutputLevel;
        }
    }

    /// <summary>How many times the line's electrical output level has changed.</summary>
    public int GetOutputChangeCount(int line)
    {
        lock (_gate)
        {
            return Line(line).Changes;
        }
    }

    /// <summary>The line's electrical level changes, oldest first: all of them, or the last <see cref="HistoryCapacity"/>.</summary>
    public IReadOnlyList<GpioLevelChange> GetOutputHistory(int line)
    {
        lock (_gate)
        {
            return Line(line).History.ToArray();
        }
    }

    /// <summary>Waits until the line's output has changed at least <paramref name="count"/> times in all; false on timeout.</summary>
    public bool WaitForOutputChanges(int line, int count, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_gate)
        {
            while (Line(line).Changes < count)
            {
                long remaining = deadline - Environment.TickCount64;
                if (remaining <= 0)
                {
                    return false;
                }

                Monitor.Wait(_gate, TimeSpan.FromMilliseconds(remaining));
            }

            return true;
        }
    }

    /// <summary>Whether the line is currently requested (by anyone in this process).</summary>
    public bool IsRequested(int line)
    {
        lock (_gate)
        {
            return Line(line).Mode != GpioLineMode.Free;
        }
    }

    /// <summary>
    /// Makes every operation on the line but <see cref="Release"/> fail with <paramref name="errorCode"/> (EIO by
    /// default) until <see cref="ClearFault"/>, as a line on a vanished or broken chip would; waiters wake and throw.
    /// </summary>
    public void InjectFault(int line, int errorCode = Libc.EIO)
    {
        lock (_gate)
        {
            Line(line).Fault = errorCode;
            Monitor.PulseAll(_gate);
        }
    }

    public void ClearFault(int line)
    {
        lock (_gate)
        {
            Line(line).Fault = 0;
        }
    }

    private void Request(int line, GpioLineMode mode, bool activeLow, GpioBias bias, bool initialValue)
    {
        lock (_gate)
        {
            SimLine l = Use(line);
            if (l.Mode != GpioLineMode.Free)
            {
                GpioErrors.ThrowAlreadyRequested(ChipName, line, l.Mode);
            }

            l.Mode = mode;
            l.ActiveLow = activeLow;
            l.Edges.Clear();
            if (mode == GpioLineMode.Output)
            {
                Drive(l, initialValue ^ activeLow);
            }
            else if (!l.InputDriven)
            {
                // Nothing drives the wire: the pull resistor decides, and a floating line reads low here.
                l.InputLevel = bias == GpioBias.PullUp;
            }
        }
    }

    private void Drive(SimLine l, bool level)
    {
        if (l.OutputLevel != level)
        {
            l.OutputLevel = level;
            l.Changes++;
            if (l.History.Count == HistoryCapacity)
            {
                l.History.Dequeue();
            }

            l.History.Enqueue(new GpioLevelChange(NowNanoseconds(), level));
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>The line for an operation a fault or a closed chip makes fail. Called with the gate held.</summary>
    private SimLine Use(int line)
    {
        SimLine l = Line(line);
        if (_disposed)
        {
            throw new ObjectDisposedException(nameof(SimulatedGpioDriver));
        }

        if (l.Fault != 0)
        {
            throw GpioErrors.Native(l.Fault, $"GPIO line {line} of {ChipName}");
        }

        return l;
    }

    private SimLine Line(int line)
    {
        if ((uint)line >= (uint)_lines.Length)
        {
            GpioErrors.ThrowLineOutOfRange(ChipName, line, _lines.Length);
        }

        return _lines[line];
    }

    private static long NowNanoseconds() => (long)(Stopwatch.GetTimestamp() * (1e9 / Stopwatch.Frequency));

    private sealed class SimLine
    {
        public GpioLineMode Mode;
        public bool ActiveLow;
        public bool InputLevel;
        public bool InputDriven;
        public bool OutputLevel;
        public int Fault;
        public int Changes;
        public readonly Queue<GpioEdgeEvent> Edges = new(EdgeQueueCapacity);
        public readonly Queue<GpioLevelChange> History = new();
    }
}
