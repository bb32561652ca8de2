using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Kairo.Testing;

namespace Kairo.Control.Tests;

/// <summary>The broker's TLS listener: none, or one with the given server certificate.</summary>
internal enum BrokerTls
{
    None,
    Server,
    WrongHost,
}

/// <summary>What the test broker listens with, besides the plain anonymous listener it always has.</summary>
internal sealed record BrokerConfig
{
    /// <summary>A TLS listener (<see cref="Broker.TlsPort"/>) with a certificate from <see cref="TestCertificates"/>.</summary>
    public BrokerTls Tls { get; init; }

    public bool RequireClientCertificate { get; init; }

    /// <summary>A listener refusing anonymous clients (<see cref="Broker.AuthPort"/>) with this user and password.</summary>
    public (string User, string Password)? Account { get; init; }

    /// <summary>Every packet in the log; off for floods.</summary>
    public bool Verbose { get; init; } = true;
}

/// <summary>
/// A real mosquitto broker on free loopback ports, configured by a generated file. Ready means it answered an MQTT
/// CONNECT. Its log is kept for failure messages. Stopping sends SIGTERM, then SIGKILL after a time limit;
/// <see cref="Kill"/> is SIGKILL at once; <see cref="RestartAsync"/> starts it again on the same ports.
/// </summary>
internal sealed partial class Broker : IDisposable
{
    private const string Executable = "/usr/sbin/mosquitto";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(10);

    private readonly string _directory;
    private readonly string _configFile;
    private readonly StringBuilder _log = new();
    private readonly object _logGate = new();
    private readonly List<(string Text, TaskCompletionSource Seen)> _logWaiters = [];
    private Process? _process;

    private Broker(BrokerConfig config)
    {
        Config = config;
        _directory = System.IO.Directory.CreateTempSubdirectory("kairo-mqtt-broker-").FullName;
        _configFile = Path.Combine(_directory, "mosquitto.conf");
        Port = FreePort();
        TlsPort = config.Tls != BrokerTls.None ? FreePort() : 0;
        AuthPort = config.Account != null ? FreePort() : 0;
        WriteConfig();
    }

    public BrokerConfig Config { get; }

    /// <summary>Plain, anonymous listener on 127.0.0.1.</summary>
    public int Port { get; }

    public int TlsPort { get; }

    public int AuthPort { get; }

    public string Url => $"mqtt://127.0.0.1:{Port}";

    public string TlsUrl(string host = "127.0.0.1") => $"mqtts://{host}:{TlsPort}";

    public string AuthUrl => $"mqtt://127.0.0.1:{AuthPort}";

    public int ProcessId => _process?.Id ?? 0;

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Everything the broker logged so far, across restarts.</summary>
    public string Log
    {
        get
        {
            lock (_logGate)
            {
                return _log.ToString();
            }
        }
    }

    public static async Task<Broker> StartAsync(BrokerConfig? config = null)
    {
        var broker = new Broker(config ?? new BrokerConfig());
        try
        {
            await broker.LaunchAsync();
            return broker;
        }
        catch
        {
            broker.Dispose();
            throw;
        }
    }

    /// <summary>Completes when a log line containing <paramref name="text"/> has been seen (earlier lines count).</summary>
    public Task WaitForLogAsync(string text)
    {
        lock (_logGate)
        {
            if (_log.ToString().Contains(text, StringComparison.Ordinal))
            {
                return Task.CompletedTask;
            }

            var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _logWaiters.Add((text, seen));
            return seen.Task;
        }
    }

    /// <summary>SIGKILL: the broker vanishes without closing anything cleanly.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            process.WaitForExit();
        }
    }

    /// <summary>SIGTERM, and SIGKILL if it has not exited within five seconds.</summary>
    public void Stop()
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }

        const int SIGTERM = 15;
        SendSignal(process.Id, SIGTERM);
        if (!process.WaitForExit(5_000))
        {
            process.Kill();
            process.WaitForExit();
        }
    }

    /// <summary>Stops the broker if it runs and starts it again with the same configuration and ports.</summary>
    public async Task RestartAsync()
    {
        Stop();
        AppendLog("---- restart ----");
        await LaunchAsync();
    }

    public void Dispose()
    {
        Stop();
        _process?.Dispose();
        try
        {
            System.IO.Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task LaunchAsync()
    {
        var info = new ProcessStartInfo(Executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(_configFile);
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => AppendLog(e.Data);
        process.ErrorDataReceived += (_, e) => AppendLog(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process?.Dispose();
        _process = process;
        await WaitUntilReadyAsync(process);
    }

    /// <summary>Ready when the plain listener answers an MQTT 3.1.1 CONNECT with a CONNACK; every listener is open by then.</summary>
    private async Task WaitUntilReadyAsync(Process process)
    {
        byte[] connect = [0x10, 17, 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 0x02, 0, 60, 0, 5, (byte)'r', (byte)'e', (byte)'a', (byte)'d', (byte)'y'];
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"mosquitto exited with code {process.ExitCode} while starting. Log:\n{Log}");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                NetworkStream stream = client.GetStream();
                await stream.WriteAsync(connect);
                byte[] connack = new byte[4];
                await stream.ReadExactlyAsync(connack).AsTask().WaitAsync(TimeSpan.FromSeconds(2));
                if (connack is [0x20, 2, _, 0])
                {
                    await stream.WriteAsync(new byte[] { 0xE0, 0 });
                    return;
                }

                throw new InvalidOperationException($"mosquitto answered the readiness CONNECT with {Convert.ToHexString(connack)}. Log:\n{Log}");
            }
            catch (Exception e) when (e is SocketException or IOException or TimeoutException)
            {
                if (deadline.Elapsed > ReadyTimeout)
                {
                    throw new TimeoutException($"mosquitto did not accept an MQTT connection on port {Port} within {ReadyTimeout.TotalSeconds} s. Log:\n{Log}", e);
                }

                await Task.Delay(20); // The listener is not open yet; try again.
            }
        }
    }

    private void AppendLog(string? line)
    {
        if (line == null)
        {
            return;
        }

        List<TaskCompletionSource>? seen = null;
        lock (_logGate)
        {
            _log.AppendLine(line);
            for (int i = _logWaiters.Count - 1; i >= 0; i--)
            {
                if (line.Contains(_logWaiters[i].Text, StringComparison.Ordinal))
                {
                    (seen ??= []).Add(_logWaiters[i].Seen);
                    _logWaiters.RemoveAt(i);
                }
            }
        }

        seen?.ForEach(s => s.TrySetResult());
    }

    private void WriteConfig()
    {
        var certificates = TestCertificates.Shared;
        var text = new StringBuilder();
        // Run as whoever runs the tests (as root, mosquitto would otherwise drop to a user that cannot read the keys).
        text.AppendLine($"user {Environment.UserName}");
        text.AppendLine("per_listener_settings true");
        text.AppendLine("persistence false");
        text.AppendLine("log_dest stderr");
        text.AppendLine(Config.Verbose ? "log_type all" : "log_type error\nlog_type warning\nlog_type notice\nlog_type information");
        text.AppendLine("connection_messages true");
        text.AppendLine("log_timestamp_format %H:%M:%S");
        // mosquitto drops QoS 1/2 messages beyond 1000 queued for a subscriber that lags; a loaded test machine lags.
        text.AppendLine("max_queued_messages 100000");
        text.AppendLine();
        text.AppendLine($"listener {Port} 127.0.0.1");
        text.AppendLine("allow_anonymous true");
        if (Config.Tls != BrokerTls.None)
        {
            string name = Config.Tls == BrokerTls.Server ? "server" : "wrong-host";
            text.AppendLine();
            text.AppendLine($"listener {TlsPort} 127.0.0.1");
            text.AppendLine("allow_anonymous true");
            text.AppendLine($"cafile {certificates.CaFile}");
            text.AppendLine($"certfile {certificates.CertFile(name)}");
            text.AppendLine($"keyfile {certificates.KeyFile(name)}");
            text.AppendLine($"require_certificate {(Config.RequireClientCertificate ? "true" : "false")}");
        }

        if (Config.Account is { } account)
        {
            string passwords = Path.Combine(_directory, "passwords");
            (int exitCode, string output) = Tool.Run("mosquitto_passwd", "-b", "-c", passwords, account.User, account.Password);
            if (exitCode != 0)
            {
                throw new InvalidOperationException($"mosquitto_passwd failed ({exitCode}): {output}");
            }

            text.AppendLine();
            text.AppendLine($"listener {AuthPort} 127.0.0.1");
            text.AppendLine("allow_anonymous false");
            text.AppendLine($"password_file {passwords}");
        }

        File.WriteAllText(_configFile, text.ToString());
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static void SendSignal(int pid, int signal)
    {
        if (SysKill(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);
}
