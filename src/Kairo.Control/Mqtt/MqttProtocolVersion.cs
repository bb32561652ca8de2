namespace Kairo.Control.Mqtt;

/// <summary>The MQTT protocol versions Kairo speaks; the values are the protocol level byte of CONNECT.</summary>
public enum MqttProtocolVersion
{
    Mqtt311 = 4,
    Mqtt5 = 5,
}
