using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Kairo.Control.Mqtt;
using Microsoft.Extensions.Logging;

namespace Kairo.Control.Tests;

/// <summary>Test waits: every wait is bounded, and a timeout says what was awaited and shows the broker's log.</summary>
internal static class Wait
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(15);

    public static async Task<T> For<T>(Task<T> task, string what, Broker? broker = null, TimeSpan? timeout = null)
    {
        try
        {
            return await task.WaitAsync(timeout ?? Default);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Timed out after {(timeout ?? Default).TotalSeconds} s waiting for {what}." + (broker != null ? $"\nBroker log:\n{broker.Log}" : ""));
        }
    }

    public static async Task For(Task task, string what, Broker? broker = null, TimeSpan? timeout = null) =>
        await For(task.ContinueWith(t => { t.GetAwaiter().GetResult(); return true; }, TaskScheduler.Default), what, broker, timeout);
}

/// <summary>An ILogger that keeps every entry and lets a test wait for one.</summary>
internal sealed class CapturingLogger : ILogger
{
    private readonly List<(LogLevel Level, string Text)> _entries = [];
    private readonly List<(Func<LogLevel, string, bool> Match, TaskCompletionSource<string> Seen)> _waiters = [];

    public IReadOnlyList<(LogLevel Level, string Text)> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    public string Text => string.Join('\n', Entries.Select(e => $"{e.Level}: {e.Text}"));

    public int Count(Func<LogLevel, string, bool> match) => Entries.Count(e => match(e.Level, e.Text));

    /// <summary>Completes with the text of the first entry (earlier ones count) that matches.</summary>
    public Task<string> WaitFor(Func<LogLevel, string, bool> match)
    {
        lock (_entries)
        {
            foreach ((LogLevel level, string text) in _entries)
            {
                if (match(level, text))
                {
                    return Task.FromResult(text);
                }
            }

            var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, seen));
            return seen.Task;
        }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        string text = formatter(state, exception) + (exception != null ? $" [{exception.GetType().Name}: {exception.Message}]" : "");
        lock (_entries)
        {
            _entries.Add((logLevel, text));
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(logLevel, text))
                {
                    _waiters[i].Seen.TrySetResult(text);
                    _waiters.RemoveAt(i);
                }
            }
        }
    }
}

/// <summary>
/// An <see cref="MqttClient"/> with its events turned into awaitable queues. Each test client gets a unique id and
/// topic root, so tests sharing nothing can also share nothing by accident.
/// </summary>
internal sealed class TestClient : IDisposable
{
    private readonly Channel<MqttMessage> _messages = Channel.CreateUnbounded<MqttMessage>();
    private readonly Channel<MqttConnectedEventArgs> _connects = Channel.CreateUnbounded<MqttConnectedEventArgs>();
    private readonly Channel<MqttDisconnectedEventArgs> _disconnects = Channel.CreateUnbounded<MqttDisconnectedEventArgs>();
    private readonly Broker? _broker;
    private readonly string _syncTopic;

    public TestClient(string uri, Broker? broker = null, Func<MqttClientOptions, MqttClientOptions>? configure = null, string? clientId = null)
    {
        _broker = broker;
        ClientId = clientId ?? "kairo-test-" + Guid.NewGuid().ToString("N")[..10];
        _syncTopic = $"kairo-test/sync/{ClientId}";
        var options = new MqttClientOptions { Uri = uri, ClientId = ClientId, ReconnectMinDelay = TimeSpan.FromSeconds(0.2), ReconnectMaxDelay = TimeSpan.FromSeconds(2) };
        Options = configure?.Invoke(options) ?? options;
        Client = new MqttClient(Options, Logger);
        Client.MessageReceived += (_, m) => _messages.Writer.TryWrite(m);
        Client.Connected += (_, e) => _connects.Writer.TryWrite(e);
        Client.Disconnected += (_, e) => _disconnects.Writer.TryWrite(e);
    }

    public string ClientId { get; }

    public MqttClientOptions Options { get; }

    public MqttClient Client { get; }

    public CapturingLogger Logger { get; } = new();

    /// <summary>Starts the client and waits for its first connection.</summary>
    public async Task<MqttConnectedEventArgs> StartAsync()
    {
        Client.Subscribe(_syncTopic, 1);
        Client.Start();
        return await NextConnectedAsync();
    }

    public Task<MqttConnectedEventArgs> NextConnectedAsync(TimeSpan? timeout = null) =>
        Wait.For(_connects.Reader.ReadAsync().AsTask(), $"{ClientId} to connect\nClient log:\n{Logger.Text}", _broker, timeout);

    public Task<MqttDisconnectedEventArgs> NextDisconnectedAsync() =>
        Wait.For(_disconnects.Reader.ReadAsync().AsTask(), $"{ClientId} to disconnect", _broker);

    /// <summary>The next message on <paramref name="topic"/>; messages on other topics are skipped.</summary>
    public Task<MqttMessage> NextMessageAsync(string topic, TimeSpan? timeout = null) =>
        Wait.For(ReadUntil(m => m.Topic == topic), $"a message on '{topic}' at {ClientId}", _broker, timeout);

    /// <summary>
    /// Publishes to a topic only this client subscribes to and waits for it to come back. The broker handles one
    /// connection's packets in order, so every SUBSCRIBE this client sent before is in force afterwards.
    /// </summary>
    public async Task SyncAsync()
    {
        string token = Guid.NewGuid().ToString("N");
        Client.Publish(_syncTopic, Encoding.UTF8.GetBytes(token), 1, false);
        await Wait.For(ReadUntil(m => m.Topic == _syncTopic && Encoding.UTF8.GetString(m.Payload) == token), $"the sync message of {ClientId}", _broker);
    }

    /// <summary>Messages received so far and not yet read, without waiting.</summary>
    public List<MqttMessage> Drain()
    {
        var list = new List<MqttMessage>();
        while (_messages.Reader.TryRead(out MqttMessage? m))
        {
            list.Add(m);
        }

        return list;
    }

    public void Dispose() => Client.Dispose();

    private async Task<MqttMessage> ReadUntil(Func<MqttMessage, bool> match)
    {
        while (true)
        {
            MqttMessage message = await _messages.Reader.ReadAsync();
            if (match(message))
            {
                return message;
            }
        }
    }
}

/// <summary>
/// A broker that speaks only MQTT 3.1.1, made of the real one: a TCP proxy that answers an MQTT 5 CONNECT the way a
/// 3.1.1 broker must (CONNACK "unacceptable protocol version", 0x01, then close) and forwards any other connection.
/// mosquitto 2.0 has no switch to refuse MQTT 5 itself.
/// </summary>
internal sealed class Mqtt311OnlyProxy : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _brokerPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<TcpClient> _connections = [];
    private int _refused;
    private int _forwarded;

    public Mqtt311OnlyProxy(int brokerPort)
    {
        _brokerPort = brokerPort;
        _listener.Start();
        _ = AcceptLoop();
    }

    public string Url => $"mqtt://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public int RefusedMqtt5Connects => Volatile.Read(ref _refused);

    public int ForwardedConnects => Volatile.Read(ref _forwarded);

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        foreach (TcpClient connection in _connections)
        {
            connection.Dispose();
        }
    }

    private async Task AcceptLoop()
    {
        try
        {
            while (true)
            {
                TcpClient client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _connections.Add(client);
                _ = Serve(client);
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task Serve(TcpClient client)
    {
        try
        {
            NetworkStream stream = client.GetStream();
            byte[] connect = await ReadPacket(stream);
            int variableHeader = connect.Length - RemainingLength(connect);
            int nameLength = (connect[variableHeader] << 8) | connect[variableHeader + 1];
            int level = connect[variableHeader + 2 + nameLength];
            if (level == 5)
            {
                Interlocked.Increment(ref _refused);
                await stream.WriteAsync(new byte[] { 0x20, 0x02, 0x00, 0x01 }, _stop.Token);
                client.Dispose();
                return;
            }

            Interlocked.Increment(ref _forwarded);
            var upstream = new TcpClient();
            _connections.Add(upstream);
            await upstream.ConnectAsync(IPAddress.Loopback, _brokerPort, _stop.Token);
            NetworkStream up = upstream.GetStream();
            await up.WriteAsync(connect, _stop.Token);
            Task a = stream.CopyToAsync(up, _stop.Token);
            Task b = up.CopyToAsync(stream, _stop.Token);
            await Task.WhenAny(a, b);
            client.Dispose();
            upstream.Dispose();
        }
        catch (Exception)
        {
            client.Dispose();
        }
    }

    /// <summary>One whole MQTT packet: fixed header, remaining length, and that many bytes.</summary>
    private async Task<byte[]> ReadPacket(NetworkStream stream)
    {
        var header = new List<byte>();
        byte[] one = new byte[1];
        await stream.ReadExactlyAsync(one, _stop.Token);
        header.Add(one[0]);
        int length = 0, shift = 0;
        do
        {
            await stream.ReadExactlyAsync(one, _stop.Token);
            header.Add(one[0]);
            length |= (one[0] & 0x7F) << shift;
            shift += 7;
        }
        while ((one[0] & 0x80) != 0);

        byte[] packet = new byte[header.Count + length];
        header.CopyTo(packet);
        await stream.ReadExactlyAsync(packet.AsMemory(header.Count), _stop.Token);
        return packet;
    }

    private static int RemainingLength(byte[] packet)
    {
        int length = 0, shift = 0, i = 1;
        byte b;
        do
        {
            b = packet[i++];
            length |= (b & 0x7F) << shift;
            shift += 7;
        }
        while ((b & 0x80) != 0);

        return length;
    }
}

/// <summary>A TCP listener that accepts connections and never says a word: a broker that hangs.</summary>
internal sealed class SilentListener : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly ConcurrentBag<TcpClient> _accepted = [];
    private readonly TaskCompletionSource _firstAccepted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public SilentListener()
    {
        _listener.Start();
        _ = AcceptLoop();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public Task FirstAccepted => _firstAccepted.Task;

    public void Dispose()
    {
        _listener.Stop();
        foreach (TcpClient client in _accepted)
        {
            client.Dispose();
        }
    }

    private async Task AcceptLoop()
    {
        try
        {
            while (true)
            {
                _accepted.Add(await _listener.AcceptTcpClientAsync());
                _firstAccepted.TrySetResult();
            }
        }
        catch (Exception)
        {
            // Stopped.
        }
    }
}
