using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

internal static unsafe partial class Mosquitto
{
    /// <summary>
    /// <c>mosquitto_new</c>: a client object whose callbacks receive <paramref name="userData"/> as their
    /// <c>obj</c>. Invalid on failure, with errno set (ENOMEM, EINVAL).
    /// </summary>
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_new", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial SafeMosquittoHandle New(string clientId, [MarshalAs(UnmanagedType.U1)] bool cleanSession, nint userData);

    /// <summary><c>mosquitto_destroy</c>; only <see cref="SafeMosquittoHandle"/> calls it.</summary>
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_destroy")]
    internal static partial void Destroy(nint mosq);
}
