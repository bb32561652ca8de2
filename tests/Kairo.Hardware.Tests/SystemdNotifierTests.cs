using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Kairo.Hardware.Interop;
using Kairo.Hardware.Systemd;
using Microsoft.Extensions.Logging;

namespace Kairo.Hardware.Tests;

/// <summary>Plays systemd's part: a unix datagram socket that receives notifications.</summary>
internal sealed class NotifySocket : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly string? _directory;

    private NotifySocket(string notifySocket, string bindName, string? directory)
    {
        NotifySocketValue = notifySocket;
        _directory = directory;
        _socket.Bind(new UnixDomainSocketEndPoint(bindName));
    }

    /// <summary>What $NOTIFY_SOCKET would hold.</summary>
    public string NotifySocketValue { get; }

    public static NotifySocket AtPath()
    {
        string directory = Directory.CreateTempSubdirectory("kairo-notify-").FullName;
        string path = Path.Combine(directory, "notify");
        return new NotifySocket(path, path, directory);
    }

    public static NotifySocket Abstract(string name) => new("@" + name, "\0" + name, null);

    /// <summary>The next datagram, or null when none comes within <paramref name="timeout"/>.</summary>
    public string? Receive(TimeSpan timeout)
    {
        if (!_socket.Poll(timeout, SelectMode.SelectRead))
        {
            return null;
        }

        byte[] buffer = new byte[4096];
        int n = _socket.Receive(buffer);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }

    public string Next() => Receive(Patience.Long) ?? throw new Xunit.Sdk.XunitException("no notification came");

    /// <summary>Throws away whatever is already queued.</summary>
    public void Drain()
    {
        while (Receive(TimeSpan.Zero) is not null)
        {
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        if (_directory is not null)
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}

public sealed class SystemdNotifierTests
{
    [Fact]
    public void LifecycleNotificationsAreExactDatagrams()
    {
        using var systemd = NotifySocket.AtPath();
        using var notifier = new SystemdNotifier(systemd.NotifySocketValue);
        Assert.True(notifier.IsEnabled);

        Assert.True(notifier.Ready("serving 2 loops"));
        Assert.Equal("READY=1\nSTATUS=serving 2 loops", systemd.Next());
        Assert.True(notifier.Ready());
        Assert.Equal("READY=1", systemd.Next());
        Assert.True(notifier.Status("loop arm: 500 Hz\nloop drive: 30 Hz"));
        Assert.Equal("STATUS=loop arm: 500 Hz loop drive: 30 Hz", systemd.Next()); // one value, one line
        Assert.True(notifier.Watchdog());
        Assert.Equal("WATCHDOG=1", systemd.Next());
        Assert.True(notifier.Stopping());
        Assert.Equal("STOPPING=1", systemd.Next());
        Assert.True(notifier.Stopping("stopping: SIGTERM"));
        Assert.Equal("STOPPING=1\nSTATUS=stopping: SIGTERM", systemd.Next());
        Assert.True(notifier.Notify("ERRNO=5"));
        Assert.Equal("ERRNO=5", systemd.Next());
    }

    [Fact]
    public void ReloadingCarriesTheMonotonicClock()
    {
        using var systemd = NotifySocket.AtPath();
        using var notifier = new SystemdNotifier(systemd.NotifySocketValue);
        long before = Libc.MonotonicMicroseconds();
        Assert.True(notifier.Reloading("reloading profile"));
        long after = Libc.MonotonicMicroseconds();

        string[] lines = systemd.Next().Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Equal("RELOADING=1", lines[0]);
        Assert.StartsWith("MONOTONIC_USEC=", lines[1]);
        Assert.Equal("STATUS=reloading profile", lines[2]);
        long usec = long.Parse(lines[1]["MONOTONIC_USEC=".Length..], CultureInfo.InvariantCulture);
        Assert.InRange(usec, before, after);

        // And it is CLOCK_MONOTONIC, the clock the runtime's Stopwatch also reads on Linux.
        long stopwatch = (long)(Stopwatch.GetTimestamp() * (1e6 / Stopwatch.Frequency));
        Assert.InRange(stopwatch - usec, 0, 5_000_000);
    }

    [Fact]
    public void AnAbstractSocketNameIsReached()
    {
        string name = "kairo-test-" + Guid.NewGuid().ToString("N");
        using var systemd = NotifySocket.Abstract(name);

        // The name is bound exactly, without a trailing NUL (which /proc shows as a second '@'): the address the
        // notifier builds from "@name" must be the one systemd binds.
        Assert.Contains(File.ReadLines("/proc/net/unix"), line => line.EndsWith(" @" + name, StringComparison.Ordinal));

        using var notifier = new SystemdNotifier("@" + name);
        Assert.True(notifier.Ready("up"));
        Assert.Equal("READY=1\nSTATUS=up", systemd.Next());
    }

    [Fact]
    public void KeepAlivesComeEveryHalfIntervalOnlyWhileHealthy()
    {
        using var systemd = NotifySocket.AtPath();
        var log = new ListLogger();
        using var notifier = new SystemdNotifier(systemd.NotifySocketValue, watchdogMicroseconds: 200_000, log);
        Assert.Equal(TimeSpan.FromMilliseconds(200), notifier.WatchdogInterval);

        bool healthy = true;
        using var sawUnhealthy = new ManualResetEventSlim();
        var keepAlive = notifier.StartWatchdog(() =>
        {
            bool now = Volatile.Read(ref healthy);
            if (!now)
            {
                sawUnhealthy.Set();
            }

            return now;
        });

        var arrivals = new List<long>();
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal("WATCHDOG=1", systemd.Next());
            arrivals.Add(Stopwatch.GetTimestamp());
        }

        TimeSpan span = Stopwatch.GetElapsedTime(arrivals[0], arrivals[^1]);
        Assert.InRange(span.TotalMilliseconds / 5, 70, 400); // 100 ms apart, give or take a slow machine
        for (int i = 1; i < arrivals.Count; i++)
        {
            Assert.True(Stopwatch.GetElapsedTime(arrivals[i - 1], arrivals[i]) > TimeSpan.FromMilliseconds(40), "keep-alives came in a burst");
        }

        // Unhealthy: once the check has said so, nothing more is sent.
        Volatile.Write(ref healthy, false);
        Assert.True(sawUnhealthy.Wait(Patience.Long));
        systemd.Drain();
        Assert.Null(systemd.Receive(TimeSpan.FromMilliseconds(350)));
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("withholding watchdog keep-alives"));

        Volatile.Write(ref healthy, true);
        Assert.Equal("WATCHDOG=1", systemd.Next());

        keepAlive.Dispose();
        systemd.Drain();
        Assert.Null(systemd.Receive(TimeSpan.FromMilliseconds(350)));
    }

    [Fact]
    public void AThrowingHealthCheckCountsAsUnhealthy()
    {
        using var systemd = NotifySocket.AtPath();
        var log = new ListLogger();
        using var notifier = new SystemdNotifier(systemd.NotifySocketValue, watchdogMicroseconds: 100_000, log);
        using (notifier.StartWatchdog(() => throw new InvalidOperationException("stuck")))
        {
            Assert.True(log.WaitFor(LogLevel.Error, Patience.Long));
            Assert.Null(systemd.Receive(TimeSpan.FromMilliseconds(250)));
        }

        Assert.IsType<InvalidOperationException>(Assert.Single(log.AtLeast(LogLevel.Error)).Exception);
    }

    [Fact]
    public void OnlyOneKeepAliveRunsAtATime()
    {
        using var systemd = NotifySocket.AtPath();
        using var notifier = new SystemdNotifier(systemd.NotifySocketValue, watchdogMicroseconds: 1_000_000);
        using (notifier.StartWatchdog(() => true))
        {
            Assert.Throws<InvalidOperationException>(() => notifier.StartWatchdog(() => true));
        }

        notifier.StartWatchdog(() => true).Dispose(); // the first one ended, so a new one may start
    }

    [Fact]
    public void WithoutASocketEverythingIsANoOp()
    {
        using var notifier = SystemdNotifier.FromValues(null, "5000000", null, Environment.ProcessId, null);
        Assert.False(notifier.IsEnabled);
        Assert.Null(notifier.SocketPath);
        Assert.Null(notifier.WatchdogInterval);
        Assert.False(notifier.Ready("x"));
        Assert.False(notifier.Watchdog());
        Assert.False(notifier.Stopping());
        Assert.False(notifier.Reloading());
        bool called = false;
        notifier.StartWatchdog(() => called = true).Dispose();
        Assert.False(called);
    }

    [Theory]
    [InlineData("5000000", null, 42, 5000.0)]
    [InlineData("5000000", "42", 42, 5000.0)]
    [InlineData("5000000", "43", 42, null)] // inherited from another supervised process
    [InlineData("0", null, 42, null)]
    [InlineData("soon", null, 42, null)]
    [InlineData(null, null, 42, null)]
    public void TheEnvironmentDecidesTheWatchdog(string? usec, string? pid, int processId, double? expectedMilliseconds)
    {
        using var notifier = SystemdNotifier.FromValues("/run/systemd/notify", usec, pid, processId, null);
        Assert.True(notifier.IsEnabled);
        Assert.Equal(expectedMilliseconds, notifier.WatchdogInterval?.TotalMilliseconds);
    }

    [Theory]
    [InlineData("run/systemd/notify")]
    [InlineData("vsock:2:1234")]
    [InlineData("@")]
    public void ASocketThatIsNeitherAPathNorAnAbstractNameIsRefused(string socket)
    {
        var log = new ListLogger();
        using var notifier = new SystemdNotifier(socket, 1_000_000, log);
        Assert.False(notifier.IsEnabled);
        Assert.Null(notifier.WatchdogInterval);
        Assert.False(notifier.Ready());
        Assert.Single(log.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public void AFailedSendIsLoggedOnceNotThrown()
    {
        string directory = Directory.CreateTempSubdirectory("kairo-notify-").FullName;
        try
        {
            var log = new ListLogger();
            using var notifier = new SystemdNotifier(Path.Combine(directory, "nobody-listens"), 0, log);
            Assert.True(notifier.IsEnabled);
            Assert.False(notifier.Ready());
            Assert.False(notifier.Watchdog());
            var warning = Assert.Single(log.AtLeast(LogLevel.Warning));
            Assert.Contains("notifying systemd through", warning.Message);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
