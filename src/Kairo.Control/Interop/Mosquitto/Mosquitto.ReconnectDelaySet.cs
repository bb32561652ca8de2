using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

internal static partial class Mosquitto
{
    /// <summary>
    /// Whole seconds. With backoff on, libmosquitto 2.0 waits <c>delay * (n + 1)^2</c> before attempt n, capped at
    /// <paramref name="reconnectDelayMax"/> (its header says doubling; the code squares).
    /// </summary>
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_reconnect_delay_set")]
    internal static partial int ReconnectDelaySet(SafeMosquittoHandle mosq, uint reconnectDelay, uint reconnectDelayMax, [MarshalAs(UnmanagedType.U1)] bool exponentialBackoff);
}
