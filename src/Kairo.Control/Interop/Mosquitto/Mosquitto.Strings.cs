using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

internal static unsafe partial class Mosquitto
{
    // All three return static strings owned by the library.

    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_strerror")]
    private static partial byte* StrError(int mosqErrno);

    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_connack_string")]
    private static partial byte* ConnackString(int connackCode);

    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_reason_string")]
    private static partial byte* ReasonString(int reasonCode);
}
