using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

internal static partial class Mosquitto
{
    /// <summary>
    /// Starts connecting without waiting for the broker; the network thread finishes the handshake. The MQTT
    /// version of the CONNECT is the one set with <see cref="MOSQ_OPT_PROTOCOL_VERSION"/>.
    /// </summary>
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_connect_async", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ConnectAsync(SafeMosquittoHandle mosq, string host, int port, int keepAlive);
}
