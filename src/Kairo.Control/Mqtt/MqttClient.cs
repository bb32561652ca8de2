using Kairo.Control.Interop;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kairo.Control.Mqtt;

/// <summary>
/// An MQTT client over libmosquitto: MQTT 5, falling back to 3.1.1 when the broker refuses 5; TLS with host name
/// verification and optional client certificates; a password read from a private file; reconnects with backoff, the
/// subscriptions sent again after each one. The network runs on libmosquitto's own thread; nothing here waits for it.
/// </summary>
/// <remarks>
/// <para><see cref="Publish"/> and <see cref="Subscribe"/> may be called from any thread, event handlers included:
/// libmosquitto is thread-safe while its network thread runs, and only queues the packet.</para>
/// <para>Events are raised on the network thread, one at a time. A handler that blocks stalls the connection, keep-alive
/// included, so hand real work to another thread. An exception from a handler is logged and goes no further. No event
/// is raised once <see cref="Dispose"/> or <see cref="Abort"/> has begun.</para>
/// <para>A client that is started must be disposed: until then the native object keeps it alive.</para>
/// </remarks>
public sealed partial class MqttClient : IDisposable
{
    /// <summary>Where OpenSSL finds the system's CA certificates on Debian when no CA file is given.</summary>
    internal const string SystemCaPath = "/etc/ssl/certs";

    private readonly MqttClientOptions _options;
    private readonly MqttBrokerAddress _address;
    private readonly ILogger _logger;
    private readonly string _broker;

    // _gate guards the state below; it is never held across a call that waits for the network thread.
    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _subscriptions = new(StringComparer.Ordinal);
    private readonly Dictionary<int, string> _pendingSubscribes = [];
    private MosquittoSession? _session;
    private string? _password;
    private bool _started;
    private bool _disposed;
    private volatile bool _connected;
    private volatile MqttProtocolVersion _protocol;
    private int _refusal;

    /// <summary>Checks <paramref name="options"/> and loads libmosquitto; nothing connects before <see cref="Start"/>.</summary>
    /// <exception cref="ArgumentException">An option is invalid; the message names it, its value and the fix.</exception>
    public MqttClient(MqttClientOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _address = options.Validate();
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _broker = _address.ToString();
        _protocol = options.ProtocolVersion;
        _restartDelay = options.ReconnectMinDelay;
        Mosquitto.EnsureInitialized();
    }

    /// <summary>The connection is up (CONNACK accepted).</summary>
    public event EventHandler<MqttConnectedEventArgs>? Connected;

    /// <summary>An established connection ended; the client reconnects by itself.</summary>
    public event EventHandler<MqttDisconnectedEventArgs>? Disconnected;

    /// <summary>A message arrived on one of the subscriptions.</summary>
    public event EventHandler<MqttMessage>? MessageReceived;

    /// <summary>The version of libmosquitto in use (for reports such as a birth message).</summary>
    public static Version NativeLibraryVersion => Mosquitto.Version;

    public bool IsConnected => _connected;

    /// <summary>
    /// The MQTT version in use: the preferred one until a broker refuses it, 3.1.1 after a fallback.
    /// </summary>
    public MqttProtocolVersion ProtocolVersion => _protocol;

    /// <summary>
    /// Reads the password file, sets up the native client, starts connecting and starts the network thread; returns at
    /// once. A broker that cannot be reached yet is not an error: the client keeps trying.
    /// </summary>
    /// <exception cref="FileNotFoundException">The password, CA, certificate or key file is missing.</exception>
    /// <exception cref="InvalidOperationException">Already started, or a secret file is readable by every user.</exception>
    /// <exception cref="MosquittoException">libmosquitto refused the settings.</exception>
    public void Start()
    {
        lock (_lifecycle)
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (_started)
                {
                    throw new InvalidOperationException("The MQTT client is already started.");
                }
            }

            ReadFiles();
            MosquittoSession session = CreateSession();
            lock (_gate)
            {
                _session = session;
                _started = true;
            }

            try
            {
                Connect(session);
            }
            catch
            {
                lock (_gate)
                {
                    _session = null;
                    _started = false;
                }

                session.Release();
                throw;
            }
        }
    }

    /// <summary>
    /// Publishes a message. The MQTT 5 <paramref name="properties"/> are dropped on a 3.1.1 connection.
    /// </summary>
    /// <returns>Whether it went out, waits in libmosquitto's queue for a connection, or was dropped.</returns>
    /// <exception cref="ArgumentException">The topic is not a valid topic name, or the QoS is not 0, 1 or 2.</exception>
    /// <exception cref="MosquittoException">libmosquitto refused the message (too large, for instance).</exception>
    public MqttPublishResult Publish(string topic, ReadOnlySpan<byte> payload, int qos, bool retain, MqttPublishProperties? properties = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        CheckQos(qos);
        if (properties != null && properties.CorrelationData.Length > ushort.MaxValue)
        {
            throw new ArgumentException($"Correlation data of {properties.CorrelationData.Length} bytes is too long; MQTT allows 65535.", nameof(properties));
        }

        MosquittoSession? session;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_started)
            {
                throw new InvalidOperationException("Start the MQTT client before publishing.");
            }

            session = _session;
        }

        if (session == null)
        {
            return MqttPublishResult.Dropped; // Between two runs of the network thread.
        }

        bool mqtt5 = _protocol == MqttProtocolVersion.Mqtt5;
        int rc = session.Publish(topic, payload, qos, retain, mqtt5 ? properties : null);
        if (rc == Mosquitto.MOSQ_ERR_NOT_SUPPORTED && mqtt5 && properties != null)
        {
            rc = session.Publish(topic, payload, qos, retain, null); // The connection fell back to 3.1.1 meanwhile.
        }

        return rc switch
        {
            Mosquitto.MOSQ_ERR_SUCCESS => MqttPublishResult.Sent,
            Mosquitto.MOSQ_ERR_NO_CONN => qos == 0 ? MqttPublishResult.Dropped : MqttPublishResult.Queued,
            Mosquitto.MOSQ_ERR_INVAL when !MosquittoSession.IsValidTopicName(topic) =>
                throw new ArgumentException($"'{topic}' is not a valid MQTT topic to publish to: no '+' or '#', valid UTF-8, at most 65535 bytes.", nameof(topic)),
            _ => throw Mosquitto.CreateException(rc, $"Publishing to '{topic}'"),
        };
    }

    /// <summary>
    /// Subscribes now if connected, and again after every reconnect. Subscribing again to the same filter changes
    /// its QoS. May be called before <see cref="Start"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The filter is not a valid topic filter, or the QoS is not 0, 1 or 2.</exception>
    public void Subscribe(string filter, int qos)
    {
        ArgumentException.ThrowIfNullOrEmpty(filter);
        CheckQos(qos);
        if (!MosquittoSession.IsValidTopicFilter(filter))
        {
            throw new ArgumentException($"'{filter}' is not a valid MQTT topic filter: '#' may only be the last level and '+' must be a whole level.", nameof(filter));
        }

        MosquittoSession? session;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _subscriptions[filter] = qos;
            session = _connected ? _session : null;
        }

        // If the connection comes up meanwhile, the connect handler subscribes too: a duplicate SUBSCRIBE is harmless.
        if (session != null)
        {
            int rc = SendSubscribe(session, filter, qos);
            if (rc is not (Mosquitto.MOSQ_ERR_SUCCESS or Mosquitto.MOSQ_ERR_NO_CONN))
            {
                throw Mosquitto.CreateException(rc, $"Subscribing to '{filter}'");
            }
        }
    }

    private int SendSubscribe(MosquittoSession session, string filter, int qos)
    {
        int rc = session.Subscribe(filter, qos, out int messageId);
        if (rc == Mosquitto.MOSQ_ERR_SUCCESS)
        {
            lock (_gate)
            {
                _pendingSubscribes[messageId] = filter;
            }
        }

        return rc;
    }

    private static void CheckQos(int qos, string name = "qos")
    {
        if (qos is < 0 or > 2)
        {
            throw new ArgumentOutOfRangeException(name, qos, "MQTT QoS is 0, 1 or 2.");
        }
    }
}
