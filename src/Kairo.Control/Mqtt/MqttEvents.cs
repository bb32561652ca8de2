namespace Kairo.Control.Mqtt;

/// <summary>The broker accepted the connection.</summary>
/// <param name="ProtocolVersion">The MQTT version of this connection (3.1.1 after a fallback).</param>
/// <param name="SessionPresent">The broker's CONNACK session-present flag.</param>
public readonly record struct MqttConnectedEventArgs(MqttProtocolVersion ProtocolVersion, bool SessionPresent);

/// <summary>An established connection ended without the client being disposed.</summary>
/// <param name="Code">
/// libmosquitto's error number (7: connection lost, 19: keep-alive timeout, ...) or, when the broker sent a
/// DISCONNECT, its MQTT 5 reason code (128 and above).
/// </param>
/// <param name="Reason">The text for <paramref name="Code"/>.</param>
public readonly record struct MqttDisconnectedEventArgs(int Code, string Reason);
