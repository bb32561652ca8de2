using System.Runtime.InteropServices;

namespace Kairo.Hardware.Interop;

internal static unsafe partial class Libc
{
    internal const int CLOCK_MONOTONIC = 1;

    /// <summary><c>struct timespec</c>: both fields are a C <c>long</c>, pointer-sized on Linux.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Timespec
    {
        public nint Seconds;
        public nint Nanoseconds;
    }

    [LibraryImport(Libraries.Libc, EntryPoint = "clock_gettime")]
    internal static partial int ClockGetTime(int clock, Timespec* time);

    /// <summary>
    /// CLOCK_MONOTONIC in microseconds, read from the kernel itself: systemd compares it with its own reading of that
    /// clock, so it must not depend on how the runtime happens to implement <c>Stopwatch</c>.
    /// </summary>
    internal static long MonotonicMicroseconds()
    {
        Timespec t;
        ClockGetTime(CLOCK_MONOTONIC, &t);
        return ((long)t.Seconds * 1_000_000L) + ((long)t.Nanoseconds / 1_000L);
    }
}
