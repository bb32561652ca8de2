using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kairo.Hardware.Gpio;

/// <summary>
/// Toggles an output line every period on its own thread while running (a blinking LED, or a keep-alive for an
/// external supervisor), and leaves it inactive when stopped. The schedule is absolute, so toggles do not drift; a
/// failed write is logged once per streak and the schedule goes on.
/// </summary>
public sealed partial class HeartbeatOutput : IDisposable
{
    private readonly IGpioDriver _driver;
    private readonly ILogger _logger;
    private readonly bool _activeLow;
    private readonly ManualResetEventSlim _stop = new(false);
    private readonly Lock _gate = new();
    private Thread? _thread;
    private long _toggles;
    private bool _disposed;

    public HeartbeatOutput(IGpioDriver driver, int line, TimeSpan period, bool activeLow = false, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentOutOfRangeException.ThrowIfLessThan(period, TimeSpan.FromMilliseconds(1));
        _driver = driver;
        Line = line;
        Period = period;
        _activeLow = activeLow;
        _logger = logger ?? NullLogger.Instance;
    }

    public int Line { get; }

    /// <summary>The time between two toggles (a full blink takes two periods).</summary>
    public TimeSpan Period { get; }

    /// <summary>How many toggles have reached the line since the first <see cref="Start"/>.</summary>
    public long Toggles => Interlocked.Read(ref _toggles);

    public bool IsRunning
    {
        get
        {
            lock (_gate)
            {
                return _thread is not null;
            }
        }
    }

    /// <summary>Requests the line as an output, inactive, and starts toggling. A line that cannot be requested throws <see cref="GpioException"/>.</summary>
    public void Start()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_thread is not null)
            {
                return;
            }

            _driver.RequestOutput(Line, initialValue: false, _activeLow);
            _stop.Reset();
            _thread = new Thread(Run) { IsBackground = true, Name = "kairo-heartbeat" };
            _thread.Start();
        }
    }

    /// <summary>Stops toggling, drives the line inactive and releases it.</summary>
    public void Stop()
    {
        lock (_gate)
        {
            if (_thread is null)
            {
                return;
            }

            _stop.Set();
            _thread.Join();
            _thread = null;
            try
            {
                _driver.Write(Line, false);
            }
            catch (Exception e)
            {
                Log.StopFailed(_logger, Line, _driver.ChipName, e);
            }

            try
            {
                _driver.Release(Line);
            }
            catch (Exception e)
            {
                Log.ReleaseFailed(_logger, Line, _driver.ChipName, e);
            }
        }
    }

    public void Dispose()
    {
        Stop();
        lock (_gate)
        {
            _disposed = true;
        }

        _stop.Dispose();
    }

    private void Run()
    {
        long periodTicks = (long)(Period.TotalSeconds * Stopwatch.Frequency);
        long next = Stopwatch.GetTimestamp();
        bool level = false;
        bool failing = false;
        while (true)
        {
            next += periodTicks;
            long now = Stopwatch.GetTimestamp();
            if (now - next > periodTicks)
            {
                next = now; // the machine was suspended or starved: resume the rhythm instead of catching up in a burst
            }

            TimeSpan wait = Stopwatch.GetElapsedTime(now, next);
            if (_stop.Wait(wait > TimeSpan.Zero ? wait : TimeSpan.Zero))
            {
                return;
            }

            try
            {
                _driver.Write(Line, !level);
                level = !level;
                Interlocked.Increment(ref _toggles);
                if (failing)
                {
                    failing = false;
                    Log.Recovered(_logger, Line, _driver.ChipName);
                }
            }
            catch (Exception e)
            {
                if (!failing)
                {
                    failing = true;
                    Log.WriteFailed(_logger, Line, _driver.ChipName, e);
                }
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 410, Level = LogLevel.Error, Message = "heartbeat line {Line} of {Chip} cannot be driven; retrying every period")]
        public static partial void WriteFailed(ILogger logger, int line, string chip, Exception exception);

        [LoggerMessage(EventId = 411, Level = LogLevel.Information, Message = "heartbeat line {Line} of {Chip} is toggling again")]
        public static partial void Recovered(ILogger logger, int line, string chip);

        [LoggerMessage(EventId = 412, Level = LogLevel.Warning, Message = "heartbeat line {Line} of {Chip} could not be left inactive")]
        public static partial void StopFailed(ILogger logger, int line, string chip, Exception exception);

        [LoggerMessage(EventId = 413, Level = LogLevel.Debug, Message = "releasing heartbeat line {Line} of {Chip} failed")]
        public static partial void ReleaseFailed(ILogger logger, int line, string chip, Exception exception);
    }
}
