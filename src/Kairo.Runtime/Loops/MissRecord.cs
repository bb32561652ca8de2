namespace Kairo.Runtime.Loops;

/// <summary>
/// One tick that missed its deadline, with the times that place it: CLOCK_MONOTONIC nanoseconds, the clock every
/// process on the machine shares, so a miss can be laid beside the kernel's, a tracer's or another process's
/// record of the same instant.
/// </summary>
/// <param name="Sequence">The 1-based number of this missed tick among the loop's missed ticks.</param>
/// <param name="Tick">The loop's tick number.</param>
/// <param name="Cause">Why the tick missed; <see cref="MissCause.Overrun"/> alone when only the tick's end ran past the next release.</param>
/// <param name="Overruns">Whole periods that passed without a tick because this one ended late (counted as <see cref="MissCause.Overrun"/>).</param>
/// <param name="Release">When the tick was due to start.</param>
/// <param name="Deadline">When its output was due.</param>
/// <param name="Wake">When the loop thread woke for it.</param>
/// <param name="Finished">When its inference returned (equal to <paramref name="Wake"/> when no inference ran).</param>
/// <param name="End">When its output had been handed to every sink.</param>
/// <param name="Period">The period the loop ran at.</param>
/// <param name="GcPause">
/// How long garbage collections paused the process between the end of the previous tick and the end of this one (0:
/// none ran). A collection stops every managed thread, the loop's included once it comes back from its sleep or from
/// the model, so a miss with a pause as long as its overshoot was most likely made by one.
/// </param>
public readonly record struct MissRecord(
    long Sequence,
    ulong Tick,
    MissCause Cause,
    long Overruns,
    long Release,
    long Deadline,
    long Wake,
    long Finished,
    long End,
    long Period,
    long GcPause = 0)
{
    /// <summary>How far past its due time the tick got: past the deadline for its own cause, past the next release for an overrun.</summary>
    public long OvershootNanoseconds => Cause switch
    {
        MissCause.LateWakeup => Wake - Deadline,
        MissCause.SlowInference or MissCause.InferenceError => Finished - Deadline,
        _ => End - (Release + Period),
    };

    /// <summary>When the stretch that made the tick late ended: the wake-up, the inference's return, or the tick's end.</summary>
    public long LateUntil => Cause switch
    {
        MissCause.LateWakeup => Wake,
        MissCause.SlowInference or MissCause.InferenceError => Finished,
        _ => End,
    };

    /// <summary>Deadline misses this record stands for: its own cause and its overruns.</summary>
    public long Count => (Cause == MissCause.Overrun ? 0 : 1) + Overruns;
}
