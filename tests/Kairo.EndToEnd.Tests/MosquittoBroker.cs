using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Kairo.EndToEnd.Tests;

/// <summary>Where a test broker listens and what it has logged: what the control-plane tests need of one.</summary>
internal sealed record BrokerEndpoint(int Port, Func<string> Log)
{
    public string Url => $"mqtt://127.0.0.1:{Port}";

    public static implicit operator BrokerEndpoint(TestBroker broker) => new(broker.Port, () => broker.Output);

    public static implicit operator BrokerEndpoint(MosquittoBroker broker) => new(broker.Port, () => broker.Output);
}

/// <summary>
/// /usr/sbin/mosquitto on a free 127.0.0.1 port, configured for floods: a subscriber that falls behind (a test reading
/// mosquitto_sub's output on a busy machine) has its QoS 1 messages queued, where mosquitto's default of 1,000 queued
/// messages would drop them and make the broker, not Kairo, lose replies. Killed on dispose.
/// </summary>
internal sealed class MosquittoBroker : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);

    private readonly Process _process;
    private readonly string _directory;
    private readonly ConcurrentQueue<string> _output = new();

    private MosquittoBroker(string directory, int port)
    {
        _directory = directory;
        Port = port;
        string config = Path.Combine(directory, "mosquitto.conf");
        File.WriteAllText(config, $"""
            listener {port} 127.0.0.1
            allow_anonymous true
            persistence false
            set_tcp_nodelay true
            max_queued_messages 100000
            """);
        var info = new ProcessStartInfo(TestBroker.Executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(config);
        _process = Process.Start(info) ?? throw new InvalidOperationException($"{TestBroker.Executable} did not start");
        _process.OutputDataReceived += (_, e) => Add(e.Data);
        _process.ErrorDataReceived += (_, e) => Add(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Port { get; }

    public string Output => string.Join('\n', _output);

    public static MosquittoBroker Start()
    {
        string directory = Directory.CreateTempSubdirectory("kairo-flood-broker-").FullName;
        string failures = "";

        // A port found free can be taken before the broker binds it; then the broker exits and another is tried.
        for (int attempt = 0; attempt < 5; attempt++)
        {
            var broker = new MosquittoBroker(directory, FreePort());
            if (broker.WaitUntilListening())
            {
                return broker;
            }

            failures += $"port {broker.Port}:\n{broker.Output}\n";
            broker.Stop();
        }

        Directory.Delete(directory, recursive: true);
        throw new InvalidOperationException($"mosquitto did not start listening within {StartTimeout.TotalSeconds} s:\n{failures}");
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

    private void Stop()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
    }

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

            if (_process.WaitForExit(20)) // not listening yet: wait a little, but wake at once if the broker exits
            {
                _process.WaitForExit();
                return false;
            }
        }

        return false;
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private void Add(string? line)
    {
        if (line != null)
        {
            _output.Enqueue(line);
        }
    }
}
