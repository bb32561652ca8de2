using System.Runtime.InteropServices;
using Kairo.Control.Mqtt;

namespace Kairo.Control.Interop;

/// <summary>
/// One libmosquitto client object, its network thread, and the GCHandle through which its callbacks find their
/// owner. All raw pointers stay in here; the policy (what to subscribe, when to start over, which MQTT version)
/// belongs to the owner. A session serves one run of the network thread and ends with <see cref="Close"/>.
/// </summary>
internal sealed unsafe partial class MosquittoSession
{
    private readonly IMosquittoEvents _events;
    private SafeMosquittoHandle _handle = null!;
    private GCHandle _self;
    private bool _loopRunning;

    private MosquittoSession(IMosquittoEvents events) => _events = events;

    /// <summary>
    /// Creates the client object with a clean session. The GCHandle handed to libmosquitto as the callbacks' user
    /// data is a strong one: while the native object lives, so do this session and its owner.
    /// </summary>
    public static MosquittoSession Create(string clientId, IMosquittoEvents events)
    {
        Mosquitto.EnsureInitialized();
        var session = new MosquittoSession(events);
        session._self = GCHandle.Alloc(session);
        SafeMosquittoHandle handle = Mosquitto.New(clientId, cleanSession: true, GCHandle.ToIntPtr(session._self));
        if (handle.IsInvalid)
        {
            const int ENOMEM = 12;
            int errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            session._self.Free();
            throw Mosquitto.CreateException(errno == ENOMEM ? Mosquitto.MOSQ_ERR_NOMEM : Mosquitto.MOSQ_ERR_INVAL, $"mosquitto_new (client id '{clientId}')");
        }

        session._handle = handle;
        // Requests and replies are small packets sent right after another: with Nagle's algorithm each would wait
        // for the broker's delayed ACK (40 ms or more on Linux) before leaving.
        Mosquitto.ThrowIfError(Mosquitto.IntOption(handle, Mosquitto.MOSQ_OPT_TCP_NODELAY, 1), "Disabling Nagle's algorithm");
        session.RegisterCallbacks();
        return session;
    }

    public void SetProtocolVersion(MqttProtocolVersion version) =>
        Mosquitto.ThrowIfError(Mosquitto.IntOption(_handle, Mosquitto.MOSQ_OPT_PROTOCOL_VERSION, (int)version), "Setting the MQTT protocol version");

    public void SetReconnectDelay(uint minSeconds, uint maxSeconds) =>
        Mosquitto.ThrowIfError(Mosquitto.ReconnectDelaySet(_handle, minSeconds, maxSeconds, exponentialBackoff: true), "Setting the reconnect delay");

    public void SetCredentials(string username, string? password) =>
        Mosquitto.ThrowIfError(Mosquitto.UsernamePwSet(_handle, username, password), "Setting the MQTT user name and password");

    public void SetWill(string topic, ReadOnlySpan<byte> payload, int qos, bool retain)
    {
        fixed (byte* p = payload)
        {
            Mosquitto.ThrowIfError(Mosquitto.WillSetV5(_handle, topic, payload.Length, p, qos, retain, 0), $"Setting the last will on '{topic}'");
        }
    }

    /// <summary>TLS with the broker's certificate verified against <paramref name="caFile"/> or the CA directory, host name included.</summary>
    public void SetTls(string? caFile, string? caPath, string? certFile, string? keyFile)
    {
        Mosquitto.ThrowIfError(Mosquitto.TlsSet(_handle, caFile, caPath, certFile, keyFile, 0), "Setting up TLS (mosquitto_tls_set)");
        Mosquitto.ThrowIfError(Mosquitto.TlsOptsSet(_handle, Mosquitto.SSL_VERIFY_PEER, null, null), "Setting TLS options");
        Mosquitto.ThrowIfError(Mosquitto.TlsInsecureSet(_handle, insecure: false), "Enabling TLS host name verification");
    }

    /// <summary>Starts connecting; the returned code is left to the caller, since most failures are retried by the network thread.</summary>
    public int ConnectAsync(string host, int port, int keepAliveSeconds) => Mosquitto.ConnectAsync(_handle, host, port, keepAliveSeconds);

    public void StartLoop()
    {
        Mosquitto.ThrowIfError(Mosquitto.LoopStart(_handle), "Starting the MQTT network thread (mosquitto_loop_start)");
        _loopRunning = true;
    }

    /// <summary>
    /// Sends DISCONNECT with <paramref name="reasonCode"/> (an MQTT 5 reason) and stops reconnecting. Returns
    /// <see cref="Mosquitto.MOSQ_ERR_NO_CONN"/> when there is no connection to send it on.
    /// </summary>
    public int Disconnect(int reasonCode)
    {
        Interlocked.Exchange(ref _disconnectRequested, 1);
        try
        {
            return Mosquitto.DisconnectV5(_handle, reasonCode, 0);
        }
        catch (ObjectDisposedException)
        {
            return Mosquitto.MOSQ_ERR_NO_CONN;
        }
    }

    /// <summary>
    /// Queues a PUBLISH; returns the libmosquitto code (<see cref="Mosquitto.MOSQ_ERR_NO_CONN"/> when not connected).
    /// A QoS 1 or 2 message counts as unacknowledged until the broker's PUBACK or PUBCOMP for it has been read.
    /// </summary>
    public int Publish(string topic, ReadOnlySpan<byte> payload, int qos, bool retain, MqttPublishProperties? properties)
    {
        nint list = 0;
        try
        {
            if (properties != null)
            {
                AddProperties(&list, properties);
            }

            fixed (byte* p = payload)
            {
                // Held across the call, so the network thread cannot report the acknowledgement before it is awaited
                // (libmosquitto queues the packet under its own out-packet lock and returns; it never waits here).
                lock (_acknowledgements)
                {
                    int messageId = 0;
                    int rc = Mosquitto.PublishV5(_handle, &messageId, topic, payload.Length, p, qos, retain, list);
                    if (rc == Mosquitto.MOSQ_ERR_SUCCESS && qos > 0)
                    {
                        _unacknowledged.Add(messageId);
                    }

                    return rc;
                }
            }
        }
        catch (ObjectDisposedException)
        {
            // The session was released by a restart between the caller's read of it and this call.
            return Mosquitto.MOSQ_ERR_NO_CONN;
        }
        finally
        {
            if (list != 0)
            {
                Mosquitto.PropertyFreeAll(&list);
            }
        }
    }

    public int Subscribe(string filter, int qos, out int messageId)
    {
        int mid = 0;
        try
        {
            int rc = Mosquitto.SubscribeV5(_handle, &mid, filter, qos, 0, 0);
            messageId = mid;
            return rc;
        }
        catch (ObjectDisposedException)
        {
            messageId = 0;
            return Mosquitto.MOSQ_ERR_NO_CONN;
        }
    }

    public static bool IsValidTopicName(string topic) => Mosquitto.PubTopicCheck(topic) == Mosquitto.MOSQ_ERR_SUCCESS;

    public static bool IsValidTopicFilter(string filter) => Mosquitto.SubTopicCheck(filter) == Mosquitto.MOSQ_ERR_SUCCESS;

    private static void AddProperties(nint* list, MqttPublishProperties properties)
    {
        if (properties.ResponseTopic is { } responseTopic)
        {
            Mosquitto.ThrowIfError(Mosquitto.PropertyAddString(list, Mosquitto.MQTT_PROP_RESPONSE_TOPIC, responseTopic), "Adding the response topic");
        }

        if (!properties.CorrelationData.IsEmpty)
        {
            ReadOnlySpan<byte> data = properties.CorrelationData.Span;
            fixed (byte* p = data)
            {
                Mosquitto.ThrowIfError(Mosquitto.PropertyAddBinary(list, Mosquitto.MQTT_PROP_CORRELATION_DATA, p, checked((ushort)data.Length)), "Adding the correlation data");
            }
        }

        if (properties.ContentType is { } contentType)
        {
            Mosquitto.ThrowIfError(Mosquitto.PropertyAddString(list, Mosquitto.MQTT_PROP_CONTENT_TYPE, contentType), "Adding the content type");
        }
    }
}
