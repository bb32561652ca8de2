using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

internal static unsafe partial class Mosquitto
{
    /// <summary>
    /// Queues a PUBLISH for the network thread; safe from any thread. Properties are only allowed on an MQTT 5
    /// connection (<see cref="MOSQ_ERR_NOT_SUPPORTED"/> otherwise).
    /// </summary>
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_publish_v5", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int PublishV5(SafeMosquittoHandle mosq, int* messageId, string topic, int payloadLength, void* payload, int qos, [MarshalAs(UnmanagedType.U1)] bool retain, nint properties);
}
