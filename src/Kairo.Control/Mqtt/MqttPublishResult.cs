namespace Kairo.Control.Mqtt;

/// <summary>What became of a message handed to <see cref="MqttClient.Publish"/>.</summary>
public enum MqttPublishResult
{
    /// <summary>Connected: handed to the network thread, which sends it.</summary>
    Sent,

    /// <summary>
    /// Not connected, QoS 1 or 2: kept by libmosquitto and sent after the next successful connect. The queue has no
    /// bound, so a publisher that may outlast a long outage should check <see cref="MqttClient.IsConnected"/>.
    /// </summary>
    Queued,

    /// <summary>Not connected, QoS 0: dropped.</summary>
    Dropped,
}
