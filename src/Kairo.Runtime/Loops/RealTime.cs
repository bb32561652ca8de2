using System.Runtime.InteropServices;
using Kairo.Runtime.Interop;

namespace Kairo.Runtime.Loops;

/// <summary>Real-time scheduling for the calling thread, as loops and the collection pacer ask for it.</summary>
internal static unsafe class RealTime
{
    /// <summary>Puts the calling thread on SCHED_FIFO at <paramref name="priority"/>; null, or why the kernel refused.</summary>
    public static string? TrySetFifo(int priority)
    {
        var param = new Libc.SchedParam { Priority = priority };
        return Libc.SchedSetScheduler(0, Libc.SCHED_FIFO, &param) == 0 ? null : Marshal.GetLastPInvokeErrorMessage();
    }
}
