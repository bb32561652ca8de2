namespace Kairo.Control.Mqtt;

/// <summary>A message received on a subscription, copied out of libmosquitto's memory: it may be kept freely.</summary>
public sealed class MqttMessage
{
    public required string Topic { get; init; }

    public required byte[] Payload { get; init; }

    public int Qos { get; init; }

    /// <summary>True when the broker delivered a retained message because of a new subscription.</summary>
    public bool Retain { get; init; }

    /// <summary>MQTT 5 Response Topic, where the sender wants a reply; null under 3.1.1 or when absent.</summary>
    public string? ResponseTopic { get; init; }

    /// <summary>MQTT 5 Correlation Data, to be echoed in the reply; null under 3.1.1 or when absent.</summary>
    public byte[]? CorrelationData { get; init; }

    /// <summary>MQTT 5 Content Type; null under 3.1.1 or when absent.</summary>
    public string? ContentType { get; init; }
}
