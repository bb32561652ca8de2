using System.Runtime.InteropServices;

namespace Kairo.Hardware.Interop;

internal static partial class Gpiod
{
    /// <summary>
    /// <c>gpiod_chip_get_line</c>: a pointer into the chip's own line table (see <see cref="GpiodChip"/> for why it is
    /// not a handle of its own). Null on failure, with errno set.
    /// </summary>
    [LibraryImport(Libraries.Gpiod, EntryPoint = "gpiod_chip_get_line", SetLastError = true)]
    internal static partial nint ChipGetLine(SafeGpiodChipHandle chip, uint offset);
}
