using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

internal static partial class Mosquitto
{
    /// <summary>
    /// Queues a DISCONNECT and marks the client disconnected, so the network thread stops reconnecting. Returns
    /// <see cref="MOSQ_ERR_NO_CONN"/> (having still marked it) when there is no connection.
    /// </summary>
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_disconnect_v5")]
    internal static partial int DisconnectV5(SafeMosquittoHandle mosq, int reasonCode, nint properties);
}
