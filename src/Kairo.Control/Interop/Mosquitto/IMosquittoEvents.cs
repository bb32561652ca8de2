using Kairo.Control.Mqtt;

namespace Kairo.Control.Interop;

/// <summary>
/// What a <see cref="MosquittoSession"/> reports from libmosquitto's callbacks, with everything already copied out
/// of native memory. Called on the network thread (log lines also on whichever thread made the call that logged),
/// one callback at a time per thread; an exception thrown here is caught and handed to
/// <see cref="OnCallbackFailed"/>.
/// </summary>
internal interface IMosquittoEvents
{
    /// <summary>A CONNACK: <paramref name="reasonCode"/> 0 is success, anything else a refusal.</summary>
    void OnConnect(int reasonCode, bool sessionPresent);

    /// <summary>
    /// The connection ended or a connection attempt failed. <paramref name="code"/> is a libmosquitto error number,
    /// or, when the broker sent a DISCONNECT, its MQTT 5 reason code (128 and above).
    /// </summary>
    void OnDisconnect(int code);

    void OnMessage(MqttMessage message);

    void OnPublishAcknowledged(int messageId, int reasonCode);

    void OnSubscribeAcknowledged(int messageId, ReadOnlySpan<int> grantedQos);

    /// <summary>Asked before a log line is copied, so unwanted lines cost no string.</summary>
    bool WantsLog(int level);

    void OnLog(int level, string message);

    void OnCallbackFailed(string callback, Exception exception);
}
