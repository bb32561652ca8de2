using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kairo.Updates.Interop;

internal static partial class Libc
{
    [LibraryImport(LibraryName, EntryPoint = "fsync", SetLastError = true)]
    internal static partial int FSync(SafeFileHandle fd);
}
