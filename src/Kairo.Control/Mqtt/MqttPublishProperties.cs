namespace Kairo.Control.Mqtt;

/// <summary>
/// MQTT 5 properties of an outgoing message. On a 3.1.1 connection they are dropped, so anything a 3.1.1 peer needs
/// (a reply topic, a request id) belongs in the payload as well.
/// </summary>
public sealed class MqttPublishProperties
{
    public string? ResponseTopic { get; init; }

    /// <summary>At most 65,535 bytes; empty means absent.</summary>
    public ReadOnlyMemory<byte> CorrelationData { get; init; }

    public string? ContentType { get; init; }
}
