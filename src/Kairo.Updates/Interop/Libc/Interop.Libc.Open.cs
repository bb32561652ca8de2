using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kairo.Updates.Interop;

internal static partial class Libc
{
    /// <summary>
    /// <c>open(2)</c> without O_CREAT, so the variadic mode argument is never read; on Linux (x86-64 and AArch64)
    /// a variadic callee reads its fixed arguments like any other function's.
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial SafeFileHandle Open(string path, int flags);
}
