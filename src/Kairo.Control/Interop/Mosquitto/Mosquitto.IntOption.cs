using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

internal static partial class Mosquitto
{
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_int_option")]
    internal static partial int IntOption(SafeMosquittoHandle mosq, int option, int value);
}
