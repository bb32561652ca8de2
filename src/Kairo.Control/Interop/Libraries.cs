namespace Kairo.Control.Interop;

/// <summary>The native libraries Kairo.Control binds, named in one place.</summary>
internal static class Libraries
{
    /// <summary>libmosquitto 2.x (Debian package <c>libmosquitto1</c>), by its soname, found by the system loader.</summary>
    internal const string Mosquitto = "libmosquitto.so.1";
}
