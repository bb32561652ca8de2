using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

internal static partial class Mosquitto
{
    /// <summary>Starts libmosquitto's own network thread (<c>mosquitto_loop_forever</c> with reconnects).</summary>
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_loop_start")]
    internal static partial int LoopStart(SafeMosquittoHandle mosq);

    /// <summary>
    /// Joins the network thread. Without <paramref name="force"/> it returns only once the thread has ended by
    /// itself (after a disconnect); with it, the thread is cancelled at its next cancellation point first.
    /// </summary>
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_loop_stop")]
    internal static partial int LoopStop(SafeMosquittoHandle mosq, [MarshalAs(UnmanagedType.U1)] bool force);
}
