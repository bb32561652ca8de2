using System.Runtime.InteropServices;

namespace Kairo.Hardware.Interop;

internal static partial class Gpiod
{
    /// <summary><c>gpiod_line_get_value</c>: 0 or 1 (logical: the kernel applies active-low), or -1 with errno set.</summary>
    [LibraryImport(Libraries.Gpiod, EntryPoint = "gpiod_line_get_value", SetLastError = true)]
    internal static partial int LineGetValue(nint line);

    /// <summary><c>gpiod_line_set_value</c>: 0, or -1 with errno set.</summary>
    [LibraryImport(Libraries.Gpiod, EntryPoint = "gpiod_line_set_value", SetLastError = true)]
    internal static partial int LineSetValue(nint line, int value);
}
