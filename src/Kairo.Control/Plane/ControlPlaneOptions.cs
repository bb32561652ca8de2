using Kairo.Control.Mqtt;

namespace Kairo.Control.Plane;

/// <summary>How the control plane reaches its broker and shapes its topics.</summary>
public sealed class ControlPlaneOptions
{
    /// <summary>The broker connection; the control plane adds its own last will (the offline state).</summary>
    public required MqttClientOptions Mqtt { get; init; }

    public required string DeviceId { get; init; }

    /// <summary>The topic prefix; <c>{deviceId}</c> in it is replaced. Default <c>kairo/{deviceId}</c>.</summary>
    public string Prefix { get; init; } = "kairo/{deviceId}";

    /// <summary>This start's birth/death sequence number: the offline will and the online state carry it.</summary>
    public long BirthSequence { get; init; }

    /// <summary>Requests larger than this are refused unread.</summary>
    public int MaxPayloadBytes { get; init; } = 64 * 1024;

    /// <summary>Requests waiting for the command thread; beyond it they are refused as busy.</summary>
    public int QueueCapacity { get; init; } = 64;

    /// <summary>How often <c>telemetry/{loop}</c> is published; zero turns it off.</summary>
    public TimeSpan TelemetryInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The resolved prefix.</summary>
    public string TopicPrefix => Prefix.Replace("{deviceId}", DeviceId, StringComparison.Ordinal).TrimEnd('/');
}
