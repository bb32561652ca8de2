using Kairo.Runtime.Metrics;

namespace Kairo.Runtime.Tests;

public sealed class LatencyHistogramTests
{
    private const double Precision = LatencyHistogram.MaxRelativeError;

    [Fact]
    public void UniformDistributionHasExpectedPercentiles()
    {
        var histogram = new LatencyHistogram();
        for (long v = 1; v <= 100_000; v++)
        {
            histogram.Record(v);
        }

        HistogramSnapshot snapshot = histogram.Snapshot();

        Assert.Equal(100_000, snapshot.Count);
        AssertWithin(50_000, snapshot.P50, 0.02);
        AssertWithin(90_000, snapshot.P90, 0.02);
        AssertWithin(99_000, snapshot.P99, 0.02);
        AssertWithin(99_900, snapshot.P999, 0.02);
        Assert.Equal(100_000, snapshot.Max);
        Assert.Equal(1, snapshot.Min);
        Assert.Equal(50_000.5, snapshot.Mean, 6);

        // Upper-bound rounding: never below the true rank value.
        Assert.InRange(snapshot.P50, 50_000, (long)(50_000 * (1 + Precision)));
        Assert.InRange(snapshot.P99, 99_000, (long)(99_000 * (1 + Precision)));
    }

    [Fact]
    public void ConstantValueIsExactAtEveryPercentile()
    {
        var histogram = new LatencyHistogram();
        for (int i = 0; i < 1_000; i++)
        {
            histogram.Record(1_234_567);
        }

        HistogramSnapshot snapshot = histogram.Snapshot();

        Assert.Equal(1_000, snapshot.Count);
        foreach (double p in new[] { 0, 0.1, 50, 90, 99, 99.9, 100 })
        {
            Assert.Equal(1_234_567, snapshot.ValueAtPercentile(p));
        }

        Assert.Equal(1_234_567, snapshot.Min);
        Assert.Equal(1_234_567, snapshot.Max);
        Assert.Equal(1_234_567.0, snapshot.Mean);
    }

    [Fact]
    public void BimodalDistributionSplitsAtTheRightRank()
    {
        var histogram = new LatencyHistogram();
        for (int i = 0; i < 900; i++)
        {
            histogram.Record(1_000);
        }

        for (int i = 0; i < 100; i++)
        {
            histogram.Record(1_000_000);
        }

        HistogramSnapshot snapshot = histogram.Snapshot();

        AssertWithin(1_000, snapshot.P50, Precision);
        AssertWithin(1_000, snapshot.P90, Precision); // rank 900 is the last fast value
        Assert.Equal(1_000_000, snapshot.ValueAtPercentile(90.1));
        Assert.Equal(1_000_000, snapshot.P99);
        Assert.Equal(1_000_000, snapshot.Max);
        Assert.Equal(1_000, snapshot.Min);
        Assert.Equal(((900 * 1_000L) + (100 * 1_000_000L)) / 1_000.0, snapshot.Mean);
    }

    [Fact]
    public void MinMaxSumAndCountAreExact()
    {
        var histogram = new LatencyHistogram();
        var random = new Random(42);
        long min = long.MaxValue, max = 0, sum = 0;
        for (int i = 0; i < 10_000; i++)
        {
            long v = random.NextInt64(1_000, 50_000_000);
            histogram.Record(v);
            min = Math.Min(min, v);
            max = Math.Max(max, v);
            sum += v;
        }

        HistogramSnapshot snapshot = histogram.Snapshot();

        Assert.Equal(10_000, snapshot.Count);
        Assert.Equal(min, snapshot.Min);
        Assert.Equal(max, snapshot.Max);
        Assert.Equal(sum, snapshot.Sum);
        Assert.Equal(max, snapshot.ValueAtPercentile(100));
        Assert.Equal(min, snapshot.ValueAtPercentile(0));
    }

    [Fact]
    public void ZeroAndNegativeDurationsCountAsZero()
    {
        var histogram = new LatencyHistogram();
        histogram.Record(0);
        histogram.Record(-5);
        histogram.Record(long.MinValue);

        HistogramSnapshot snapshot = histogram.Snapshot();

        Assert.Equal(3, snapshot.Count);
        Assert.Equal(0, snapshot.Min);
        Assert.Equal(0, snapshot.Max);
        Assert.Equal(0, snapshot.Sum);
        Assert.Equal(0, snapshot.P50);
        Assert.Equal(0, snapshot.ValueAtPercentile(100));
        Assert.Equal(3, snapshot.Counts[0]);
    }

    [Fact]
    public void EmptyHistogramReportsZeros()
    {
        HistogramSnapshot snapshot = new LatencyHistogram().Snapshot();

        Assert.Equal(0, snapshot.Count);
        Assert.Equal(0, snapshot.Min);
        Assert.Equal(0, snapshot.Max);
        Assert.Equal(0, snapshot.P99);
        Assert.Equal(0.0, snapshot.Mean);
        Assert.Equal("n=0", snapshot.ToString());
    }

    [Fact]
    public void ValuesBeyondTheRangeLandInTheTopBucketWithExactMax()
    {
        var histogram = new LatencyHistogram();
        for (int i = 0; i < 99; i++)
        {
            histogram.Record(5_000);
        }

        histogram.Record(1L << 50);
        HistogramSnapshot snapshot = histogram.Snapshot();

        Assert.Equal(100, snapshot.Count);
        Assert.Equal(1L << 50, snapshot.Max);
        Assert.Equal(1L << 50, snapshot.ValueAtPercentile(100));
        AssertWithin(5_000, snapshot.P99, Precision);
        Assert.Equal(1, snapshot.Counts[LatencyHistogram.TopBucket]);

        histogram.Record(long.MaxValue);
        histogram.Record(long.MaxValue);
        snapshot = histogram.Snapshot();

        Assert.Equal(long.MaxValue, snapshot.Max);
        Assert.Equal(long.MaxValue, snapshot.ValueAtPercentile(100));
        Assert.Equal(3, snapshot.Counts[LatencyHistogram.TopBucket]);
        Assert.Equal(long.MaxValue, snapshot.Sum); // saturated, not wrapped negative
        Assert.True(snapshot.Mean > 0);
    }

    [Fact]
    public void BucketBoundsContainEveryValueAndTileTheRange()
    {
        Assert.Equal(LatencyHistogram.TopBucket, LatencyHistogram.BucketIndex(LatencyHistogram.HighestTrackableValue));
        Assert.Equal(LatencyHistogram.HighestTrackableValue, LatencyHistogram.UpperBound(LatencyHistogram.TopBucket));
        Assert.Equal(0, LatencyHistogram.LowerBound(0));
        for (int i = 1; i < LatencyHistogram.BucketCount; i++)
        {
            Assert.Equal(LatencyHistogram.UpperBound(i - 1) + 1, LatencyHistogram.LowerBound(i));
            Assert.Equal(i, LatencyHistogram.BucketIndex(LatencyHistogram.LowerBound(i)));
            Assert.Equal(i, LatencyHistogram.BucketIndex(LatencyHistogram.UpperBound(i)));
        }
    }

    [Fact]
    public void RelativeErrorStaysWithinBoundOverASweep()
    {
        var histogram = new LatencyHistogram();
        var snapshot = new HistogramSnapshot();
        foreach (long v in SweepValues())
        {
            // A far larger companion keeps v's bucket from being the highest, which answers the exact max.
            histogram.Reset();
            histogram.Record(v);
            histogram.Record(LatencyHistogram.HighestTrackableValue + 1);
            histogram.CopyTo(snapshot);

            long p50 = snapshot.P50;
            Assert.True(p50 >= v, $"value {v}: p50 {p50} is below it");
            Assert.True(p50 - v <= v * Precision, $"value {v}: p50 {p50} is {(p50 - v) / (double)v:P3} above it");
            Assert.True(p50 <= v * 1.016, $"value {v}: p50 {p50} is over 1.6% above it");

            // Alone, v is the max and comes back exactly.
            histogram.Reset();
            histogram.Record(v);
            histogram.CopyTo(snapshot);
            Assert.Equal(v, snapshot.P50);
        }
    }

    [Fact]
    public void SubtractGivesTheIntervalDistribution()
    {
        var histogram = new LatencyHistogram();
        for (int i = 0; i < 1_000; i++)
        {
            histogram.Record(1_000 + i);
        }

        HistogramSnapshot first = histogram.Snapshot();
        for (int i = 0; i < 500; i++)
        {
            histogram.Record(5_000);
        }

        for (int i = 0; i < 500; i++)
        {
            histogram.Record(7_000);
        }

        HistogramSnapshot second = histogram.Snapshot();
        HistogramSnapshot interval = second.Subtract(first);

        Assert.Equal(1_000, interval.Count);
        Assert.Equal((500 * 5_000L) + (500 * 7_000L), interval.Sum);
        Assert.Equal(6_000.0, interval.Mean);
        AssertWithin(5_000, interval.P50, Precision);
        Assert.Equal(7_000, interval.P99);
        Assert.Equal(7_000, interval.Max); // a new max within the interval is exact
        Assert.InRange(interval.Min, (long)(5_000 * (1 - Precision)), 5_000); // a bucket's lower bound
        Assert.Equal(2_000, second.Count); // operands untouched

        // A quieter interval: its max is bounded by its own highest bucket, not the all-time max.
        for (int i = 0; i < 10; i++)
        {
            histogram.Record(2_000);
        }

        HistogramSnapshot third = histogram.Snapshot();
        HistogramSnapshot quiet = third.Subtract(second);
        Assert.Equal(10, quiet.Count);
        Assert.InRange(quiet.Max, 2_000, (long)(2_000 * (1 + Precision)));
        Assert.InRange(quiet.P50, 2_000, (long)(2_000 * (1 + Precision)));
        Assert.Equal(20_000, quiet.Sum);

        // In place, into the older operand.
        third.Subtract(second, second);
        Assert.Equal(10, second.Count);
        Assert.Equal(quiet.P50, second.P50);

        Assert.Throws<ArgumentException>(() => first.Subtract(third));
    }

    [Fact]
    public void SubtractAcrossAResetReturnsWhatFollowedTheReset()
    {
        var histogram = new LatencyHistogram();
        histogram.Record(9_000_000);
        HistogramSnapshot before = histogram.Snapshot();
        histogram.Reset();
        histogram.Record(3_000);
        histogram.Record(4_000);
        HistogramSnapshot after = histogram.Snapshot();

        HistogramSnapshot interval = after.Subtract(before);

        Assert.Equal(2, interval.Count);
        Assert.Equal(3_000, interval.Min);
        Assert.Equal(4_000, interval.Max);
        Assert.Equal(7_000, interval.Sum);
        Assert.Throws<ArgumentException>(() => before.Subtract(after));
    }

    [Fact]
    public void CopyToReusesOneSnapshotWithoutAllocating()
    {
        var histogram = new LatencyHistogram();
        var reusable = new HistogramSnapshot();
        var previous = new HistogramSnapshot();
        var interval = new HistogramSnapshot();

        histogram.Record(100);
        histogram.CopyTo(reusable);
        Assert.Equal(1, reusable.Count);
        Assert.Equal(100, reusable.Max);

        // Warm up every path, then measure a reporter's whole cycle.
        ReportCycle(histogram, reusable, previous, interval);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1_000; i++)
        {
            ReportCycle(histogram, reusable, previous, interval);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(1 + 1 + 1_000, reusable.Count);
        Assert.Equal(1, interval.Count);
        Assert.Equal(1_000_000, reusable.Max);

        histogram.Reset();
        histogram.Record(7);
        histogram.CopyTo(reusable);
        Assert.Equal(1, reusable.Count);
        Assert.Equal(7, reusable.Max);
        Assert.Equal(7, reusable.Min);
        Assert.Equal(7, reusable.P99);
        Assert.Equal(1, reusable.Counts[7]);
        Assert.Equal(1, reusable.Counts.Sum());

        reusable.CopyTo(previous);
        Assert.Equal(reusable.Counts, previous.Counts);
        Assert.Equal(7, previous.Max);
        Assert.Equal(1, previous.Count);

        static void ReportCycle(LatencyHistogram histogram, HistogramSnapshot reusable, HistogramSnapshot previous, HistogramSnapshot interval)
        {
            reusable.CopyTo(previous);
            histogram.Record(1_000_000);
            histogram.CopyTo(reusable);
            reusable.Subtract(previous, interval);
            _ = interval.P999 + reusable.P50;
        }
    }

    [Fact]
    public void RecordAllocatesNothing()
    {
        var histogram = new LatencyHistogram();
        for (int i = 0; i < 10_000; i++)
        {
            histogram.Record(i * 37L);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1_000_000; i++)
        {
            histogram.Record(i * 37L);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(1_010_000, histogram.Snapshot().Count);
    }

    [Fact]
    public void ConcurrentSnapshotsAreConsistentAndTheFinalCountIsExact()
    {
        const int Values = 5_000_000;
        const int MaxSnapshots = 20_000;
        var histogram = new LatencyHistogram();
        using var start = new Barrier(2);
        var writerDone = 0;
        long expectedSum = 0, expectedMax = 0, expectedMin = long.MaxValue;

        var writer = new Thread(() =>
        {
            start.SignalAndWait();
            for (int i = 0; i < Values; i++)
            {
                long v = ValueAt(i);
                histogram.Record(v);
                expectedSum += v;
                expectedMax = Math.Max(expectedMax, v);
                expectedMin = Math.Min(expectedMin, v);
            }

            Volatile.Write(ref writerDone, 1);
        })
        { IsBackground = true };
        writer.Start();

        var snapshot = new HistogramSnapshot();
        var previous = new HistogramSnapshot();
        var interval = new HistogramSnapshot();
        int taken = 0;
        start.SignalAndWait();
        while (taken < MaxSnapshots && Volatile.Read(ref writerDone) == 0)
        {
            histogram.CopyTo(snapshot);
            taken++;
            AssertConsistent(snapshot);
            Assert.InRange(snapshot.Count, previous.Count, Values);

            snapshot.Subtract(previous, interval);
            AssertConsistent(interval);
            Assert.Equal(snapshot.Count - previous.Count, interval.Count);
            snapshot.CopyTo(previous);
        }

        writer.Join();
        HistogramSnapshot final = histogram.Snapshot();

        Assert.True(taken > 0);
        Assert.Equal(Values, final.Count);
        Assert.Equal(expectedSum, final.Sum);
        Assert.Equal(expectedMax, final.Max);
        Assert.Equal(expectedMin, final.Min);
        AssertConsistent(final);

        static long ValueAt(int i) => 100 + ((i * 7_919L) % 3_000_000);
    }

    [Fact]
    public void SnapshotsNeverMixRoundsAcrossAConcurrentReset()
    {
        // Each round records values from its own disjoint range, then resets: a snapshot that mixed
        // counters from before and after a reset would span two ranges.
        const int Rounds = 20_000;
        const int PerRound = 1_000;
        const long RoundWidth = 1L << 20;
        var histogram = new LatencyHistogram();
        using var start = new Barrier(2);
        var writerDone = 0;

        var writer = new Thread(() =>
        {
            start.SignalAndWait();
            for (int round = 0; round < Rounds; round++)
            {
                histogram.Reset();
                long baseValue = (round % 16 + 1) * RoundWidth * 4;
                for (int i = 0; i < PerRound; i++)
                {
                    histogram.Record(baseValue + (i * 499L % RoundWidth));
                }
            }

            Volatile.Write(ref writerDone, 1);
        })
        { IsBackground = true };
        writer.Start();

        var snapshot = new HistogramSnapshot();
        int taken = 0;
        start.SignalAndWait();
        while (taken < 200_000 && Volatile.Read(ref writerDone) == 0)
        {
            histogram.CopyTo(snapshot);
            taken++;
            AssertConsistent(snapshot);
            Assert.InRange(snapshot.Count, 0, PerRound);
            if (snapshot.Count > 0)
            {
                long lowBase = snapshot.Min / (RoundWidth * 4);
                Assert.Equal(lowBase, snapshot.Max / (RoundWidth * 4));
                Assert.Equal(lowBase, snapshot.P50 / (RoundWidth * 4));
            }
        }

        writer.Join();
        HistogramSnapshot final = histogram.Snapshot();
        Assert.Equal(PerRound, final.Count);
        Assert.Equal(Rounds, final.Epoch);
        Assert.True(taken > 0);
    }

    [Fact]
    public void ToStringUsesHumanUnits()
    {
        var histogram = new LatencyHistogram();
        for (int i = 0; i < 1_000; i++)
        {
            histogram.Record(1_200_000);
        }

        Assert.Equal("n=1000 p50=1.20ms p90=1.20ms p99=1.20ms p99.9=1.20ms max=1.20ms", histogram.Snapshot().ToString());

        histogram.Record(2_500_000_000);
        // No longer the highest bucket, 1.2 ms reads as its bucket's upper bound.
        Assert.Equal("n=1001 p50=1.21ms p90=1.21ms p99=1.21ms p99.9=1.21ms max=2.50s", histogram.Snapshot().ToString());
    }

    [Theory]
    [InlineData(0, "0ns")]
    [InlineData(999, "999ns")]
    [InlineData(1_000, "1.00\u00B5s")]
    [InlineData(12_345, "12.3\u00B5s")]
    [InlineData(999_499, "999\u00B5s")]
    [InlineData(999_500, "1.00ms")]
    [InlineData(1_200_000, "1.20ms")]
    [InlineData(45_670_000, "45.7ms")]
    [InlineData(2_500_000_000, "2.50s")]
    [InlineData(1_100_000_000_000, "1100s")]
    public void FormatDurationPicksTheUnit(long nanoseconds, string expected) =>
        Assert.Equal(expected, HistogramSnapshot.FormatDuration(nanoseconds));

    [Fact]
    public void PercentileOutsideZeroToHundredIsRejected()
    {
        HistogramSnapshot snapshot = new LatencyHistogram().Snapshot();
        Assert.Throws<ArgumentOutOfRangeException>(() => snapshot.ValueAtPercentile(-0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => snapshot.ValueAtPercentile(100.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => snapshot.ValueAtPercentile(double.NaN));
    }

    [Fact]
    public void P999OfAThousandIsTheLastButOneRank()
    {
        // 99.9% of 1000 is rank 999 exactly; floating point must not push it to rank 1000, the outlier.
        var histogram = new LatencyHistogram();
        for (long v = 1; v < 1_000; v++)
        {
            histogram.Record(v * 1_000);
        }

        histogram.Record(50_000_000);

        HistogramSnapshot snapshot = histogram.Snapshot();
        Assert.InRange(snapshot.P999, 999_000, (long)(999_000 * (1 + Precision)));
        Assert.Equal(50_000_000, snapshot.ValueAtPercentile(100));
    }

    private static void AssertConsistent(HistogramSnapshot snapshot)
    {
        Assert.Equal(snapshot.Count, snapshot.Counts.Sum());
        if (snapshot.Count == 0)
        {
            return;
        }

        long p50 = snapshot.P50, p90 = snapshot.P90, p99 = snapshot.P99, p999 = snapshot.P999;
        Assert.True(
            snapshot.Min <= p50 && p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= snapshot.Max,
            $"not monotonic: min={snapshot.Min} p50={p50} p90={p90} p99={p99} p99.9={p999} max={snapshot.Max}");
        Assert.Equal(snapshot.Max, snapshot.ValueAtPercentile(100));

        // Every counted value lies within [Min, Max]: the extreme buckets must overlap them.
        int lowest = Array.FindIndex(snapshot.Counts, c => c != 0);
        int highest = Array.FindLastIndex(snapshot.Counts, c => c != 0);
        Assert.True(snapshot.Min <= LatencyHistogram.UpperBound(lowest), $"min {snapshot.Min} above the lowest bucket");
        Assert.True(snapshot.Max >= LatencyHistogram.LowerBound(highest), $"max {snapshot.Max} below the highest bucket");
    }

    private static void AssertWithin(long expected, long actual, double relative) =>
        Assert.True(
            Math.Abs(actual - expected) <= expected * relative,
            $"expected {expected} within {relative:P2}, got {actual}");

    private static IEnumerable<long> SweepValues()
    {
        for (long v = 0; v <= 4_096; v++)
        {
            yield return v;
        }

        var random = new Random(7);
        for (int bit = 12; bit < LatencyHistogram.TrackedBits; bit++)
        {
            long low = 1L << bit;
            long high = (1L << (bit + 1)) - 1;
            foreach (long v in new[] { low, low + 1, high - 1, high })
            {
                yield return v;
            }

            for (int i = 0; i < 200; i++)
            {
                yield return random.NextInt64(low, high + 1);
            }
        }
    }
}
