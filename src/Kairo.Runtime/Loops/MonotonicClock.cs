using System.Runtime.CompilerServices;
using Kairo.Runtime.Interop;

namespace Kairo.Runtime.Loops;

/// <summary>CLOCK_MONOTONIC in nanoseconds, and absolute sleeps against it.</summary>
public static unsafe class MonotonicClock
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long NowNanoseconds()
    {
        Libc.Timespec t;
        Libc.ClockGetTime(Libc.CLOCK_MONOTONIC, &t);
        return (t.Seconds * 1_000_000_000L) + t.Nanoseconds;
    }

    /// <summary>Sleeps until the monotonic clock reaches <paramref name="deadlineNanoseconds"/> (absolute, so no drift).</summary>
    public static void SleepUntil(long deadlineNanoseconds)
    {
        Libc.Timespec t;
        t.Seconds = deadlineNanoseconds / 1_000_000_000L;
        t.Nanoseconds = deadlineNanoseconds % 1_000_000_000L;
        while (Libc.ClockNanosleep(Libc.CLOCK_MONOTONIC, Libc.TIMER_ABSTIME, &t, null) == Libc.EINTR)
        {
        }
    }
}
