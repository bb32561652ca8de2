using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Kairo.Hardware.Interop;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kairo.Hardware.Systemd;

/// <summary>
/// Tells systemd about the daemon's state (the sd_notify protocol: newline-separated <c>KEY=VALUE</c> assignments in
/// one datagram to the unix socket named by <c>$NOTIFY_SOCKET</c>), without libsystemd. When there is no socket, as
/// when kairod runs outside systemd, every call does nothing and returns false. Sending never throws: a failure is
/// logged once per streak, because a lost notification must not stop the daemon.
/// </summary>
public sealed partial class SystemdNotifier : IDisposable
{
    private static readonly byte[] s_watchdog = "WATCHDOG=1"u8.ToArray();

    private readonly Socket? _socket;
    private readonly UnixDomainSocketEndPoint? _endpoint;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private WatchdogKeepAlive? _keepAlive;
    private volatile bool _sendFailing;
    private bool _disposed;

    /// <summary>
    /// A notifier for <paramref name="socketPath"/>: an absolute path, or an abstract socket name written with a
    /// leading '@'; null or empty disables it. <paramref name="watchdogMicroseconds"/> is systemd's
    /// <c>WATCHDOG_USEC</c> (0 = no watchdog).
    /// </summary>
    public SystemdNotifier(string? socketPath, long watchdogMicroseconds = 0, ILogger? logger = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(watchdogMicroseconds);
        _logger = logger ?? NullLogger.Instance;
        SocketPath = string.IsNullOrEmpty(socketPath) ? null : socketPath;
        if (SocketPath is null)
        {
            return;
        }

        if (SocketPath[0] is not ('/' or '@') || SocketPath.Length < 2)
        {
            // systemd 254+ can also name an AF_VSOCK address ("vsock:CID:PORT"); kairod runs on the host it serves.
            Log.UnsupportedSocket(_logger, SocketPath);
            SocketPath = null;
            return;
        }

        try
        {
            // An abstract name's leading NUL is part of the address, and the address is exactly that long.
            _endpoint = new UnixDomainSocketEndPoint(SocketPath[0] == '@' ? "\0" + SocketPath[1..] : SocketPath);
            _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { SendTimeout = 2000 };
        }
        catch (Exception e) when (e is ArgumentException or SocketException)
        {
            Log.SocketUnusable(_logger, SocketPath, e);
            _socket?.Dispose();
            _socket = null;
            SocketPath = null;
            return;
        }

        if (watchdogMicroseconds > 0)
        {
            WatchdogInterval = TimeSpan.FromMicroseconds(watchdogMicroseconds);
        }
    }

    /// <summary>
    /// The notifier systemd's environment describes: <c>$NOTIFY_SOCKET</c>, and <c>$WATCHDOG_USEC</c> when
    /// <c>$WATCHDOG_PID</c> is unset or names this process.
    /// </summary>
    public static SystemdNotifier FromEnvironment(ILogger? logger = null) =>
        FromValues(
            Environment.GetEnvironmentVariable("NOTIFY_SOCKET"),
            Environment.GetEnvironmentVariable("WATCHDOG_USEC"),
            Environment.GetEnvironmentVariable("WATCHDOG_PID"),
            Environment.ProcessId,
            logger);

    internal static SystemdNotifier FromValues(string? notifySocket, string? watchdogUsec, string? watchdogPid, int processId, ILogger? logger)
    {
        logger ??= NullLogger.Instance;
        long microseconds = 0;
        if (!string.IsNullOrEmpty(watchdogUsec))
        {
            if (!long.TryParse(watchdogUsec, NumberStyles.None, CultureInfo.InvariantCulture, out microseconds) || microseconds <= 0)
            {
                Log.BadWatchdogUsec(logger, watchdogUsec);
                microseconds = 0;
            }
            else if (!string.IsNullOrEmpty(watchdogPid)
                && (!int.TryParse(watchdogPid, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid != processId))
            {
                // The variables were inherited from a parent that systemd supervises, not meant for this process.
                Log.WatchdogForAnotherProcess(logger, watchdogPid, processId);
                microseconds = 0;
            }
        }

        return new SystemdNotifier(notifySocket, microseconds, logger);
    }

    /// <summary>The socket notifications go to ('@' for an abstract name), or null when disabled.</summary>
    public string? SocketPath { get; }

    /// <summary>Whether there is a socket to notify.</summary>
    public bool IsEnabled => _socket is not null;

    /// <summary>systemd's watchdog timeout (<c>WatchdogSec</c>), or null when systemd does not watch this process.</summary>
    public TimeSpan? WatchdogInterval { get; }

    /// <summary>Start-up is complete: <c>READY=1</c>, with <c>STATUS=</c> when a status is given. Also ends a reload.</summary>
    public bool Ready(string? status = null) => Notify(WithStatus("READY=1", status));

    /// <summary>A one-line status for <c>systemctl status</c>: <c>STATUS=</c>.</summary>
    public bool Status(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Notify("STATUS=" + OneLine(text));
    }

    /// <summary>A watchdog keep-alive: <c>WATCHDOG=1</c>. Allocates nothing.</summary>
    public bool Watchdog() => Send(s_watchdog);

    /// <summary>Shutdown has begun: <c>STOPPING=1</c>.</summary>
    public bool Stopping(string? status = null) => Notify(WithStatus("STOPPING=1", status));

    /// <summary>
    /// A reload has begun: <c>RELOADING=1</c> with <c>MONOTONIC_USEC=</c> (CLOCK_MONOTONIC now), which systemd 253+
    /// needs for <c>Type=notify-reload</c> and older versions ignore. Send <see cref="Ready"/> when the reload is done.
    /// </summary>
    public bool Reloading(string? status = null) =>
        Notify(WithStatus(
            string.Create(CultureInfo.InvariantCulture, $"RELOADING=1\nMONOTONIC_USEC={Libc.MonotonicMicroseconds()}"),
            status));

    /// <summary>Sends raw assignments (<c>KEY=VALUE</c> lines); true when the datagram was sent.</summary>
    public bool Notify(string state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return _socket is not null && Send(Encoding.UTF8.GetBytes(state));
    }

    /// <summary>
    /// Sends <c>WATCHDOG=1</c> at half of <see cref="WatchdogInterval"/>, from its own thread, while
    /// <paramref name="healthy"/> returns true; while it returns false (or throws) the keep-alives stop, so systemd
    /// restarts a daemon that is stuck. <paramref name="healthy"/> should check real progress (every running loop has
    /// ticked since the last call, say): a thread that only proves it can run itself would keep a stuck daemon alive.
    /// Without a watchdog this starts nothing. Dispose the result to stop.
    /// </summary>
    public IDisposable StartWatchdog(Func<bool> healthy)
    {
        ArgumentNullException.ThrowIfNull(healthy);
        if (_socket is null || WatchdogInterval is not TimeSpan interval)
        {
            return NoKeepAlive.Instance;
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_keepAlive is not null)
            {
                throw new InvalidOperationException("The watchdog keep-alive is already running.");
            }

            _keepAlive = new WatchdogKeepAlive(this, healthy, interval / 2);
            return _keepAlive;
        }
    }

    public void Dispose()
    {
        WatchdogKeepAlive? keepAlive;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            keepAlive = _keepAlive;
        }

        keepAlive?.Dispose();
        _socket?.Dispose();
    }

    private bool Send(byte[] datagram)
    {
        if (_socket is null)
        {
            return false;
        }

        try
        {
            _socket.SendTo(datagram, SocketFlags.None, _endpoint!);
            if (_sendFailing)
            {
                _sendFailing = false;
                Log.SendRecovered(_logger, SocketPath!);
            }

            return true;
        }
        catch (SocketException e)
        {
            if (!_sendFailing)
            {
                _sendFailing = true;
                Log.SendFailed(_logger, SocketPath!, e.Message);
            }

            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    private static string WithStatus(string assignment, string? status) =>
        status is null ? assignment : assignment + "\nSTATUS=" + OneLine(status);

    /// <summary>A value must stay on its line: a newline would start a new assignment.</summary>
    private static string OneLine(string text) =>
        text.AsSpan().IndexOfAny('\n', '\r') < 0 ? text : text.Replace('\n', ' ').Replace('\r', ' ');

    private void KeepAliveEnded(WatchdogKeepAlive keepAlive)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_keepAlive, keepAlive))
            {
                _keepAlive = null;
            }
        }
    }

    private sealed class NoKeepAlive : IDisposable
    {
        public static readonly NoKeepAlive Instance = new();

        public void Dispose()
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 430, Level = LogLevel.Warning, Message = "NOTIFY_SOCKET '{Socket}' is neither an absolute path nor an abstract name ('@...'); systemd will not hear from kairod")]
        public static partial void UnsupportedSocket(ILogger logger, string socket);

        [LoggerMessage(EventId = 431, Level = LogLevel.Warning, Message = "NOTIFY_SOCKET '{Socket}' cannot be used; systemd will not hear from kairod")]
        public static partial void SocketUnusable(ILogger logger, string socket, Exception exception);

        [LoggerMessage(EventId = 432, Level = LogLevel.Warning, Message = "WATCHDOG_USEC '{Value}' is not a positive number of microseconds; no watchdog keep-alives")]
        public static partial void BadWatchdogUsec(ILogger logger, string value);

        [LoggerMessage(EventId = 433, Level = LogLevel.Debug, Message = "WATCHDOG_PID {WatchdogPid} is not this process ({ProcessId}); no watchdog keep-alives")]
        public static partial void WatchdogForAnotherProcess(ILogger logger, string watchdogPid, int processId);

        [LoggerMessage(EventId = 434, Level = LogLevel.Warning, Message = "notifying systemd through '{Socket}' failed: {Error}")]
        public static partial void SendFailed(ILogger logger, string socket, string error);

        [LoggerMessage(EventId = 435, Level = LogLevel.Information, Message = "notifying systemd through '{Socket}' works again")]
        public static partial void SendRecovered(ILogger logger, string socket);

        [LoggerMessage(EventId = 436, Level = LogLevel.Warning, Message = "the daemon reports itself unhealthy: withholding watchdog keep-alives, so systemd restarts it after {Timeout} s unless it recovers")]
        public static partial void Withholding(ILogger logger, double timeout);

        [LoggerMessage(EventId = 437, Level = LogLevel.Information, Message = "the daemon is healthy again: watchdog keep-alives resume")]
        public static partial void Resuming(ILogger logger);

        [LoggerMessage(EventId = 438, Level = LogLevel.Error, Message = "the watchdog health check failed; counting it as unhealthy")]
        public static partial void HealthCheckFailed(ILogger logger, Exception exception);
    }
}
