using System.Text;
using System.Text.Json.Nodes;
using Kairo.Runtime.Loops;
using Xunit.Abstractions;

namespace Kairo.Testing;

/// <summary>
/// Holds a loop to "not one missed tick" on a shared machine whose vCPUs stall for milliseconds now and then, swap or
/// no swap, Kairo or a bare C loop: every missed tick must fall in a stall that a <see cref="StallWitness"/> on the
/// loop's CPU, above the loop's priority, saw too, and long enough to account for the whole overshoot. A tick that
/// Kairo made late (a garbage collection, a lock, slow work on the loop thread, an inference error) has no such
/// stall and fails the test, named with its cause and times.
/// </summary>
public static class MissAudit
{
    /// <summary>Scheduling between the witness and the loop after the same stall, and the loop's own work after it.</summary>
    public const long SlackNanoseconds = 500_000;

    /// <summary>KAIRO_STRICT_DEADLINES=1: on a quiet machine or a board, no missed tick at all, whoever caused it.</summary>
    public static bool Strict => Environment.GetEnvironmentVariable("KAIRO_STRICT_DEADLINES") == "1";

    /// <summary>The witnessed stalls that explain <paramref name="miss"/>, or none when the machine does not.</summary>
    public static IReadOnlyList<MachineStall> Explaining(MissRecord miss, IReadOnlyList<MachineStall> stalls)
    {
        if (miss.Cause == MissCause.InferenceError)
        {
            return [];
        }

        // A stall is reported from the first wake-up it delayed, up to one witness period after it began.
        var during = stalls.Where(s => s.Due - StallWitness.PeriodNanoseconds <= miss.LateUntil && s.Woke >= miss.Release).ToArray();
        long lost = during.Sum(s => s.Length + StallWitness.PeriodNanoseconds);
        return during.Length > 0 && lost + SlackNanoseconds >= miss.OvershootNanoseconds ? during : [];
    }

    /// <summary>
    /// Asserts that every tick <paramref name="metrics"/> recorded as missed after <paramref name="afterSequence"/>
    /// (a <see cref="LoopMetrics.MissRecords"/> taken before the window) was the machine's, and writes each to
    /// <paramref name="output"/>. Returns how many the machine explained. <paramref name="collections"/>: as below.
    /// </summary>
    public static int AssertOnlyMachineStalls(LoopMetrics metrics, long afterSequence, StallWitness witness, ITestOutputHelper? output = null, int collections = 0)
    {
        long recorded = metrics.MissRecords - afterSequence;
        var misses = metrics.RecentMisses(afterSequence);
        Assert.True(misses.Count == recorded, $"{recorded} missed ticks in the window, more than the {LoopMetrics.RecentMissCapacity} the loop keeps to audit");
        return AssertOnlyMachineStalls(misses, witness, output, collections);
    }

    /// <summary>As above, for misses read elsewhere (a daemon's <c>metrics.get</c>, see <see cref="FromJson"/>).</summary>
    /// <param name="collections">
    /// Garbage collections the caller counted in the window and will forgive one late tick each: those the runtime
    /// started itself rather than the collection pacer (a daemon's <c>status.gc.pacing.unpaced</c>; 0 by default). A collection
    /// pauses every thread of the process, so each may make one tick late: a miss the machine does not explain, but
    /// whose tick saw a collection pause as long as its overshoot, counts against this number instead of failing.
    /// Any other miss of Kairo's own fails.
    /// </param>
    public static int AssertOnlyMachineStalls(IReadOnlyList<MissRecord> misses, StallWitness witness, ITestOutputHelper? output = null, int collections = 0)
    {
        if (misses.Count == 0)
        {
            return 0;
        }

        var stalls = witness.StallsUntil(misses.Max(m => m.End) + 2 * StallWitness.PeriodNanoseconds);
        var report = new StringBuilder();
        int explained = 0, collectors = 0;
        foreach (var miss in misses)
        {
            var by = Explaining(miss, stalls);
            bool collector = by.Count == 0 && ByACollection(miss);
            explained += by.Count > 0 ? 1 : 0;
            collectors += collector ? 1 : 0;
            report.Append($"tick {miss.Tick}: {miss.Cause} (+{miss.Overruns} overrun), {miss.OvershootNanoseconds / 1e6:0.00} ms over, ")
                .Append(by.Count > 0 ? $"the machine's: {string.Join(", ", by)}" : collector ? "a garbage collection's" : "NOT a stall of the machine: Kairo's own")
                .AppendLine(miss.GcPause > 0 ? $"; garbage collections paused the process {miss.GcPause / 1e6:0.000} ms since the tick before" : "");
        }

        int own = misses.Count - explained - collectors;
        output?.WriteLine($"{misses.Count} missed ticks, {explained} in stalls the witness on CPU {witness.Cpu} saw, {collectors} in garbage collections ({collections} ran):\n{report}");
        if (own + collectors > 0 && !witness.Privileged)
        {
            Assert.Fail($"{own + collectors} missed ticks, and the stall witness could not run pinned at SCHED_FIFO above the loop " +
                $"(run the tests as root), so they cannot be told apart from the machine's stalls:\n{report}{string.Join("\n", witness.Warnings)}");
        }

        Assert.True(own == 0, $"{own} of {misses.Count} missed ticks were neither stalls of the machine nor garbage collections:\n{report}");
        Assert.True(collectors <= collections, $"{collectors} missed ticks in garbage collections, more than the {collections} collections counted:\n{report}");
        Assert.False(Strict, $"KAIRO_STRICT_DEADLINES=1 (a quiet machine or a board) forgives no missed tick, not even the machine's:\n{report}");
        return explained;
    }

    /// <summary>Whether a collection that paused the process during the tick was long enough to make it this late.</summary>
    public static bool ByACollection(MissRecord miss) =>
        miss.Cause != MissCause.InferenceError && miss.GcPause > 0 && miss.GcPause + SlackNanoseconds >= miss.OvershootNanoseconds;

    /// <summary>
    /// The missed ticks between two <c>metrics.get</c> replies of one loop, asserting that the record accounts for
    /// every miss the loop counted in between (none lost to the record's capacity).
    /// </summary>
    public static IReadOnlyList<MissRecord> Between(JsonNode before, JsonNode after)
    {
        long seen = FromJson(before["recentMisses"]!.AsArray()).Select(m => m.Sequence).DefaultIfEmpty(0).Max();
        var misses = FromJson(after["recentMisses"]!.AsArray()).Where(m => m.Sequence > seen).ToArray();
        long counted = (long)after["deadlineMisses"]! - (long)before["deadlineMisses"]!;
        Assert.True(misses.Sum(m => m.Count) == counted, $"the recent misses account for all {counted} misses counted: {after["recentMisses"]!.ToJsonString()}");
        return misses;
    }

    /// <summary>The <c>recentMisses</c> of a loop's <c>metrics.get</c> reply.</summary>
    public static IReadOnlyList<MissRecord> FromJson(JsonArray? recentMisses) =>
        (recentMisses ?? []).Select(n => n!.AsObject()).Select(o => new MissRecord(
            (long)o["seq"]!,
            (ulong)o["tick"]!,
            Enum.Parse<MissCause>((string)o["cause"]!, ignoreCase: true),
            (long)o["overruns"]!,
            (long)o["releaseNs"]!,
            (long)o["deadlineNs"]!,
            (long)o["wakeNs"]!,
            (long)o["finishedNs"]!,
            (long)o["endNs"]!,
            (long)o["periodNs"]!,
            (long?)o["gcPauseNs"] ?? 0)).ToArray();
}
