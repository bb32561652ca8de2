using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

internal static partial class Mosquitto
{
    /// <summary>
    /// <c>mosquitto_tls_set</c> without a key-password callback (Kairo's keys are unencrypted files guarded by their
    /// mode). The library checks here that the named files can be opened.
    /// </summary>
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_tls_set", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int TlsSet(SafeMosquittoHandle mosq, string? caFile, string? caPath, string? certFile, string? keyFile, nint passwordCallback);

    /// <summary><c>false</c> keeps the check that the broker's certificate names the host Kairo connected to.</summary>
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_tls_insecure_set")]
    internal static partial int TlsInsecureSet(SafeMosquittoHandle mosq, [MarshalAs(UnmanagedType.U1)] bool insecure);

    /// <summary>A null TLS version or cipher list keeps the library's defaults (TLS 1.2 and newer).</summary>
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_tls_opts_set", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int TlsOptsSet(SafeMosquittoHandle mosq, int certReqs, string? tlsVersion, string? ciphers);
}
