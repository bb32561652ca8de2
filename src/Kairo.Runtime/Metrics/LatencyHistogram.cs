using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kairo.Runtime.Metrics;

/// <summary>
/// A fixed-memory log-linear histogram of durations in nanoseconds: one writer (the loop thread) records,
/// any number of other threads take snapshots without locks and without ever slowing the writer.
/// </summary>
/// <remarks>
/// <para>
/// Buckets: values below 128 ns each have their own bucket; above that every power of two is split into
/// 64 linear sub-buckets, so a bucket's upper bound is at most <see cref="MaxRelativeError"/> (1/64, about
/// 1.56%) above any value it holds. Values up to <see cref="HighestTrackableValue"/> (2^40 - 1 ns, about
/// 18 minutes) are resolved; larger ones land in the top bucket, while <c>Max</c> stays exact.
/// The 2,240 counters (17.5 KiB) are allocated once, in the constructor.
/// </para>
/// <para>
/// Threading: <see cref="Record"/> and <see cref="Reset"/> belong to one writer thread. Record publishes
/// each tick with a release store of its bucket counter after updating min, max and sum, and a snapshot
/// reads the counters with acquire loads before reading min, max and sum; so a snapshot may miss the
/// ticks in flight, but every tick it counts is covered by its min, max and sum, and its count is the
/// sum of the counters it copied. Only a 64-bit process gets untorn 64-bit plain loads and stores, hence
/// the check in the constructor.
/// </para>
/// </remarks>
public sealed class LatencyHistogram
{
    /// <summary>The largest value with its own bucket; larger values share the top bucket (their max stays exact).</summary>
    public const long HighestTrackableValue = (1L << TrackedBits) - 1;

    /// <summary>A percentile is at most this fraction above the true value it stands for (upper-bound rounding).</summary>
    public const double MaxRelativeError = 1.0 / SubBucketCount;

    internal const int TrackedBits = 40;
    internal const int SubBucketBits = 6;
    internal const int SubBucketCount = 1 << SubBucketBits;

    // Below 2 * SubBucketCount the bucket index is the value itself; 57 - lzc(v | 127) is log2(v) - 6,
    // the number of low bits a bucket of v's octave ignores.
    private const int LinearLimitMask = (2 * SubBucketCount) - 1;
    private const int ShiftBias = 63 - SubBucketBits;

    /// <summary>Number of buckets: the index of <see cref="HighestTrackableValue"/> plus one.</summary>
    internal const int BucketCount = ((TrackedBits - 1 - SubBucketBits) << SubBucketBits) + (2 * SubBucketCount);

    internal const int TopBucket = BucketCount - 1;

    private readonly long[] _counts = new long[BucketCount];
    private long _min = long.MaxValue;
    private long _max;
    private long _sum;

    // Even while steady, odd while Reset clears the counters; a snapshot that sees it change retries.
    // Record never touches it, so readers cost the writer nothing.
    private long _version;

    public LatencyHistogram()
    {
        if (!Environment.Is64BitProcess)
        {
            ThrowNot64Bit();
        }
    }

    /// <summary>
    /// Records one duration. Call only from the writer thread. Negative durations count as 0; durations
    /// above <see cref="HighestTrackableValue"/> count in the top bucket. Allocates nothing, takes no lock.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Record(long nanoseconds)
    {
        long value = Math.Max(nanoseconds, 0);
        if (value > _max)
        {
            _max = value;
        }

        if (value < _min)
        {
            _min = value;
        }

        // Saturates instead of wrapping, so a bogus huge input cannot turn the mean negative.
        long sum = _sum + value;
        _sum = sum < 0 ? long.MaxValue : sum;

        ref long count = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_counts), BucketIndex(value));

        // The release store orders the min/max/sum stores above before the tick becomes countable.
        Volatile.Write(ref count, count + 1);
    }

    /// <summary>
    /// Forgets every recorded value. Call only from the writer thread (it is the only writer of the
    /// counters); it costs one pass over the 2,240 counters. Readers that prefer not to disturb the
    /// writer can report intervals with <see cref="HistogramSnapshot.Subtract(HistogramSnapshot)"/> instead.
    /// </summary>
    public void Reset()
    {
        // Full fence: the odd version is visible before any counter is cleared.
        Interlocked.Increment(ref _version);
        _counts.AsSpan().Clear();
        _min = long.MaxValue;
        _max = 0;
        _sum = 0;
        Volatile.Write(ref _version, _version + 1);
    }

    /// <summary>Takes a snapshot into a new object. Safe from any thread; never blocks the writer.</summary>
    public HistogramSnapshot Snapshot()
    {
        var snapshot = new HistogramSnapshot();
        CopyTo(snapshot);
        return snapshot;
    }

    /// <summary>
    /// Takes a snapshot into <paramref name="destination"/>, overwriting it, without allocating. Safe from
    /// any thread; never blocks the writer (it spins only while a <see cref="Reset"/> is under way).
    /// </summary>
    public void CopyTo(HistogramSnapshot destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        long[] target = destination.Counts;
        SpinWait spinner = default;
        while (true)
        {
            long version = Volatile.Read(ref _version);
            if ((version & 1) == 0)
            {
                long total = 0;
                int lowest = -1;
                int highest = -1;
                for (int i = 0; i < BucketCount; i++)
                {
                    long count = Volatile.Read(ref _counts[i]);
                    target[i] = count;
                    if (count != 0)
                    {
                        total += count;
                        highest = i;
                        if (lowest < 0)
                        {
                            lowest = i;
                        }
                    }
                }

                // Read after the counters: every tick counted above already had its min/max/sum stored.
                long sum = Volatile.Read(ref _sum);
                long max = Volatile.Read(ref _max);
                long min = Volatile.Read(ref _min);
                if (Volatile.Read(ref _version) == version)
                {
                    destination.Set(total, min, max, sum, version >> 1, lowest, highest);
                    return;
                }
            }

            spinner.SpinOnce();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int BucketIndex(long value)
    {
        ulong v = (ulong)Math.Min(value, HighestTrackableValue);
        int shift = ShiftBias - BitOperations.LeadingZeroCount(v | LinearLimitMask);
        return (shift << SubBucketBits) + (int)(v >> shift);
    }

    /// <summary>The smallest value that lands in bucket <paramref name="index"/>.</summary>
    internal static long LowerBound(int index)
    {
        int shift = Math.Max(0, (index >> SubBucketBits) - 1);
        return (long)(index - (shift << SubBucketBits)) << shift;
    }

    /// <summary>The largest value that lands in bucket <paramref name="index"/> (for the top bucket, the largest resolved one).</summary>
    internal static long UpperBound(int index)
    {
        int shift = Math.Max(0, (index >> SubBucketBits) - 1);
        return LowerBound(index) + (1L << shift) - 1;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowNot64Bit() =>
        throw new PlatformNotSupportedException(
            "LatencyHistogram needs a 64-bit process: its 64-bit counters are read by other threads without locks.");
}
