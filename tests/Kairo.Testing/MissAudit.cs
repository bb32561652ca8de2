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
    /// <paramref name="output"/>. Returns how many the machine explained.
    /// </summary>
    public static int AssertOnlyMachineStalls(LoopMetrics metrics, long afterSequence, StallWitness witness, ITestOutputHelper? output = null)
    {
        long recorded = metrics.MissRecords - afterSequence;
        var misses = metrics.RecentMisses(afterSequence);
        Assert.True(misses.Count == recorded, $"{recorded} missed ticks in the window, more than the {LoopMetrics.RecentMissCapacity} the loop keeps to audit");
        return AssertOnlyMachineStalls(misses, witness, output);
    }

    /// <summary>As above, for misses read elsewhere (a daemon's <c>metrics.get</c>, see <see cref="FromJson"/>).</summary>
    /// <param name="ownAllowed">Missed ticks of Kairo's own the caller knowingly tolerates (the test says why); 0 by default.</param>
    public static int AssertOnlyMachineStalls(IReadOnlyList<MissRecord> misses, StallWitness witness, ITestOutputHelper? output = null, int ownAllowed = 0)
    {
        if (misses.Count == 0)
        {
            return 0;
        }

        var stalls = witness.StallsUntil(misses.Max(m => m.End) + 2 * StallWitness.PeriodNanoseconds);
        var report = new StringBuilder();
        int explained = 0;
        foreach (var miss in misses)
        {
            var by = Explaining(miss, stalls);
            explained += by.Count > 0 ? 1 : 0;
            report.Append($"tick {miss.Tick}: {miss.Cause} (+{miss.Overruns} overrun), {miss.OvershootNanoseconds / 1e6:0.00} ms over, ")
                .AppendLine(by.Count > 0 ? $"the machine's: {string.Join(", ", by)}" : "NOT a stall of the machine: Kairo's own");
        }

        output?.WriteLine($"{misses.Count} missed ticks, {explained} in stalls the witness on CPU {witness.Cpu} saw:\n{report}");
        if (misses.Count - explained > ownAllowed && !witness.Privileged)
        {
            Assert.Fail($"{misses.Count - explained} missed ticks, and the stall witness could not run pinned at SCHED_FIFO above the loop " +
                $"(run the tests as root), so they cannot be told apart from the machine's stalls:\n{report}{string.Join("\n", witness.Warnings)}");
        }

        Assert.True(misses.Count - explained <= ownAllowed,
            $"{misses.Count - explained} of {misses.Count} missed ticks were not stalls of the machine{(ownAllowed > 0 ? $" (at most {ownAllowed} tolerated here)" : "")}:\n{report}");
        Assert.False(Strict, $"KAIRO_STRICT_DEADLINES=1 (a quiet machine or a board) forgives no missed tick, not even the machine's:\n{report}");
        return explained;
    }

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
            (long)o["periodNs"]!)).ToArray();
}
