namespace Kairo.Runtime.Loops;

/// <summary>Settings of a <see cref="CollectionPacer"/>.</summary>
public sealed record CollectionPacerOptions
{
    /// <summary>Bytes the process may allocate before the pacer collects; lowered to half of any budget the runtime shows.</summary>
    public long ThresholdBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>SCHED_FIFO priority of the pacer's thread (1, below every loop, above every normal thread), or null: normal.</summary>
    public int? Priority { get; init; }

    /// <summary>How often the pacer looks at the allocation count.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>How long the pacer waits for a window long enough; after that it takes the next moment every loop is idle.</summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromMilliseconds(100);
}

/// <summary>
/// Runs the process's garbage collections in the loops' idle time. A collection pauses every managed thread, and a
/// loop thread that wakes during one waits for its end. Loop threads allocate nothing, but the rest of the process
/// (requests, telemetry, updates) does, and left alone the runtime collects whenever an allocation crosses its
/// budget: at any moment, on whichever thread allocated, at that thread's priority, so on a busy machine a
/// sub-millisecond collection can stretch to several milliseconds and over a loop's release.
/// <para>
/// The pacer collects first: once the process has allocated <see cref="CollectionPacerOptions.ThresholdBytes"/>
/// (well under the runtime's budget) it waits for a moment when every running loop has just ended a tick and sleeps
/// for longer than a collection takes (<see cref="ControlLoop.IdleUntilNanoseconds"/>), then collects the youngest
/// generation on its own thread, at SCHED_FIFO priority 1 when loops run at SCHED_FIFO: above every normal thread,
/// so nothing but the loops delays it. Collections the runtime starts itself are counted as unpaced, and teach the
/// pacer a lower threshold. The pacer allocates nothing while it runs.
/// </para>
/// </summary>
public sealed class CollectionPacer : IDisposable
{
    private const long MinimumWindowNanoseconds = 500_000;
    private const long RecheckNanoseconds = 50_000;
    private const long MinimumThresholdBytes = 256 * 1024;

    private readonly Func<IReadOnlyList<ControlLoop>> _loops;
    private readonly CollectionPacerOptions _options;
    private readonly List<string> _warnings = [];
    private readonly ManualResetEventSlim _stopped = new();
    private Thread? _thread;
    private volatile bool _stopRequested;
    private long _threshold;
    private long _paced;
    private long _unpaced;
    private long _lastPause;
    private long _maxPause;
    private long _typicalPause;
    private long _late;

    /// <param name="loops">The loops to keep collections away from, read again before every collection.</param>
    public CollectionPacer(Func<IReadOnlyList<ControlLoop>> loops, CollectionPacerOptions? options = null)
    {
        _loops = loops;
        _options = options ?? new CollectionPacerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.ThresholdBytes, MinimumThresholdBytes, nameof(CollectionPacerOptions.ThresholdBytes));
        _threshold = _options.ThresholdBytes;
    }

    /// <summary>Collections the pacer ran.</summary>
    public long Paced => Interlocked.Read(ref _paced);

    /// <summary>Collections the runtime started itself (an allocation crossed its budget first) since the pacer started.</summary>
    public long Unpaced => Interlocked.Read(ref _unpaced);

    /// <summary>Paced collections that found no long enough window within <see cref="CollectionPacerOptions.MaxWait"/>.</summary>
    public long Late => Interlocked.Read(ref _late);

    /// <summary>The pause of the latest paced collection, and the longest, in nanoseconds (as the pacer's thread saw them).</summary>
    public long LastPauseNanoseconds => Interlocked.Read(ref _lastPause);

    public long MaxPauseNanoseconds => Interlocked.Read(ref _maxPause);

    /// <summary>The allocation threshold now (it only goes down, when the runtime collects first).</summary>
    public long ThresholdBytes => Interlocked.Read(ref _threshold);

    /// <summary>What the pacer's thread could not get (SCHED_FIFO refused), once it has started.</summary>
    public IReadOnlyList<string> Warnings
    {
        get
        {
            lock (_warnings)
            {
                return _warnings.ToArray();
            }
        }
    }

    public void Start()
    {
        if (_thread != null)
        {
            throw new InvalidOperationException("the collection pacer has started already");
        }

        using var ready = new ManualResetEventSlim();
        _thread = new Thread(() => Run(ready)) { Name = "kairo-gc-pacer", IsBackground = true };
        _thread.Start();
        ready.Wait();
    }

    public void Dispose()
    {
        _stopRequested = true;
        if (_thread != null)
        {
            _stopped.Wait(TimeSpan.FromSeconds(2));
        }

        _stopped.Dispose();
    }

    private void Run(ManualResetEventSlim ready)
    {
        try
        {
            if (_options.Priority is int priority)
            {
                if (RealTime.TrySetFifo(priority) is { } refused)
                {
                    lock (_warnings)
                    {
                        _warnings.Add($"collection pacer: SCHED_FIFO priority {priority} not permitted ({refused}); collecting at normal priority");
                    }
                }
            }
        }
        finally
        {
            ready.Set();
        }

        try
        {
            Pace();
        }
        finally
        {
            _stopped.Set();
        }
    }

    private void Pace()
    {
        long poll = (long)(_options.PollInterval.TotalMilliseconds * 1_000_000);
        long maxWait = (long)(_options.MaxWait.TotalMilliseconds * 1_000_000);
        int collections = GC.CollectionCount(0);
        long allocatedThen = GC.GetTotalAllocatedBytes(precise: false);
        while (!_stopRequested)
        {
            MonotonicClock.SleepUntil(MonotonicClock.NowNanoseconds() + poll);
            long allocated = GC.GetTotalAllocatedBytes(precise: false);
            int now = GC.CollectionCount(0);
            if (now != collections)
            {
                // The runtime collected first: its budget is what was allocated since; stay well under it.
                Interlocked.Add(ref _unpaced, now - collections);
                long budget = allocated - allocatedThen;
                if (budget / 2 < Interlocked.Read(ref _threshold))
                {
                    Interlocked.Exchange(ref _threshold, Math.Max(MinimumThresholdBytes, budget / 2));
                }

                collections = now;
                allocatedThen = allocated;
                continue;
            }

            if (allocated - allocatedThen < Interlocked.Read(ref _threshold))
            {
                continue;
            }

            if (!WaitForWindow(maxWait))
            {
                break;
            }

            long started = MonotonicClock.NowNanoseconds();
            GC.Collect(0, GCCollectionMode.Forced, blocking: true, compacting: false);
            long pause = MonotonicClock.NowNanoseconds() - started;
            Interlocked.Exchange(ref _lastPause, pause);
            _typicalPause = _typicalPause == 0 ? pause : _typicalPause + ((pause - _typicalPause) / 8); // one stretched pause barely moves it
            if (pause > Interlocked.Read(ref _maxPause))
            {
                Interlocked.Exchange(ref _maxPause, pause);
            }

            Interlocked.Increment(ref _paced);
            collections = GC.CollectionCount(0);
            allocatedThen = GC.GetTotalAllocatedBytes(precise: false);
        }
    }

    /// <summary>
    /// Waits until every running loop is idle for longer than a collection takes (twice the running average of the
    /// pauses, at least 0.5 ms), or, after <paramref name="maxWait"/>, until a loop has just ended a tick. False when
    /// stopping.
    /// </summary>
    private bool WaitForWindow(long maxWait)
    {
        long window = Math.Max(MinimumWindowNanoseconds, 2 * _typicalPause);
        long giveUp = MonotonicClock.NowNanoseconds() + maxWait;
        bool late = false, ticking = false;
        while (!_stopRequested)
        {
            long now = MonotonicClock.NowNanoseconds();
            long idle = IdleFor(now);

            // Late, the best moment left is the one right after a tick, when the loop that ticked is idle longest.
            if (idle >= window || (late && ticking && idle > 0))
            {
                return true;
            }

            ticking = idle <= 0;

            if (!late && now >= giveUp)
            {
                late = true;
                Interlocked.Increment(ref _late);
                continue;
            }

            // A loop ticks now or soon: look again just after its release, by when its tick has usually ended.
            long until = idle > 0 ? now + idle + RecheckNanoseconds : now + RecheckNanoseconds;
            MonotonicClock.SleepUntil(until);
        }

        return false;
    }

    /// <summary>How long every running loop stays idle from <paramref name="now"/>: negative when one is ticking.</summary>
    private long IdleFor(long now)
    {
        long idle = long.MaxValue;
        var loops = _loops();
        for (int i = 0; i < loops.Count; i++)
        {
            long until = loops[i].IdleUntilNanoseconds;
            if (until != long.MaxValue)
            {
                idle = Math.Min(idle, until - now);
            }
        }

        return idle;
    }
}
