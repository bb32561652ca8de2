namespace Kairo.Hardware.Interop;

/// <summary>The native libraries Kairo.Hardware binds, named in one place.</summary>
internal static class Libraries
{
    /// <summary>
    /// libgpiod v1 (1.5 or newer for the bias flags; Debian package <c>libgpiod2</c>), by its soname. libgpiod v2 is
    /// <c>libgpiod.so.3</c> with a different API, so the soname is also the version check.
    /// </summary>
    internal const string Gpiod = "libgpiod.so.2";

    /// <summary>The C library; the runtime maps this name to the platform's libc.</summary>
    internal const string Libc = "libc";
}
