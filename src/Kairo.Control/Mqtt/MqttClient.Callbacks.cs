using Kairo.Control.Interop;
using Microsoft.Extensions.Logging;

namespace Kairo.Control.Mqtt;

// What the network thread reports, turned into state, subscriptions, restarts and events.

public sealed partial class MqttClient : IMosquittoEvents
{
    void IMosquittoEvents.OnConnect(int reasonCode, bool sessionPresent)
    {
        MqttProtocolVersion protocol = _protocol;
        if (reasonCode != 0)
        {
            // libmosquitto reports a 3.1.1 broker's "unacceptable protocol version" to an MQTT 5 client as 132 too.
            if (reasonCode == Mosquitto.MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION && protocol == MqttProtocolVersion.Mqtt5)
            {
                _protocol = MqttProtocolVersion.Mqtt311;
                Log.FallingBack(_logger, _broker);
                ScheduleRestart(immediately: true, "fallback to MQTT 3.1.1");
                return;
            }

            Volatile.Write(ref _refusal, reasonCode);
            Log.Refused(_logger, _broker, Mosquitto.ReasonText(reasonCode, protocol == MqttProtocolVersion.Mqtt5), reasonCode);
            return;
        }

        MosquittoSession? session;
        KeyValuePair<string, int>[] subscriptions;
        lock (_gate)
        {
            session = _session;
            if (_disposed || session == null)
            {
                return;
            }

            _connected = true;
            _refusal = 0;
            _restartDelay = _options.ReconnectMinDelay;
            _pendingSubscribes.Clear();
            subscriptions = [.. _subscriptions];
        }

        // The broker starts every session clean, so every filter is sent again, before anyone hears of the connection.
        foreach ((string filter, int qos) in subscriptions)
        {
            int rc = SendSubscribe(session, filter, qos);
            if (rc != Mosquitto.MOSQ_ERR_SUCCESS)
            {
                Log.ResubscribeFailed(_logger, filter, Mosquitto.ErrorText(rc));
            }
        }

        Log.Connected(_logger, _broker, protocol == MqttProtocolVersion.Mqtt5 ? "5" : "3.1.1", sessionPresent);
        Connected?.Invoke(this, new MqttConnectedEventArgs(protocol, sessionPresent));
    }

    void IMosquittoEvents.OnDisconnect(int code)
    {
        bool wasConnected;
        int refusal;
        lock (_gate)
        {
            wasConnected = _connected;
            _connected = false;
            refusal = _refusal;
        }

        string reason = Describe(code, refusal);
        if (wasConnected)
        {
            Log.Disconnected(_logger, _broker, reason, code);
        }
        else
        {
            Log.ConnectFailed(_logger, _broker, reason, code);
        }

        // After these the network thread reconnects by itself. After anything else (a refused MQTT 5 CONNACK, a
        // protocol error, a DISCONNECT from the broker) libmosquitto ends the thread, so the client starts a new one.
        if (code is not (Mosquitto.MOSQ_ERR_NO_CONN or Mosquitto.MOSQ_ERR_CONN_REFUSED or Mosquitto.MOSQ_ERR_CONN_LOST
            or Mosquitto.MOSQ_ERR_ERRNO or Mosquitto.MOSQ_ERR_KEEPALIVE))
        {
            ScheduleRestart(immediately: false, reason);
        }

        if (wasConnected)
        {
            Disconnected?.Invoke(this, new MqttDisconnectedEventArgs(code, reason));
        }
    }

    void IMosquittoEvents.OnMessage(MqttMessage message) => MessageReceived?.Invoke(this, message);

    void IMosquittoEvents.OnPublishAcknowledged(int messageId, int reasonCode)
    {
        if (reasonCode >= Mosquitto.MQTT_RC_UNSPECIFIED)
        {
            Log.PublishRefused(_logger, _broker, messageId, Mosquitto.ReasonText(reasonCode, mqtt5: true), reasonCode);
        }
    }

    void IMosquittoEvents.OnSubscribeAcknowledged(int messageId, ReadOnlySpan<int> grantedQos)
    {
        string? filter;
        lock (_gate)
        {
            _pendingSubscribes.Remove(messageId, out filter);
        }

        foreach (int granted in grantedQos)
        {
            if (granted >= Mosquitto.MQTT_RC_UNSPECIFIED)
            {
                Log.SubscribeRefused(_logger, _broker, filter ?? $"(message {messageId})", granted);
            }
        }
    }

    bool IMosquittoEvents.WantsLog(int level) => level == Mosquitto.MOSQ_LOG_ERR || _logger.IsEnabled(LevelOf(level));

    void IMosquittoEvents.OnLog(int level, string message)
    {
        Log.LibraryLine(_logger, LevelOf(level), message);

        // A failed TLS handshake ends libmosquitto's network thread without any callback but this log line; any
        // error while not connected therefore gets a new thread after the backoff (a spare one costs nothing).
        if (level == Mosquitto.MOSQ_LOG_ERR && !_connected)
        {
            ScheduleRestart(immediately: false, message);
        }
    }

    void IMosquittoEvents.OnCallbackFailed(string callback, Exception exception) => Log.HandlerFailed(_logger, callback, exception);

    private string Describe(int code, int refusal)
    {
        if (refusal != 0 && code == Mosquitto.MOSQ_ERR_PROTOCOL)
        {
            return "the broker refused the connection: " + Mosquitto.ReasonText(refusal, _protocol == MqttProtocolVersion.Mqtt5);
        }

        return code >= Mosquitto.MQTT_RC_UNSPECIFIED ? "the broker disconnected: " + Mosquitto.ReasonText(code, mqtt5: true) : Mosquitto.ErrorText(code);
    }

    /// <summary>libmosquitto's chatter (every packet sent) is Trace; its notices Debug; warnings and errors as such.</summary>
    private static LogLevel LevelOf(int level) => level switch
    {
        Mosquitto.MOSQ_LOG_ERR => LogLevel.Error,
        Mosquitto.MOSQ_LOG_WARNING => LogLevel.Warning,
        Mosquitto.MOSQ_LOG_NOTICE or Mosquitto.MOSQ_LOG_INFO => LogLevel.Debug,
        _ => LogLevel.Trace,
    };
}
