using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Kairo.Testing;

namespace Kairo.EndToEnd.Tests;

/// <summary>Where a test broker listens and what it has logged: what the control-plane tests need of one.</summary>
internal sealed record BrokerEndpoint(int Port, Func<string> Log)
{
    public string Url => $"mqtt://127.0.0.1:{Port}";

    public static implicit operator BrokerEndpoint(TestBroker broker) => new(broker.Port, () => broker.Output);
}

/// <summary>
/// A real mosquitto broker for one test class: /usr/sbin/mosquitto on a free 127.0.0.1 port with a generated
/// configuration, ready once it accepts a TCP connection, killed on dispose.
/// </summary>
internal sealed class TestBroker : IDisposable
{
    public const string Executable = "/usr/sbin/mosquitto";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);

    private readonly string _directory;
    private Process _process;
    private bool _running = true;
    private readonly ConcurrentQueue<string> _output = new();

    private TestBroker(Process process, string directory, int port, bool tls)
    {
        _process = process;
        _directory = directory;
        Port = port;
        Tls = tls;
    }

    public int Port { get; }

    /// <summary>Whether the listener speaks TLS (and requires a client certificate).</summary>
    public bool Tls { get; }

    public string Url => $"{(Tls ? "mqtts" : "mqtt")}://127.0.0.1:{Port}";

    /// <summary>What the broker printed (its log goes to stderr), for failure messages.</summary>
    public string Output => string.Join('\n', _output);

    /// <param name="tls">
    /// Certificates for a TLS listener: the broker presents its certificate for 127.0.0.1 and requires a client
    /// certificate signed by the same CA. Null: plain MQTT.
    /// </param>
    public static TestBroker Start(TestCertificates? tls = null)
    {
        Assert.True(File.Exists(Executable), $"{Executable} is missing; install the broker: apt-get install mosquitto");
        string directory = Directory.CreateTempSubdirectory("kairo-broker-").FullName;
        string failures = "";

        // A port found free can be taken before the broker binds it; then the broker exits and another port is tried.
        for (int attempt = 0; attempt < 5; attempt++)
        {
            int port = LoopbackPort.Free();
            string config = Path.Combine(directory, "mosquitto.conf");
            File.WriteAllText(config, $"""
                listener {port} 127.0.0.1
                allow_anonymous true
                persistence false
                # Forwarded messages go out at once instead of waiting for the receiver's delayed ACK.
                set_tcp_nodelay true
                # A subscriber that falls behind (a test reading mosquitto_sub's output on a busy machine, a flood) has its
                # QoS 1 messages queued; the default of 1,000 would drop them and make the broker, not Kairo, lose replies.
                max_queued_messages 100000
                """ + (tls is null ? "" : $"""

                # As whoever runs the tests: as root, mosquitto would drop to a user that cannot read the key.
                user {Environment.UserName}
                cafile {tls.CaFile}
                certfile {tls.CertFile("server")}
                keyfile {tls.KeyFile("server")}
                require_certificate true
                """));
            var broker = new TestBroker(Launch(config), directory, port, tls != null);
            broker.Listen();
            if (broker.WaitUntilListening())
            {
                return broker;
            }

            failures += $"port {port}:\n{broker.Output}\n";
            broker.Stop();
        }

        Directory.Delete(directory, recursive: true);
        throw new InvalidOperationException($"mosquitto did not start listening on 127.0.0.1 within {StartTimeout.TotalSeconds} s:\n{failures}");
    }

    /// <summary>Kills the broker (SIGKILL: no goodbye to any client); <see cref="Restart"/> brings it back on the same port.</summary>
    public void Kill() => Stop();

    /// <summary>Starts the broker again on the same port with the same configuration; it remembers nothing.</summary>
    public void Restart()
    {
        for (int attempt = 0; attempt < 20; attempt++)
        {
            _process = Launch(Path.Combine(_directory, "mosquitto.conf"));
            _running = true;
            Listen();
            if (WaitUntilListening())
            {
                return;
            }

            Stop(); // the old socket may linger a moment
            Thread.Sleep(250);
        }

        throw new InvalidOperationException($"mosquitto did not come back on port {Port}:\n{Output}");
    }

    public void Dispose()
    {
        Stop();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static Process Launch(string config)
    {
        var info = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(config);
        return Process.Start(info) ?? throw new InvalidOperationException($"{Executable} did not start");
    }

    private void Listen()
    {
        _process.OutputDataReceived += (_, e) => Add(e.Data);
        _process.ErrorDataReceived += (_, e) => Add(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    private void Stop()
    {
        if (!_running)
        {
            return;
        }

        _running = false;
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    /// <summary>Connects until the broker accepts; false if it exited (port taken) or never listened within the time limit.</summary>
    private bool WaitUntilListening()
    {
        var until = Stopwatch.StartNew();
        while (until.Elapsed < StartTimeout)
        {
            using var client = new TcpClient();
            try
            {
                client.Connect(IPAddress.Loopback, Port);
                return true;
            }
            catch (SocketException)
            {
            }

            // Refused: not listening yet. Wait a little, but wake at once if the broker exits.
            if (_process.WaitForExit(20))
            {
                _process.WaitForExit(); // drains its output
                return false;
            }
        }

        return false;
    }

    private void Add(string? line)
    {
        if (line != null)
        {
            _output.Enqueue(line);
        }
    }
}
