using System.Runtime.InteropServices;

namespace Kairo.Hardware.Interop;

internal static unsafe partial class Gpiod
{
    /// <summary><c>gpiod_line_event_wait</c> with a relative timeout: 1 = an event is queued, 0 = timed out, -1 = error (errno).</summary>
    [LibraryImport(Libraries.Gpiod, EntryPoint = "gpiod_line_event_wait", SetLastError = true)]
    internal static partial int LineEventWait(nint line, Libc.Timespec* timeout);

    /// <summary><c>gpiod_line_event_read</c>: 0, or -1 with errno set. Blocks when nothing is queued, so it follows a wait.</summary>
    [LibraryImport(Libraries.Gpiod, EntryPoint = "gpiod_line_event_read", SetLastError = true)]
    internal static partial int LineEventRead(nint line, LineEvent* lineEvent);
}
