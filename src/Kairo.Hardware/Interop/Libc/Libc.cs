namespace Kairo.Hardware.Interop;

/// <summary>The libc calls and errno values Kairo.Hardware needs.</summary>
internal static partial class Libc
{
    // errno values (Linux, every architecture Kairo targets).
    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int EIO = 5;
    internal const int EACCES = 13;
    internal const int EBUSY = 16;
    internal const int ENODEV = 19;
    internal const int EINVAL = 22;
    internal const int ENOTTY = 25;
}
