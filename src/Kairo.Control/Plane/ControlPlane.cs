using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;
using System.Threading.Channels;
using Kairo.Control.Mqtt;
using Microsoft.Extensions.Logging;

namespace Kairo.Control.Plane;

/// <summary>
/// The device's side of MQTT (docs/control-plane.md): retained <c>state</c> and <c>birth</c>, requests on
/// <c>cmd/{name}</c> answered through the MQTT 5 response topic and correlation data or a <c>reply_to</c> in the
/// payload, periodic <c>telemetry/{loop}</c>, and <c>events</c>. Requests run one at a time on the control plane's
/// own thread, never on the network thread and never on a loop thread.
/// </summary>
public sealed class ControlPlane : IDisposable
{
    private static readonly byte[] EmptyObject = "{}"u8.ToArray();

    private readonly ControlPlaneOptions _options;
    private readonly CommandDispatcher _dispatcher;
    private readonly Func<JsonObject> _birth;
    private readonly Func<IEnumerable<(string Loop, JsonObject Telemetry)>> _telemetry;
    private readonly ILogger _logger;
    private readonly MqttClient _client;
    private readonly Channel<MqttMessage> _requests;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ManualResetEventSlim _offlineEcho = new();
    private readonly string _prefix;
    private Thread? _commandThread;
    private Thread? _telemetryThread;
    private volatile bool _stopped;
    private volatile bool _started;

    public ControlPlane(ControlPlaneOptions options, CommandDispatcher dispatcher, Func<JsonObject> birth, Func<IEnumerable<(string Loop, JsonObject Telemetry)>> telemetry, ILogger logger)
    {
        _options = options;
        _dispatcher = dispatcher;
        _birth = birth;
        _telemetry = telemetry;
        _logger = logger;
        _prefix = options.TopicPrefix;
        _requests = Channel.CreateBounded<MqttMessage>(new BoundedChannelOptions(options.QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        var mqtt = options.Mqtt;
        _client = new MqttClient(
            new MqttClientOptions
            {
                Uri = mqtt.Uri,
                ClientId = mqtt.ClientId,
                KeepAlive = mqtt.KeepAlive,
                Username = mqtt.Username,
                PasswordFile = mqtt.PasswordFile,
                Tls = mqtt.Tls,
                ProtocolVersion = mqtt.ProtocolVersion,
                ReconnectMinDelay = mqtt.ReconnectMinDelay,
                ReconnectMaxDelay = mqtt.ReconnectMaxDelay,
                StopTimeout = mqtt.StopTimeout,
                Will = new MqttWill { Topic = StateTopic, Payload = StatePayload("offline"), Qos = 1, Retain = true },
            },
            logger);
        _client.Connected += OnConnected;
        _client.MessageReceived += OnMessage;
    }

    public string Prefix => _prefix;

    public string StateTopic => $"{_prefix}/state";

    public string BirthTopic => $"{_prefix}/birth";

    public string EventsTopic => $"{_prefix}/events";

    public ControlPlaneCounters Counters { get; } = new();

    public bool IsConnected => _client.IsConnected;

    public MqttClient Client => _client;

    /// <summary>Starts connecting (a broker not yet up is retried with backoff) and the command and telemetry threads.</summary>
    public void Start()
    {
        _client.Subscribe($"{_prefix}/cmd/+", 1);
        _client.Subscribe(StateTopic, 1);
        _commandThread = new Thread(RunCommands) { Name = "kairo-commands", IsBackground = true };
        _commandThread.Start();
        if (_options.TelemetryInterval > TimeSpan.Zero)
        {
            _telemetryThread = new Thread(RunTelemetry) { Name = "kairo-telemetry", IsBackground = true };
            _telemetryThread.Start();
        }

        // Before the client starts: its first connection may come up at once, and the birth and online state it
        // publishes from the network thread must not be dropped as "not started yet".
        _started = true;
        _client.Start();
    }

    /// <summary>Publishes an event on <c>events</c> (QoS 1): <c>{type, ts, ...fields}</c>.</summary>
    public void PublishEvent(string type, JsonObject? fields = null)
    {
        var payload = new JsonObject { ["type"] = type, ["ts"] = DateTimeOffset.UtcNow.ToString("O") };
        foreach (var (key, value) in fields ?? [])
        {
            payload[key] = value?.DeepClone();
        }

        Publish(EventsTopic, payload, qos: 1, retain: false);
    }

    /// <summary>Publishes JSON to a topic under the prefix (or an absolute topic when it starts with the prefix).</summary>
    public void Publish(string topic, JsonNode payload, int qos, bool retain)
    {
        if (_stopped || !_started || !_client.IsConnected)
        {
            // Before Start the birth carries the state of things; after Stop nothing more is said; while not
            // connected nothing is handed to libmosquitto (see PublishOutput), and the birth on reconnect says what is.
            return;
        }

        var scratch = JsonScratch.Rent();
        try
        {
            payload.WriteTo(scratch.Writer);
            _client.Publish(topic, scratch.Written, qos, retain);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or ObjectDisposedException or MosquittoException)
        {
            _logger.LogWarning("publishing to {Topic} failed: {Message}", topic, e.Message);
        }
        finally
        {
            scratch.Return();
        }
    }

    /// <summary>
    /// Publishes a loop output (an <see cref="MqttSink"/>'s path) while connected, and drops it otherwise: a message
    /// handed to libmosquitto while it is still connecting can go out ahead of CONNECT, and the broker then closes
    /// the connection as a protocol error, so a sink publishing steadily could keep the device from ever connecting.
    /// Dropping also keeps an outage from piling outputs up in libmosquitto's unbounded queue.
    /// </summary>
    /// <returns>Whether the output was handed over.</returns>
    public bool PublishOutput(string topic, byte[] payload, int qos)
    {
        if (_stopped || !_started || !_client.IsConnected)
        {
            return false;
        }

        try
        {
            return _client.Publish(topic, payload, qos, retain: false) == MqttPublishResult.Sent;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or ObjectDisposedException or MosquittoException)
        {
            return false;
        }
    }

    /// <summary>Publishes the birth again (after something it describes changed).</summary>
    public void PublishBirth() => Publish(BirthTopic, Birth(), qos: 1, retain: true);

    /// <summary>
    /// Says offline (retained, with this start's sequence number), waits until the broker has it, and disconnects
    /// without the last will. Bounded by <paramref name="timeout"/>.
    /// </summary>
    public void Stop(TimeSpan timeout)
    {
        if (_stopped)
        {
            return;
        }

        if (_client.IsConnected)
        {
            _offlineEcho.Reset();
            Publish(StateTopic, JsonNode.Parse(StatePayload("offline").Span)!, qos: 1, retain: true);
            _offlineEcho.Wait(timeout); // our own subscription to state shows the broker has it
        }

        _stopped = true;
        _stopping.Cancel();
        _requests.Writer.TryComplete();
        _commandThread?.Join(timeout);
        _telemetryThread?.Join(timeout);
        _client.Dispose();
    }

    public void Dispose()
    {
        Stop(TimeSpan.FromSeconds(2));
        _stopping.Dispose();
        _offlineEcho.Dispose();
    }

    private ReadOnlyMemory<byte> StatePayload(string state) => Json.Utf8(new JsonObject
    {
        ["state"] = state,
        ["seq"] = _options.BirthSequence,
        ["deviceId"] = _options.DeviceId,
        ["ts"] = DateTimeOffset.UtcNow.ToString("O"),
    });

    private JsonObject Birth()
    {
        var birth = _birth();
        birth["seq"] = _options.BirthSequence;
        birth["deviceId"] = _options.DeviceId;
        birth["prefix"] = _prefix;
        birth["protocol"] = _client.ProtocolVersion == MqttProtocolVersion.Mqtt5 ? "5" : "3.1.1";
        birth["commands"] = new JsonArray(_dispatcher.Names.Select(n => (JsonNode?)n).ToArray());
        return birth;
    }

    private void OnConnected(object? sender, MqttConnectedEventArgs e)
    {
        // On every (re)connect: the birth first, then online, so a watcher that sees online can read the birth.
        Publish(BirthTopic, Birth(), qos: 1, retain: true);
        Publish(StateTopic, JsonNode.Parse(StatePayload("online").Span)!, qos: 1, retain: true);
    }

    private void OnMessage(object? sender, MqttMessage message)
    {
        if (message.Topic == StateTopic)
        {
            if (_stopped || message.Payload.AsSpan().IndexOf("\"offline\""u8) >= 0)
            {
                _offlineEcho.Set();
            }

            return;
        }

        if (!message.Topic.StartsWith(_prefix + "/cmd/", StringComparison.Ordinal))
        {
            return;
        }

        Counters.CountReceived();
        if (message.Payload.Length > _options.MaxPayloadBytes)
        {
            Counters.CountRejected();
            Reply(message, null, CommandReply.Error(ErrorCodes.TooLarge, $"the request is {message.Payload.Length} bytes; the limit is {_options.MaxPayloadBytes}"), replyTo: null);
            return;
        }

        if (!_requests.Writer.TryWrite(message))
        {
            Counters.CountBusy();
            Reply(message, null, CommandReply.Error(ErrorCodes.Busy, $"{_options.QueueCapacity} requests are waiting; try again"), replyTo: null);
        }
    }

    private void RunCommands()
    {
        var reader = _requests.Reader;
        try
        {
            while (reader.WaitToReadAsync(_stopping.Token).AsTask().GetAwaiter().GetResult())
            {
                while (reader.TryRead(out var message))
                {
                    try
                    {
                        Handle(message);
                    }
                    catch (Exception e)
                    {
                        // One request must never end the command thread (or, unhandled, the process).
                        _logger.LogError("request on {Topic} failed: {Message}", message.Topic, e.Message);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Handle(MqttMessage message)
    {
        string name = message.Topic[(_prefix.Length + "/cmd/".Length)..];
        JsonObject arguments;
        JsonNode? id;
        string? replyTo = null;
        try
        {
            if (!Utf8.IsValid(message.Payload))
            {
                Refuse(message, "the payload is not valid UTF-8; send UTF-8 JSON", replyTo: null);
                return;
            }

            var parsed = JsonNode.Parse(message.Payload.Length == 0 ? EmptyObject : message.Payload);
            if (parsed is not JsonObject obj)
            {
                Refuse(message, "the payload must be a JSON object, e.g. {\"id\": \"1\"}", replyTo: null);
                return;
            }

            _ = obj.Count; // builds the property table now, so a duplicate property is refused here and not in a handler
            arguments = obj;
            if (arguments.ContainsKey("reply_to") && !(arguments["reply_to"] is JsonValue replyValue && replyValue.TryGetValue(out replyTo)))
            {
                Refuse(message, "'reply_to' must be a string: the topic to answer on", replyTo: null);
                return;
            }

            arguments.Remove("reply_to");
            id = arguments["id"];
            arguments.Remove("id");
            if (id is JsonValue value && value.GetValueKind() == JsonValueKind.String)
            {
                id = JsonValue.Create(value.GetValue<string>()); // reads it: a lone surrogate escape throws here
            }
            else if (id != null && id.GetValueKind() != JsonValueKind.Number)
            {
                Refuse(message, "'id' must be a string or a number", replyTo);
                return;
            }
        }
        catch (JsonException e)
        {
            Refuse(message, $"the payload is not valid JSON: {e.Message}", replyTo: null);
            return;
        }
        catch (ArgumentException e)
        {
            Refuse(message, $"the payload has a duplicate property; give each once ({e.Message})", replyTo: null);
            return;
        }
        catch (InvalidOperationException e)
        {
            Refuse(message, $"the payload holds a string that is not valid text: {e.Message}", replyTo);
            return;
        }

        var reply = _dispatcher.Dispatch(new CommandRequest(name, arguments));
        if (reply.Code == ErrorCodes.UnknownCommand)
        {
            Counters.CountRejected();
        }
        else
        {
            Counters.CountExecuted();
        }

        Reply(message, id, reply, replyTo);
    }

    private void Refuse(MqttMessage request, string message, string? replyTo)
    {
        Counters.CountRejected();
        Reply(request, null, CommandReply.Error(ErrorCodes.BadRequest, message), replyTo);
    }

    private void Reply(MqttMessage request, JsonNode? id, CommandReply reply, string? replyTo)
    {
        string? topic = request.ResponseTopic ?? replyTo;
        if (string.IsNullOrEmpty(topic) || topic.Contains('+') || topic.Contains('#'))
        {
            Counters.CountUnanswerable();
            return;
        }

        if (!_client.IsConnected)
        {
            Counters.CountUnanswerable(); // not handed to libmosquitto while it reconnects (see PublishOutput)
            return;
        }

        var properties = request.CorrelationData is { } correlation
            ? new MqttPublishProperties { CorrelationData = correlation, ContentType = "application/json" }
            : new MqttPublishProperties { ContentType = "application/json" };
        var scratch = JsonScratch.Rent();
        try
        {
            try
            {
                reply.WriteTo(scratch.Writer, id);
            }
            catch (Exception e) when (reply.DataWriter != null)
            {
                // A handler's data writer failed halfway: the reply says so instead (Rent starts the buffer over).
                scratch.Return();
                scratch = JsonScratch.Rent();
                CommandReply.Error(ErrorCodes.Internal, $"writing the reply failed: {e.Message}").WriteTo(scratch.Writer, id);
            }

            _client.Publish(topic, scratch.Written, 1, retain: false, properties);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or ObjectDisposedException or MosquittoException)
        {
            Counters.CountUnanswerable();
        }
        finally
        {
            scratch.Return();
        }
    }

    private void RunTelemetry()
    {
        var token = _stopping.Token;
        while (!token.WaitHandle.WaitOne(_options.TelemetryInterval))
        {
            if (!_client.IsConnected)
            {
                continue;
            }

            try
            {
                foreach (var (loop, telemetry) in _telemetry())
                {
                    Publish($"{_prefix}/telemetry/{loop}", telemetry, qos: 0, retain: false);
                }
            }
            catch (Exception e)
            {
                _logger.LogWarning("telemetry failed: {Message}", e.Message);
            }
        }
    }
}
