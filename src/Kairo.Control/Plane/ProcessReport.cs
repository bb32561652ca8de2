using System.Text.Json;
using Kairo.Runtime.Loops;

namespace Kairo.Control.Plane;

/// <summary>The process as the control plane reports it in <c>status</c>: its garbage collector's work so far.</summary>
public static class ProcessReport
{
    /// <summary>
    /// Collections since the process started, by the oldest generation each collected, their total and latest pause,
    /// the heap after the latest one and every byte the process has allocated. Loop threads allocate nothing, so
    /// every collection comes from the rest of the process (requests, telemetry, updates); each one pauses a loop
    /// that wakes while it runs.
    /// </summary>
    /// <param name="pacer">The process's collection pacer, when it runs one: its counts are written too.</param>
    public static void WriteGc(Utf8JsonWriter w, CollectionPacer? pacer = null)
    {
        int all = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
        var latest = GC.GetGCMemoryInfo(GCKind.Any);
        w.WriteStartObject();
        w.WriteStartObject("collections"u8);
        w.WriteNumber("gen0"u8, all - gen1);
        w.WriteNumber("gen1"u8, gen1 - gen2);
        w.WriteNumber("gen2"u8, gen2);
        w.WriteEndObject();
        w.WriteNumber("pauseTotalMs"u8, Math.Round(GC.GetTotalPauseDuration().TotalMilliseconds, 3));
        w.WriteNumber("lastPauseMs"u8, latest.Index == 0 ? 0 : Math.Round(latest.PauseDurations[0].TotalMilliseconds, 3));
        w.WriteNumber("heapBytes"u8, latest.Index == 0 ? GC.GetTotalMemory(forceFullCollection: false) : latest.HeapSizeBytes);
        w.WriteNumber("allocatedBytes"u8, GC.GetTotalAllocatedBytes(precise: false));
        if (pacer != null)
        {
            w.WriteStartObject("pacing"u8);
            w.WriteNumber("paced"u8, pacer.Paced);
            w.WriteNumber("unpaced"u8, pacer.Unpaced);
            w.WriteNumber("late"u8, pacer.Late);
            w.WriteNumber("lastPauseMs"u8, Math.Round(pacer.LastPauseNanoseconds / 1e6, 3));
            w.WriteNumber("maxPauseMs"u8, Math.Round(pacer.MaxPauseNanoseconds / 1e6, 3));
            w.WriteNumber("thresholdBytes"u8, pacer.ThresholdBytes);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }
}
