using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

internal static unsafe partial class Mosquitto
{
    /// <summary><paramref name="options"/> 0: no MQTT 5 subscription options beyond the QoS.</summary>
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_subscribe_v5", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int SubscribeV5(SafeMosquittoHandle mosq, int* messageId, string filter, int qos, int options, nint properties);
}
