using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

internal static unsafe partial class Mosquitto
{
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_will_set_v5", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int WillSetV5(SafeMosquittoHandle mosq, string topic, int payloadLength, void* payload, int qos, [MarshalAs(UnmanagedType.U1)] bool retain, nint properties);
}
