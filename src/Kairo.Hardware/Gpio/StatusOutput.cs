using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kairo.Hardware.Gpio;

/// <summary>
/// A status output the daemon sets: on = ready and healthy, off = starting, stopped or faulted. A status lamp must
/// never take the daemon down, so a failed write is logged and reported, not thrown.
/// </summary>
public sealed partial class StatusOutput : IDisposable
{
    private readonly IGpioDriver _driver;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private bool _on;
    private bool _failing;
    private bool _disposed;

    /// <summary>Requests the line as an output, off. A line that cannot be requested throws <see cref="GpioException"/>.</summary>
    public StatusOutput(IGpioDriver driver, int line, bool activeLow = false, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(driver);
        _driver = driver;
        Line = line;
        _logger = logger ?? NullLogger.Instance;
        driver.RequestOutput(line, initialValue: false, activeLow);
    }

    public int Line { get; }

    /// <summary>The state last written successfully.</summary>
    public bool IsOn
    {
        get
        {
            lock (_gate)
            {
                return _on;
            }
        }
    }

    /// <summary>Drives the output; false (and logged once per streak) when the driver failed.</summary>
    public bool Set(bool on)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            try
            {
                _driver.Write(Line, on);
                _on = on;
                _failing = false;
                return true;
            }
            catch (Exception e)
            {
                if (!_failing)
                {
                    _failing = true;
                    Log.WriteFailed(_logger, Line, _driver.ChipName, on ? "on" : "off", e);
                }

                return false;
            }
        }
    }

    /// <summary>Turns the output off and releases the line.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            try
            {
                _driver.Write(Line, false);
                _on = false;
            }
            catch (Exception e)
            {
                Log.WriteFailed(_logger, Line, _driver.ChipName, "off", e);
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

    private static partial class Log
    {
        [LoggerMessage(EventId = 420, Level = LogLevel.Warning, Message = "status line {Line} of {Chip} could not be set {State}")]
        public static partial void WriteFailed(ILogger logger, int line, string chip, string state, Exception exception);

        [LoggerMessage(EventId = 421, Level = LogLevel.Debug, Message = "releasing status line {Line} of {Chip} failed")]
        public static partial void ReleaseFailed(ILogger logger, int line, string chip, Exception exception);
    }
}
