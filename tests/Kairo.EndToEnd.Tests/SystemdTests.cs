using System.Net.Sockets;
using System.Text;

namespace Kairo.EndToEnd.Tests;

/// <summary>The AOT kairod speaks sd_notify to the socket systemd would give it: readiness, watchdog, stopping.</summary>
public sealed class SystemdTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("kairo-notify-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ReadyWatchdogAndStoppingGoToTheNotifySocket()
    {
        string socketPath = Path.Combine(_dir, "notify.sock");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        socket.ReceiveTimeout = (int)Patience.TotalMilliseconds;

        var environment = new Dictionary<string, string> { ["NOTIFY_SOCKET"] = socketPath, ["WATCHDOG_USEC"] = "400000" };
        using var daemon = DaemonProcess.Start(environment, "--state-dir", _dir);

        string ready = Receive(socket, m => m.Contains("READY=1"));
        Assert.Contains("STATUS=2 of 2 loops running", ready);
        Receive(socket, m => m == "WATCHDOG=1"); // every 200 ms while every loop ticks
        Receive(socket, m => m == "WATCHDOG=1");

        daemon.Signal(DaemonProcess.SIGTERM);
        string stopping = Receive(socket, m => m.Contains("STOPPING=1"));
        Assert.Contains("SIGTERM", stopping);
        Assert.Equal(0, daemon.WaitForExit(Patience));
    }

    /// <summary>The next datagram on a notify socket that matches; the socket's receive timeout bounds the wait.</summary>
    internal static string Receive(Socket socket, Func<string, bool> match)
    {
        var buffer = new byte[4096];
        while (true)
        {
            int n = socket.Receive(buffer);
            string message = Encoding.UTF8.GetString(buffer, 0, n);
            if (match(message))
            {
                return message;
            }
        }
    }
}
