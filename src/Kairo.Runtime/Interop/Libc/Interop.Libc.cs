using System.Runtime.InteropServices;

namespace Kairo.Runtime.Interop;

/// <summary>The few libc calls a real-time loop needs: the monotonic clock, absolute sleeps, affinity, scheduling.</summary>
internal static unsafe partial class Libc
{
    private const string LibraryName = "libc";

    internal const int CLOCK_MONOTONIC = 1;
    internal const int TIMER_ABSTIME = 1;
    internal const int SCHED_OTHER = 0;
    internal const int SCHED_FIFO = 1;
    internal const int EINTR = 4;

    [StructLayout(LayoutKind.Sequential)]
    internal struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport(LibraryName, EntryPoint = "clock_gettime")]
    internal static partial int ClockGetTime(int clock, Timespec* time);

    /// <summary>Returns 0 or an error number (it does not set errno).</summary>
    [LibraryImport(LibraryName, EntryPoint = "clock_nanosleep")]
    internal static partial int ClockNanosleep(int clock, int flags, Timespec* request, Timespec* remain);

    [LibraryImport(LibraryName, EntryPoint = "sched_setaffinity", SetLastError = true)]
    internal static partial int SchedSetAffinity(int pid, nuint cpuSetSize, ulong* mask);

    [StructLayout(LayoutKind.Sequential)]
    internal struct SchedParam
    {
        public int Priority;
    }

    [LibraryImport(LibraryName, EntryPoint = "sched_setscheduler", SetLastError = true)]
    internal static partial int SchedSetScheduler(int pid, int policy, SchedParam* param);

    [LibraryImport(LibraryName, EntryPoint = "gettid")]
    internal static partial int GetTid();
}
