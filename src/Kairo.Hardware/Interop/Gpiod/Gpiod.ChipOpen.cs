using System.Runtime.InteropServices;

namespace Kairo.Hardware.Interop;

internal static partial class Gpiod
{
    /// <summary><c>gpiod_chip_open</c>: the chip at a device path. Invalid on failure, with errno set.</summary>
    [LibraryImport(Libraries.Gpiod, EntryPoint = "gpiod_chip_open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial SafeGpiodChipHandle ChipOpen(string path);

    /// <summary><c>gpiod_chip_open_by_name</c>: <c>/dev/</c> + name.</summary>
    [LibraryImport(Libraries.Gpiod, EntryPoint = "gpiod_chip_open_by_name", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial SafeGpiodChipHandle ChipOpenByName(string name);

    /// <summary>
    /// <c>gpiod_chip_open_lookup</c>: a number, a kernel label, a name or a path, tried in that order. ENOENT when
    /// nothing matches.
    /// </summary>
    [LibraryImport(Libraries.Gpiod, EntryPoint = "gpiod_chip_open_lookup", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial SafeGpiodChipHandle ChipOpenLookup(string description);

    /// <summary><c>gpiod_chip_close</c>: releases every requested line and frees the lines; only <see cref="SafeGpiodChipHandle"/> calls it.</summary>
    [LibraryImport(Libraries.Gpiod, EntryPoint = "gpiod_chip_close")]
    internal static partial void ChipClose(nint chip);

    /// <summary><c>gpiod_chip_num_lines</c>.</summary>
    [LibraryImport(Libraries.Gpiod, EntryPoint = "gpiod_chip_num_lines")]
    internal static partial uint ChipNumLines(SafeGpiodChipHandle chip);

    /// <summary><c>gpiod_chip_name</c>: the kernel's name for the chip ("gpiochip0"), owned by the chip.</summary>
    [LibraryImport(Libraries.Gpiod, EntryPoint = "gpiod_chip_name")]
    internal static partial nint ChipName(SafeGpiodChipHandle chip);
}
