using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Kairo.Runtime.Metrics;

/// <summary>
/// A point-in-time copy of a <see cref="LatencyHistogram"/>, read off the loop thread. Reusable: fill it
/// again with <see cref="LatencyHistogram.CopyTo(HistogramSnapshot)"/> without allocating.
/// </summary>
/// <remarks>
/// <see cref="Count"/> is always the sum of the copied bucket counters, so percentiles never look past the
/// data. A snapshot is not thread-safe itself: one thread fills and reads it at a time.
/// </remarks>
public sealed class HistogramSnapshot
{
    private long _count;
    private long _min;
    private long _max;
    private long _sum;
    private long _epoch;
    private int _lowest = -1;
    private int _highest = -1;

    /// <summary>An empty snapshot, ready to be filled by <see cref="LatencyHistogram.CopyTo(HistogramSnapshot)"/>.</summary>
    public HistogramSnapshot()
    {
    }

    /// <summary>Number of recorded values.</summary>
    public long Count => _count;

    /// <summary>Smallest recorded value in nanoseconds (0 when empty). For an interval from <see cref="Subtract(HistogramSnapshot)"/>, exact when the interval set a new minimum, else the lower bound of its lowest bucket.</summary>
    public long Min => _min;

    /// <summary>Largest recorded value in nanoseconds (0 when empty). For an interval from <see cref="Subtract(HistogramSnapshot)"/>, exact when the interval set a new maximum, else the upper bound of its highest bucket.</summary>
    public long Max => _max;

    /// <summary>Sum of the recorded values in nanoseconds (saturates at <see cref="long.MaxValue"/>).</summary>
    public long Sum => _sum;

    /// <summary>Mean in nanoseconds (0 when empty).</summary>
    public double Mean => _count == 0 ? 0 : (double)_sum / _count;

    public long P50 => ValueAtPercentile(50);

    public long P90 => ValueAtPercentile(90);

    public long P99 => ValueAtPercentile(99);

    public long P999 => ValueAtPercentile(99.9);

    /// <summary>The bucket counters, indexed like <see cref="LatencyHistogram"/>'s buckets.</summary>
    internal long[] Counts { get; } = new long[LatencyHistogram.BucketCount];

    /// <summary>How many times the source histogram had been reset when this was taken.</summary>
    internal long Epoch => _epoch;

    /// <summary>
    /// The value at or below which <paramref name="percentile"/> percent of the values lie, in nanoseconds:
    /// the upper bound of the bucket holding that rank, never more than <see cref="Max"/>, so it is at most
    /// <see cref="LatencyHistogram.MaxRelativeError"/> above the true value and never below it. The highest
    /// occupied bucket answers <see cref="Max"/>, so percentile 100 is <see cref="Max"/> exactly; percentile 0
    /// is <see cref="Min"/>. Returns 0 when empty.
    /// </summary>
    public long ValueAtPercentile(double percentile)
    {
        if (!(percentile >= 0 && percentile <= 100))
        {
            ThrowPercentileOutOfRange(percentile);
        }

        if (_count == 0)
        {
            return 0;
        }

        if (percentile == 0)
        {
            return _min;
        }

        long rank = RankOf(percentile, _count);
        long[] counts = Counts;
        long seen = 0;
        for (int i = _lowest; i < _highest; i++)
        {
            seen += counts[i];
            if (seen >= rank)
            {
                return Math.Min(LatencyHistogram.UpperBound(i), _max);
            }
        }

        return _max;
    }

    /// <summary>Copies this snapshot into <paramref name="destination"/> without allocating.</summary>
    public void CopyTo(HistogramSnapshot destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (ReferenceEquals(destination, this))
        {
            return;
        }

        Counts.AsSpan().CopyTo(destination.Counts);
        destination.Set(_count, _min, _max, _sum, _epoch, _lowest, _highest);
    }

    /// <summary>
    /// The values recorded between <paramref name="older"/> and this snapshot of the same histogram, as a new
    /// snapshot. If the histogram was reset in between, the answer is this snapshot (everything since the reset).
    /// </summary>
    public HistogramSnapshot Subtract(HistogramSnapshot older)
    {
        var interval = new HistogramSnapshot();
        Subtract(older, interval);
        return interval;
    }

    /// <summary>
    /// Writes the values recorded between <paramref name="older"/> and this snapshot into
    /// <paramref name="destination"/> without allocating; <paramref name="destination"/> may be either operand.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="older"/> is newer than this snapshot or comes from another histogram.</exception>
    public void Subtract(HistogramSnapshot older, HistogramSnapshot destination)
    {
        ArgumentNullException.ThrowIfNull(older);
        ArgumentNullException.ThrowIfNull(destination);
        if (older._epoch > _epoch)
        {
            ThrowNotOlder(older);
        }

        if (older._epoch < _epoch || older._count == 0)
        {
            // A reset in between leaves only what came after it, which all falls in the interval.
            CopyTo(destination);
            return;
        }

        long[] now = Counts;
        long[] before = older.Counts;
        for (int i = 0; i < now.Length; i++)
        {
            if (before[i] > now[i])
            {
                ThrowNotOlder(older);
            }
        }

        // Read every scalar before writing: destination may be this or older.
        long min = _min;
        long max = _max;
        long sum = _sum;
        long olderMin = older._min;
        long olderMax = older._max;
        long olderSum = older._sum;
        long epoch = _epoch;

        long[] target = destination.Counts;
        long count = 0;
        int lowest = -1;
        int highest = -1;
        for (int i = 0; i < now.Length; i++)
        {
            long delta = now[i] - before[i];
            target[i] = delta;
            if (delta != 0)
            {
                count += delta;
                highest = i;
                if (lowest < 0)
                {
                    lowest = i;
                }
            }
        }

        if (count == 0)
        {
            destination.Set(0, long.MaxValue, 0, 0, epoch, -1, -1);
            return;
        }

        // A new extreme must have been recorded within the interval; otherwise the interval's extreme is
        // bounded by its outermost bucket (and by the histogram's own extreme).
        long intervalMin = min < olderMin ? min : Math.Max(LatencyHistogram.LowerBound(lowest), min);
        long intervalMax = max > olderMax || highest == LatencyHistogram.TopBucket
            ? max
            : Math.Min(LatencyHistogram.UpperBound(highest), max);
        destination.Set(count, intervalMin, intervalMax, Math.Max(0, sum - olderSum), epoch, lowest, highest);
    }

    /// <summary>One line for logs, e.g. <c>n=1000 p50=1.20ms p90=1.31ms p99=2.05ms p99.9=4.10ms max=4.12ms</c>.</summary>
    public override string ToString()
    {
        if (_count == 0)
        {
            return "n=0";
        }

        var text = new StringBuilder(96);
        text.Append("n=").Append(_count.ToString(CultureInfo.InvariantCulture));
        text.Append(" p50=").Append(FormatDuration(P50));
        text.Append(" p90=").Append(FormatDuration(P90));
        text.Append(" p99=").Append(FormatDuration(P99));
        text.Append(" p99.9=").Append(FormatDuration(P999));
        text.Append(" max=").Append(FormatDuration(_max));
        return text.ToString();
    }

    /// <summary>A duration with three significant digits and a human unit: <c>850ns</c>, <c>12.3µs</c>, <c>1.20ms</c>, <c>2.50s</c>.</summary>
    internal static string FormatDuration(long nanoseconds)
    {
        if (nanoseconds < 1_000)
        {
            return nanoseconds.ToString(CultureInfo.InvariantCulture) + "ns";
        }

        // Thresholds sit at 999.5 of the smaller unit so rounding never prints "1000µs".
        (double value, string unit) = nanoseconds switch
        {
            < 999_500 => (nanoseconds / 1e3, "\u00B5s"),
            < 999_500_000 => (nanoseconds / 1e6, "ms"),
            _ => (nanoseconds / 1e9, "s"),
        };
        string format = value < 9.995 ? "0.00" : value < 99.95 ? "0.0" : "0";
        return value.ToString(format, CultureInfo.InvariantCulture) + unit;
    }

    internal void Set(long count, long min, long max, long sum, long epoch, int lowest, int highest)
    {
        _count = count;
        _min = count == 0 ? 0 : min;
        _max = count == 0 ? 0 : max;
        _sum = count == 0 ? 0 : sum;
        _epoch = epoch;
        _lowest = lowest;
        _highest = highest;
    }

    private static long RankOf(double percentile, long count)
    {
        // p/100 * n is often a whole number that binary floating point misses by an ulp (99.9% of 1000);
        // snap to it, or ceil would count one value too many.
        double exact = percentile / 100 * count;
        double nearest = Math.Round(exact);
        double rank = Math.Abs(exact - nearest) <= exact * 1e-12 ? nearest : Math.Ceiling(exact);
        return Math.Clamp((long)rank, 1, count);
    }

    [DoesNotReturn]
    private static void ThrowPercentileOutOfRange(double percentile) =>
        throw new ArgumentOutOfRangeException(nameof(percentile), percentile, "a percentile lies between 0 and 100");

    [DoesNotReturn]
    private static void ThrowNotOlder(HistogramSnapshot older) =>
        throw new ArgumentException(
            "the older snapshot must be taken earlier from the same histogram: it holds values this one lacks",
            nameof(older));
}
