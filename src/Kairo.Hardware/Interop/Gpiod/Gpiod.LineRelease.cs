using System.Runtime.InteropServices;

namespace Kairo.Hardware.Interop;

internal static partial class Gpiod
{
    /// <summary><c>gpiod_line_release</c>: gives the kernel request back; the line object stays with its chip.</summary>
    [LibraryImport(Libraries.Gpiod, EntryPoint = "gpiod_line_release")]
    internal static partial void LineRelease(nint line);
}
