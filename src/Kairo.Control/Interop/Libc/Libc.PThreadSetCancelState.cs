using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

internal static unsafe partial class Libc
{
    internal const int PTHREAD_CANCEL_ENABLE = 0;
    internal const int PTHREAD_CANCEL_DISABLE = 1;

    /// <summary>Returns 0 or an error number (it does not set errno).</summary>
    [LibraryImport(Libraries.Libc, EntryPoint = "pthread_setcancelstate")]
    internal static partial int PThreadSetCancelState(int state, int* oldState);
}
