using Kairo.Runtime.Metrics;

namespace Kairo.Runtime.Loops;

/// <summary>Why a tick missed its deadline.</summary>
public enum MissCause
{
    /// <summary>The loop thread woke so late that the deadline had already passed.</summary>
    LateWakeup,

    /// <summary>Inference finished after the deadline.</summary>
    SlowInference,

    /// <summary>Inference failed; the safe output went out instead.</summary>
    InferenceError,

    /// <summary>Whole periods passed without a tick because the loop fell behind.</summary>
    Overrun,
}

public static class MissCauseNames
{
    /// <summary>The cause as the control plane and the docs name it: <c>lateWakeup</c>, <c>slowInference</c>, ...</summary>
    public static string ToName(this MissCause cause) => cause switch
    {
        MissCause.LateWakeup => "lateWakeup",
        MissCause.SlowInference => "slowInference",
        MissCause.InferenceError => "inferenceError",
        MissCause.Overrun => "overrun",
        _ => throw new ArgumentOutOfRangeException(nameof(cause), cause, null),
    };
}

/// <summary>
/// A loop's counters and latency histograms. The loop thread is the only writer; any thread reads, without locks.
/// </summary>
public sealed class LoopMetrics
{
    /// <summary>How many missed ticks <see cref="RecentMisses"/> keeps: the newest, in fixed memory.</summary>
    public const int RecentMissCapacity = 64;

    private readonly long[] _misses = new long[Enum.GetValues<MissCause>().Length];
    private readonly MissRecord[] _recent = new MissRecord[RecentMissCapacity];
    private long _missRecordsStarted;
    private long _missRecords;
    private long _ticks;
    private long _fresh;
    private long _held;
    private long _safe;
    private long _skipped;
    private long _staleInputs;
    private long _swaps;
    private long _allocatedBytes;
    private long _nanOutputs;

    /// <summary>Wake-up lateness: how long after its release time the loop thread ran.</summary>
    public LatencyHistogram WakeLateness { get; } = new();

    /// <summary>Time inside ONNX Runtime for one tick.</summary>
    public LatencyHistogram Inference { get; } = new();

    /// <summary>From a tick's release time to its output handed to every sink.</summary>
    public LatencyHistogram EndToEnd { get; } = new();

    public long Ticks => Volatile.Read(ref _ticks);

    public long FreshOutputs => Volatile.Read(ref _fresh);

    public long HeldOutputs => Volatile.Read(ref _held);

    public long SafeOutputs => Volatile.Read(ref _safe);

    public long SkippedOutputs => Volatile.Read(ref _skipped);

    /// <summary>Ticks that ran on the previous input because the source had nothing new.</summary>
    public long StaleInputs => Volatile.Read(ref _staleInputs);

    public long Swaps => Volatile.Read(ref _swaps);

    /// <summary>Ticks whose outputs held a NaN.</summary>
    public long NanOutputs => Volatile.Read(ref _nanOutputs);

    /// <summary>Managed bytes the loop thread allocated since its warm-up ended: 0 in a healthy loop.</summary>
    public long AllocatedBytes => Volatile.Read(ref _allocatedBytes);

    public long Misses(MissCause cause) => Volatile.Read(ref _misses[(int)cause]);

    /// <summary>Deadline misses of every cause.</summary>
    public long DeadlineMisses
    {
        get
        {
            long total = 0;
            for (int i = 0; i < _misses.Length; i++)
            {
                total += Volatile.Read(ref _misses[i]);
            }

            return total;
        }
    }

    /// <summary>Missed ticks recorded since the loop was created (each one <see cref="MissRecord"/>, of one or more misses).</summary>
    public long MissRecords => Volatile.Read(ref _missRecords);

    /// <summary>
    /// The newest missed ticks (at most <see cref="RecentMissCapacity"/>) whose sequence number is above
    /// <paramref name="afterSequence"/>, oldest first. Read without a lock: a record the loop thread overwrote while
    /// it was being copied is left out, so a gap in the sequence numbers means records were lost to newer ones.
    /// </summary>
    public IReadOnlyList<MissRecord> RecentMisses(long afterSequence = 0)
    {
        long written = Volatile.Read(ref _missRecords);
        long first = Math.Max(afterSequence + 1, written - RecentMissCapacity + 1);
        var copies = new List<MissRecord>((int)Math.Max(0, written - first + 1));
        for (long sequence = first; sequence <= written; sequence++)
        {
            copies.Add(_recent[(sequence - 1) % RecentMissCapacity]);
        }

        // The loop thread announces each record before it writes its slot, the slot of the record a capacity older:
        // a copy of such a slot may be torn, so it is left out by the sequence it was read for, not by what it holds.
        Interlocked.MemoryBarrier();
        long overwritten = Volatile.Read(ref _missRecordsStarted) - RecentMissCapacity;
        var kept = new List<MissRecord>(copies.Count);
        for (int i = 0; i < copies.Count; i++)
        {
            long sequence = first + i;
            if (sequence > overwritten && copies[i].Sequence == sequence)
            {
                kept.Add(copies[i]);
            }
        }

        return kept;
    }

    internal void RecordMiss(in MissRecord record)
    {
        long sequence = _missRecords + 1;
        Volatile.Write(ref _missRecordsStarted, sequence);
        Interlocked.MemoryBarrier();
        _recent[(sequence - 1) % RecentMissCapacity] = record with { Sequence = sequence };
        Volatile.Write(ref _missRecords, sequence);
    }

    internal void CountTick() => Volatile.Write(ref _ticks, _ticks + 1);

    internal void CountFresh() => Volatile.Write(ref _fresh, _fresh + 1);

    internal void CountHeld() => Volatile.Write(ref _held, _held + 1);

    internal void CountSafe() => Volatile.Write(ref _safe, _safe + 1);

    internal void CountSkipped() => Volatile.Write(ref _skipped, _skipped + 1);

    internal void CountStale() => Volatile.Write(ref _staleInputs, _staleInputs + 1);

    internal void CountSwap() => Volatile.Write(ref _swaps, _swaps + 1);

    internal void CountNan() => Volatile.Write(ref _nanOutputs, _nanOutputs + 1);

    internal void CountMiss(MissCause cause, long n = 1) => Volatile.Write(ref _misses[(int)cause], _misses[(int)cause] + n);

    internal void SetAllocatedBytes(long bytes) => Volatile.Write(ref _allocatedBytes, bytes);
}
