using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

internal static partial class Mosquitto
{
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_username_pw_set", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int UsernamePwSet(SafeMosquittoHandle mosq, string? username, string? password);
}
