using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kairo.Control.Mqtt;
using Kairo.Control.Plane;
using Microsoft.Extensions.Logging;

namespace Kairo.Ctl.Device;

/// <summary>
/// One MQTT connection from kairoctl to a device's control plane (docs/control-plane.md): connects and waits for the
/// broker, reads the device's retained <c>state</c>, and sends requests answered through an MQTT 5 Response Topic
/// unique to this connection (<c>kairoctl/{random}/reply</c>) and Correlation Data, or, when the broker only speaks
/// 3.1.1, through <c>reply_to</c> and <c>id</c> in the payload. One request is outstanding at a time.
/// </summary>
internal sealed class DeviceConnection : IDisposable
{
    private const string BarrierId = "sync";

    private readonly DeviceSettings _settings;
    private readonly MqttClient _client;
    private readonly ConnectionLog _log;
    private readonly Action<MqttMessage>? _onMessage;
    private readonly ManualResetEventSlim _connected = new();
    private readonly ManualResetEventSlim _replied = new();

    // _gate guards the outstanding request; the network thread completes it.
    private readonly Lock _gate = new();
    private byte[]? _expectedCorrelation;
    private string? _expectedId;
    private byte[]? _reply;
    private long _nextId;

    private volatile DeviceState? _state;
    private volatile bool _mqtt5 = true;

    private DeviceConnection(DeviceSettings settings, Action<MqttMessage>? onMessage)
    {
        _settings = settings;
        _onMessage = onMessage;
        string session = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        ReplyTopic = $"kairoctl/{session}/reply";
        _log = new ConnectionLog();
        try
        {
            _client = new MqttClient(settings.ClientOptions($"kairoctl-{session}"), _log);
        }
        catch (ArgumentException e)
        {
            throw DeviceException.Usage($"--broker {settings.Broker}: {e.Message}");
        }
        catch (DllNotFoundException e)
        {
            throw DeviceException.NoAnswer(e.Message);
        }

        _client.Connected += (_, e) =>
        {
            _mqtt5 = e.ProtocolVersion == MqttProtocolVersion.Mqtt5;
            _connected.Set();
        };
        _client.MessageReceived += (_, message) => OnMessage(message);
    }

    public DeviceSettings Settings => _settings;

    /// <summary>Where replies to this connection's requests go; no other client uses it.</summary>
    public string ReplyTopic { get; }

    public bool IsMqtt5 => _mqtt5;

    /// <summary>The device's state as last retained on <c>P/state</c>; null when nothing is retained there.</summary>
    public DeviceState? State => _state;

    /// <summary>
    /// Connects, subscribes to the reply topic, <c>P/state</c> and <paramref name="subscriptions"/>, and returns once the
    /// broker has delivered what is retained on them. <paramref name="onMessage"/> sees every message but the replies,
    /// on the network thread (it must not block).
    /// </summary>
    /// <exception cref="DeviceException">The options are unusable, or the broker cannot be reached within the timeout.</exception>
    public static DeviceConnection Open(DeviceSettings settings, IEnumerable<string>? subscriptions = null, Action<MqttMessage>? onMessage = null)
    {
        var connection = new DeviceConnection(settings, onMessage);
        try
        {
            connection.Connect(subscriptions ?? []);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Refuses to go on when the device is not there: nothing retained on <c>P/state</c>, or <c>offline</c>.</summary>
    /// <exception cref="DeviceException">The device is offline or has never connected to this broker.</exception>
    public void RequireOnline()
    {
        switch (_state)
        {
            case null:
                throw DeviceException.NoAnswer(
                    $"device {_settings.DeviceId} has never been seen on {_settings.Broker}: nothing is retained on {_settings.StateTopic} " +
                    $"(is kairod running there with --broker {_settings.Broker} --device-id {_settings.DeviceId}, and is --prefix right?)");
            case { IsOffline: true } state:
                string details = state.Details() is { Length: > 0 } d ? $"{d}; " : "";
                throw DeviceException.NoAnswer($"device {_settings.DeviceId} is offline ({details}as retained on {_settings.StateTopic})");
        }
    }

    /// <summary>Sends the command <paramref name="name"/> with <paramref name="arguments"/> and waits for its reply.</summary>
    /// <exception cref="DeviceException">No reply within the timeout, or one that is not a reply.</exception>
    public DeviceReply Request(string name, JsonObject? arguments = null)
    {
        string id = Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);
        var payload = new JsonObject();
        foreach (var (key, value) in arguments ?? [])
        {
            payload[key] = value?.DeepClone();
        }

        payload["id"] = id;
        if (!_mqtt5)
        {
            payload["reply_to"] = ReplyTopic; // 3.1.1 has no Response Topic property
        }

        byte[]? reply = Exchange(_settings.CommandTopic(name), Json.Utf8(payload), id);
        if (reply == null)
        {
            string state = _state is { } s ? $"its retained state says {s.Describe()}" : $"nothing is retained on {_settings.StateTopic}";
            throw DeviceException.NoAnswer($"no reply from device {_settings.DeviceId} to {name} within {_settings.TimeoutText} ({state})");
        }

        return DeviceReply.Parse(reply)
            ?? throw new DeviceException(DeviceExit.ErrorReply, $"device {_settings.DeviceId} answered {name} with something that is not a reply: {Encoding.UTF8.GetString(reply)}");
    }

    /// <summary>
    /// Publishes <paramref name="payload"/> (QoS 1) to <paramref name="topic"/> with this connection's reply topic and
    /// <paramref name="id"/> as Correlation Data, and waits for the message on the reply topic that carries the same
    /// correlation (or, without MQTT 5, the same <c>id</c> in its payload). Null after the timeout.
    /// </summary>
    public byte[]? Exchange(string topic, ReadOnlySpan<byte> payload, string id)
    {
        byte[] correlation = Encoding.UTF8.GetBytes(id);
        lock (_gate)
        {
            _expectedCorrelation = correlation;
            _expectedId = id;
            _reply = null;
            _replied.Reset();
        }

        var properties = new MqttPublishProperties { ResponseTopic = ReplyTopic, CorrelationData = correlation, ContentType = "application/json" };
        try
        {
            _client.Publish(topic, payload, qos: 1, retain: false, properties);
        }
        catch (ArgumentException e)
        {
            throw DeviceException.Usage(e.Message);
        }
        catch (MosquittoException e)
        {
            throw DeviceException.NoAnswer($"could not send to {topic}: {e.Message}");
        }

        bool replied = _replied.Wait(_settings.Timeout);
        lock (_gate)
        {
            _expectedCorrelation = null;
            _expectedId = null;
            return replied ? _reply : null;
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _connected.Dispose();
        _replied.Dispose();
        _log.Dispose();
    }

    private void Connect(IEnumerable<string> subscriptions)
    {
        _client.Subscribe(ReplyTopic, 1);
        _client.Subscribe(_settings.StateTopic, 1);
        foreach (string filter in subscriptions)
        {
            _client.Subscribe(filter, 1);
        }

        try
        {
            _client.Start();
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidOperationException)
        {
            throw DeviceException.Usage(e.Message);
        }
        catch (MosquittoException e)
        {
            throw DeviceException.NoAnswer($"cannot connect to {_settings.Broker}: {e.Message}");
        }

        // A broker that refuses this client (credentials, client id) will refuse it again: no use waiting out the timeout.
        int signalled = WaitHandle.WaitAny([_connected.WaitHandle, _log.Refused.WaitHandle], _settings.Timeout);
        if (signalled == 1 && !_connected.IsSet)
        {
            string credentials = _settings.Username == null ? "" : " (check --username and --password-file)";
            throw DeviceException.NoAnswer($"{_settings.Broker} refused the connection: {_log.LastRefusal}{credentials}");
        }

        if (signalled == WaitHandle.WaitTimeout)
        {
            string why = _log.LastProblem is { } problem ? $" (last attempt: {problem})" : "";

            // A TLS broker that wants a client certificate ends the handshake without saying why.
            string hint = _settings.Broker.StartsWith("mqtts://", StringComparison.OrdinalIgnoreCase) && _settings.Tls?.CertFile == null
                ? "; if the broker requires client certificates, give --cert-file and --key-file"
                : "";
            throw DeviceException.NoAnswer($"no connection to {_settings.Broker} within {_settings.TimeoutText}{why}{hint}");
        }

        // The broker handles one client's packets in order: it sends what is retained on a filter when it handles the
        // SUBSCRIBE, so once a message published after the subscriptions comes back, the retained state is in.
        if (Exchange(ReplyTopic, Encoding.UTF8.GetBytes($"{{\"id\":\"{BarrierId}\"}}"), BarrierId) == null)
        {
            throw DeviceException.NoAnswer(
                $"{_settings.Broker} accepted the connection but did not deliver a message to its own sender within {_settings.TimeoutText}; " +
                "does the broker's access control allow subscribing to kairoctl/# and the device's topics?");
        }
    }

    /// <summary>On the network thread: completes the outstanding request, tracks the state, passes the rest on.</summary>
    private void OnMessage(MqttMessage message)
    {
        if (message.Topic == ReplyTopic)
        {
            lock (_gate)
            {
                if (_expectedCorrelation == null)
                {
                    return;
                }

                bool match = message.CorrelationData is { } correlation
                    ? correlation.AsSpan().SequenceEqual(_expectedCorrelation)
                    : IdOf(message.Payload) == _expectedId;
                if (match)
                {
                    _reply = message.Payload;
                    _expectedCorrelation = null;
                    _replied.Set();
                }
            }

            return;
        }

        if (message.Topic == _settings.StateTopic)
        {
            _state = DeviceState.Parse(message.Payload);
        }

        _onMessage?.Invoke(message);
    }

    /// <summary>The <c>id</c> of a reply, as text; only needed when the broker dropped the correlation data (MQTT 3.1.1).</summary>
    private static string? IdOf(byte[] payload)
    {
        try
        {
            return (JsonNode.Parse(payload) as JsonObject)?["id"] is JsonValue id
                ? id.GetValueKind() == JsonValueKind.String ? id.GetValue<string>() : id.ToJsonString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Keeps the client library's account of the last failed connection attempt, to say why none succeeded.</summary>
    private sealed class ConnectionLog : ILogger, IDisposable
    {
        private const int ConnectFailed = 102;
        private const int BrokerRefused = 103;
        private const int LibraryLine = 115;

        private volatile string? _lastProblem;
        private volatile string? _lastRefusal;

        public string? LastProblem => _lastProblem;

        /// <summary>Set when the broker answered the CONNECT with a refusal (not authorized, bad client id, ...).</summary>
        public ManualResetEventSlim Refused { get; } = new();

        public string? LastRefusal => _lastRefusal;

        public void Dispose() => Refused.Dispose();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            bool wanted = eventId.Id == ConnectFailed || logLevel >= (eventId.Id == LibraryLine ? LogLevel.Error : LogLevel.Warning);
            if (!wanted)
            {
                return;
            }

            string? reason = null;
            if (state is IReadOnlyList<KeyValuePair<string, object?>> fields)
            {
                foreach (var (key, value) in fields)
                {
                    if (key is "Reason" or "Line")
                    {
                        reason = value?.ToString();
                    }
                }
            }

            _lastProblem = reason ?? formatter(state, exception);
            if (eventId.Id == BrokerRefused)
            {
                _lastRefusal = _lastProblem;
                Refused.Set();
            }
        }
    }
}

/// <summary>The exit codes of the commands that talk to a device.</summary>
internal static class DeviceExit
{
    public const int Ok = 0;

    /// <summary>The device answered with an error reply.</summary>
    public const int ErrorReply = 1;

    public const int Usage = CtlCommand.UsageError;

    /// <summary>No answer: the broker was not reachable, the device is offline, or no reply came within the timeout.</summary>
    public const int NoAnswer = 3;
}

/// <summary>Ends a device command: the message for stderr and the exit code.</summary>
internal sealed class DeviceException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;

    public static DeviceException Usage(string message) => new(DeviceExit.Usage, message);

    public static DeviceException NoAnswer(string message) => new(DeviceExit.NoAnswer, message);
}

/// <summary>A device's retained <c>state</c>: <c>{state, seq, deviceId, ts}</c>.</summary>
internal sealed record DeviceState(string State, long? Seq, string? Ts)
{
    public bool IsOnline => State == "online";

    public bool IsOffline => State == "offline";

    /// <summary>Null for an empty payload (a cleared retained message); garbage reads as state "unreadable".</summary>
    public static DeviceState? Parse(byte[] payload)
    {
        if (payload.Length == 0)
        {
            return null;
        }

        try
        {
            if (JsonNode.Parse(payload) is JsonObject o)
            {
                return new DeviceState(
                    DeviceText.String(o["state"]) ?? "unreadable",
                    DeviceText.Long(o["seq"]),
                    DeviceText.String(o["ts"]));
            }
        }
        catch (JsonException)
        {
        }

        return new DeviceState("unreadable", null, null);
    }

    /// <summary><c>online (seq 4, since 2026-11-21 06:15:34 UTC)</c>.</summary>
    public string Describe() => Details() is { Length: > 0 } details ? $"{State} ({details})" : State;

    /// <summary><c>seq 4, since 2026-11-21 06:15:34 UTC</c>, or as much of it as the state carries.</summary>
    public string Details()
    {
        var parts = new List<string>();
        if (Seq is { } seq)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"seq {seq}"));
        }

        if (Ts != null)
        {
            parts.Add($"since {DeviceText.Timestamp(Ts)}");
        }

        return string.Join(", ", parts);
    }
}

/// <summary>A command reply: <c>{id, ok, code, message, data}</c>.</summary>
internal sealed record DeviceReply(JsonObject Document, bool Ok, string Code, string Message, JsonNode? Data)
{
    public static DeviceReply? Parse(byte[] payload)
    {
        try
        {
            if (JsonNode.Parse(payload) is JsonObject o && o["ok"] is JsonValue ok && ok.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
            {
                return new DeviceReply(o, ok.GetValue<bool>(), DeviceText.String(o["code"]) ?? "", DeviceText.String(o["message"]) ?? "", o["data"]);
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }
}
