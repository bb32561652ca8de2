using System.Runtime.InteropServices;
using Kairo.Onnx;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Interop;
using Kairo.Runtime.Sinks;
using Kairo.Runtime.Sources;

namespace Kairo.Runtime.Loops;

public enum LoopState
{
    Stopped,
    Running,
    Stopping,
}

/// <summary>
/// One model bound to one source and its sinks, run at a fixed rate on a dedicated thread against absolute
/// deadlines. The loop thread allocates nothing, formats nothing and waits on nothing but its next deadline; other
/// threads reach it through atomics: the rate, the safe-output override, the stop flag and the next model.
/// </summary>
public sealed partial class ControlLoop : IDisposable
{
    private readonly LoopOptions _options;
    private readonly IFrameSource _source;
    private readonly IFrameSink[] _sinks;
    private readonly LoopBuffers _buffers;
    private readonly RunOptions _runOptions = new();
    private readonly object _lifecycle = new();
    private readonly List<string> _warnings = [];

    private ModelInstance _current;
    private ModelInstance? _pending;
    private ModelInstance? _retired;
    private ManualResetEventSlim? _swapped;
    private Thread? _thread;
    private long _periodNanoseconds;
    private long _deadlineNanoseconds;
    private volatile bool _stopRequested;
    private volatile bool _safeOverride;
    private volatile LoopState _state;
    private ulong _tick;
    private long _idleUntil = long.MaxValue;

    /// <summary>Sets up a loop on a loaded model: allocates its buffers, opens the source and sinks.</summary>
    public ControlLoop(LoopOptions options, ModelInstance model, IFrameSource source, IReadOnlyList<IFrameSink> sinks)
    {
        _options = options;
        _current = model;
        _source = source;
        _sinks = sinks.ToArray();
        SetRate(options.RateHz);
        _buffers = new LoopBuffers(model.Layout, options.SafeOutputs);
        try
        {
            model.Bind(_buffers);
            source.Open(model.Layout.Input);
            foreach (var sink in _sinks)
            {
                sink.Open(model.Layout.Output);
            }
        }
        catch
        {
            _buffers.Dispose();
            throw;
        }
    }

    public string Name => _options.Name;

    public LoopOptions Options => _options;

    public LoopLayout Layout => _current.Layout;

    public LoopMetrics Metrics { get; } = new();

    public LoopState State => _state;

    public IFrameSource Source => _source;

    public IReadOnlyList<IFrameSink> Sinks => _sinks;

    /// <summary>The model the loop runs now.</summary>
    public ModelInstance Model => Volatile.Read(ref _current);

    public double RateHz => 1e9 / Volatile.Read(ref _periodNanoseconds);

    /// <summary>
    /// CLOCK_MONOTONIC nanoseconds until which the loop sleeps: the release of its next tick, written as each tick
    /// ends, so a time before it means the loop is idle until then, and a time past it that a tick runs.
    /// <see cref="long.MaxValue"/> while the loop is not running. What <see cref="CollectionPacer"/> schedules by.
    /// </summary>
    public long IdleUntilNanoseconds => Volatile.Read(ref _idleUntil);

    /// <summary>Warnings from the last start: scheduling or affinity the system refused.</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>True while every tick emits the safe output (an emergency stop, or an operator's hold).</summary>
    public bool SafeOverride => _safeOverride;

    /// <summary>Changes the rate from the next tick on; the deadline follows the period unless one is configured.</summary>
    public void SetRate(double hz)
    {
        if (!(hz > 0) || hz > 100_000)
        {
            throw new ArgumentOutOfRangeException(nameof(hz), hz, "the rate must be above 0 and at most 100000 Hz");
        }

        long period = (long)Math.Round(1e9 / hz);
        long deadline = _options.Deadline is { } d ? Math.Min((long)d.TotalNanoseconds, period) : period;
        Volatile.Write(ref _deadlineNanoseconds, deadline);
        Volatile.Write(ref _periodNanoseconds, period);
    }

    /// <summary>Forces every tick to the safe output until released; takes effect at the next tick.</summary>
    public void SetSafeOverride(bool on) => _safeOverride = on;

    /// <summary>Starts the loop thread and returns once it has applied its scheduling settings.</summary>
    public void Start()
    {
        lock (_lifecycle)
        {
            if (_thread != null)
            {
                return;
            }

            _stopRequested = false;
            _warnings.Clear();
            using var ready = new ManualResetEventSlim();
            _thread = new Thread(() => Run(ready)) { Name = $"kairo-{Name}", IsBackground = true };
            _state = LoopState.Running;
            _thread.Start();
            ready.Wait();
        }
    }

    /// <summary>Stops the loop after its current tick; the last thing it emits is the safe output.</summary>
    public void Stop()
    {
        Thread? thread;
        lock (_lifecycle)
        {
            thread = _thread;
            if (thread == null)
            {
                return;
            }

            _state = LoopState.Stopping;
            _stopRequested = true;
            _runOptions.Terminate(); // a long inference in progress ends now
        }

        thread.Join();
        lock (_lifecycle)
        {
            _runOptions.Reset();
            _thread = null;
            _state = LoopState.Stopped;
        }
    }

    /// <summary>
    /// Swaps in a model that was loaded against this loop's layout. The loop adopts it between two ticks; the
    /// returned instance is the one it ran before, for the caller to keep (rollback) or dispose.
    /// </summary>
    public ModelInstance Swap(ModelInstance next, TimeSpan timeout)
    {
        if (Layout.Mismatch(next.Session) is { } mismatch)
        {
            throw new LoopConfigurationException($"model {next.Name} does not fit loop {Name}: {mismatch}");
        }

        lock (_lifecycle)
        {
            next.Bind(_buffers);
            if (_thread == null)
            {
                var previous = _current;
                Volatile.Write(ref _current, next);
                Metrics.CountSwap();
                return previous;
            }

            using var swapped = new ManualResetEventSlim();
            Volatile.Write(ref _swapped, swapped);
            Volatile.Write(ref _pending, next);
            if (!swapped.Wait(timeout))
            {
                if (Interlocked.CompareExchange(ref _pending, null, next) == next)
                {
                    Volatile.Write(ref _swapped, null);
                    throw new TimeoutException($"loop {Name} did not reach a tick boundary within {timeout.TotalMilliseconds} ms");
                }

                swapped.Wait(); // adopted just now
            }

            Volatile.Write(ref _swapped, null);
            var retired = _retired!;
            _retired = null;
            return retired;
        }
    }

    private void Run(ManualResetEventSlim ready)
    {
        try
        {
            ApplySchedulingSettings();
        }
        finally
        {
            ready.Set();
        }

        RunTicks();
    }

    private unsafe void ApplySchedulingSettings()
    {
        if (_options.CpuAffinity.Count > 0)
        {
            ulong* mask = stackalloc ulong[16];
            new Span<ulong>(mask, 16).Clear();
            foreach (int cpu in _options.CpuAffinity)
            {
                if (cpu is >= 0 and < 1024)
                {
                    mask[cpu / 64] |= 1UL << (cpu % 64);
                }
            }

            if (Libc.SchedSetAffinity(0, 16 * sizeof(ulong), mask) != 0)
            {
                _warnings.Add($"loop {Name}: CPU affinity [{string.Join(',', _options.CpuAffinity)}] refused ({Marshal.GetLastPInvokeErrorMessage()}); running on any CPU");
            }
        }

        if (_options.Priority is int priority)
        {
            if (RealTime.TrySetFifo(priority) is { } refused)
            {
                _warnings.Add($"loop {Name}: SCHED_FIFO priority {priority} not permitted ({refused}); running with normal scheduling. Grant CAP_SYS_NICE or LimitRTPRIO in the unit to enable it");
            }
        }
    }

    public void Dispose()
    {
        Stop();
        _source.Dispose();
        foreach (var sink in _sinks)
        {
            sink.Dispose();
        }

        _current.Dispose();
        _buffers.Dispose();
        _runOptions.Dispose();
    }
}
