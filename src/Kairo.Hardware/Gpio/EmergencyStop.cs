using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kairo.Hardware.Gpio;

/// <summary>
/// Watches an emergency-stop input on its own thread and reports when it engages and releases.
/// </summary>
/// <remarks>
/// <para>
/// The thread blocks in an edge wait; it does not poll. Debounce rule: after an edge, the line must go
/// <see cref="EmergencyStopOptions.Debounce"/> without another edge, and the level read at that moment is the one that
/// counts. A glitch shorter than the debounce time therefore changes nothing (its second edge restarts the quiet
/// period and the read finds the old level), and a level held longer counts after exactly the debounce time. Time is
/// the monotonic clock at which the monitor sees each edge, not the event's kernel timestamp, whose clock differs
/// between kernel versions.
/// </para>
/// <para>
/// Fail safe: anything that keeps the monitor from knowing the line's level counts as engaged. A driver failure at
/// <see cref="Start"/> or later engages (logged as an error), and the line is requested again every
/// <see cref="EmergencyStopOptions.RetryInterval"/>; it releases only once the line has read released for the debounce
/// time. A line that bounces for longer than <see cref="EmergencyStopOptions.ChatterLimit"/> engages too.
/// </para>
/// <para>
/// <see cref="Changed"/> is raised once from <see cref="Start"/> with the initial state, then from the monitor thread at
/// every change, never concurrently, in order, and never on a control-loop thread. <see cref="IsEngaged"/> already has
/// the new value when a handler runs.
/// </para>
/// </remarks>
public sealed partial class EmergencyStop : IDisposable
{
    private const int NotStarted = 0;
    private const int Running = 1;
    private const int Stopped = 2;

    private readonly IGpioDriver _driver;
    private readonly EmergencyStopOptions _options;
    private readonly ILogger _logger;
    private readonly ManualResetEventSlim _stop = new(false);
    private Thread? _thread;
    private int _state;
    private volatile bool _engaged;
    private volatile bool _faulted;
    private volatile bool _stopping;
    private bool _lineHeld;

    public EmergencyStop(IGpioDriver driver, EmergencyStopOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Debounce, TimeSpan.Zero, "options.Debounce");
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.RecheckInterval, TimeSpan.Zero, "options.RecheckInterval");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ChatterLimit, options.Debounce, "options.ChatterLimit");
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.RetryInterval, TimeSpan.Zero, "options.RetryInterval");
        _driver = driver;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>
    /// The stop's state: true from the moment it engages (or the line fails) until it has read released for the
    /// debounce time. False before <see cref="Start"/>.
    /// </summary>
    public bool IsEngaged => _engaged;

    /// <summary>True while the line cannot be read (the stop is engaged meanwhile).</summary>
    public bool IsFaulted => _faulted;

    /// <summary>The watched line's offset.</summary>
    public int Line => _options.Line;

    /// <summary>The state after each change (true = engaged), and the initial state once from <see cref="Start"/>.</summary>
    public event Action<bool>? Changed;

    /// <summary>
    /// Requests the line, reads and reports its initial state through <see cref="Changed"/>, and starts the monitor
    /// thread. Driver failures do not throw: they engage the stop, and the monitor keeps trying.
    /// </summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_state == Stopped, this);
        if (Interlocked.CompareExchange(ref _state, Running, NotStarted) != NotStarted)
        {
            throw new InvalidOperationException("The emergency stop monitor is already running.");
        }

        bool engaged;
        try
        {
            Acquire();
            engaged = _driver.Read(_options.Line);
        }
        catch (Exception e)
        {
            RecordFault(e);
            engaged = true;
        }

        _engaged = engaged;
        if (engaged && !_faulted)
        {
            Log.Engaged(_logger, _options.Line, _driver.ChipName);
        }

        Raise(engaged);
        _thread = new Thread(Run) { IsBackground = true, Name = "kairo-estop" };
        _thread.Start();
    }

    /// <summary>Stops the monitor thread (within about one recheck interval) and releases the line. <see cref="IsEngaged"/> keeps its last value.</summary>
    public void Stop()
    {
        if (Interlocked.Exchange(ref _state, Stopped) != Running)
        {
            return;
        }

        _stopping = true;
        _stop.Set();
        _thread?.Join();
        ReleaseLine();
    }

    public void Dispose()
    {
        Stop();
        _stop.Dispose();
    }

    private void Run()
    {
        while (!_stopping)
        {
            try
            {
                if (!_lineHeld)
                {
                    if (_stop.Wait(_options.RetryInterval))
                    {
                        break;
                    }

                    Acquire();
                    _faulted = false;
                    Log.Recovered(_logger, _options.Line, _driver.ChipName);
                    Settle(); // the line may have changed while it could not be read
                    continue;
                }

                if (!_driver.WaitForEdge(_options.Line, _options.RecheckInterval, out _)
                    && _driver.Read(_options.Line) == _engaged)
                {
                    continue;
                }

                Settle();
            }
            catch (Exception e)
            {
                if (_stopping)
                {
                    break;
                }

                RecordFault(e);
                ReleaseLine();
                Publish(true);
            }
        }
    }

    /// <summary>Waits for the debounce time without an edge, then lets the level read at that moment count.</summary>
    private void Settle()
    {
        long settleStart = Stopwatch.GetTimestamp();
        long quietSince = settleStart;
        bool chattering = false;
        while (!_stopping)
        {
            TimeSpan remaining = _options.Debounce - Stopwatch.GetElapsedTime(quietSince);
            if (remaining <= TimeSpan.Zero)
            {
                break;
            }

            if (_driver.WaitForEdge(_options.Line, remaining, out _))
            {
                quietSince = Stopwatch.GetTimestamp();
                if (!chattering && Stopwatch.GetElapsedTime(settleStart) > _options.ChatterLimit)
                {
                    chattering = true;
                    Log.Chattering(_logger, _options.Line, _driver.ChipName, _options.ChatterLimit.TotalMilliseconds);
                    Publish(true);
                }
            }
        }

        if (!_stopping)
        {
            Publish(_driver.Read(_options.Line));
        }
    }

    private void Acquire()
    {
        _driver.RequestEdgeEvents(_options.Line, activeLow: _options.ActiveLevel == GpioActiveLevel.Low, _options.Bias);
        _lineHeld = true;
    }

    private void ReleaseLine()
    {
        if (!_lineHeld)
        {
            return;
        }

        _lineHeld = false;
        try
        {
            _driver.Release(_options.Line);
        }
        catch (Exception e)
        {
            Log.ReleaseFailed(_logger, _options.Line, _driver.ChipName, e);
        }
    }

    private void RecordFault(Exception e)
    {
        if (_faulted)
        {
            Log.StillFailing(_logger, _options.Line, _driver.ChipName, e.Message);
        }
        else
        {
            _faulted = true;
            Log.Failed(_logger, _options.Line, _driver.ChipName, e);
        }
    }

    private void Publish(bool engaged)
    {
        if (engaged == _engaged)
        {
            return;
        }

        _engaged = engaged;
        if (engaged)
        {
            Log.Engaged(_logger, _options.Line, _driver.ChipName);
        }
        else
        {
            Log.Released(_logger, _options.Line, _driver.ChipName);
        }

        Raise(engaged);
    }

    private void Raise(bool engaged)
    {
        Action<bool>? handlers = Changed;
        if (handlers is null)
        {
            return;
        }

        // Each handler on its own: one that throws must not keep the stop from reaching the others.
        foreach (Delegate handler in handlers.GetInvocationList())
        {
            try
            {
                ((Action<bool>)handler)(engaged);
            }
            catch (Exception e)
            {
                Log.HandlerFailed(_logger, engaged, e);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "emergency stop engaged (line {Line} of {Chip})")]
        public static partial void Engaged(ILogger logger, int line, string chip);

        [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "emergency stop released (line {Line} of {Chip})")]
        public static partial void Released(ILogger logger, int line, string chip);

        [LoggerMessage(EventId = 402, Level = LogLevel.Error, Message = "emergency stop line {Line} of {Chip} failed; the stop counts as engaged until the line reads released again")]
        public static partial void Failed(ILogger logger, int line, string chip, Exception exception);

        [LoggerMessage(EventId = 403, Level = LogLevel.Debug, Message = "emergency stop line {Line} of {Chip} still fails: {Error}")]
        public static partial void StillFailing(ILogger logger, int line, string chip, string error);

        [LoggerMessage(EventId = 404, Level = LogLevel.Information, Message = "emergency stop line {Line} of {Chip} can be read again")]
        public static partial void Recovered(ILogger logger, int line, string chip);

        [LoggerMessage(EventId = 405, Level = LogLevel.Warning, Message = "emergency stop line {Line} of {Chip} has bounced for over {Limit} ms without settling; engaging")]
        public static partial void Chattering(ILogger logger, int line, string chip, double limit);

        [LoggerMessage(EventId = 406, Level = LogLevel.Error, Message = "an emergency stop handler failed (engaged: {Engaged})")]
        public static partial void HandlerFailed(ILogger logger, bool engaged, Exception exception);

        [LoggerMessage(EventId = 407, Level = LogLevel.Debug, Message = "releasing emergency stop line {Line} of {Chip} failed")]
        public static partial void ReleaseFailed(ILogger logger, int line, string chip, Exception exception);
    }
}
