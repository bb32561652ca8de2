using Kairo.Runtime.Frames;

namespace Kairo.Runtime.Sinks;

/// <summary>What the loop hands a sink with each output frame.</summary>
/// <param name="Sequence">The loop's tick number.</param>
/// <param name="TimestampNanoseconds">CLOCK_MONOTONIC when the output was ready.</param>
/// <param name="Flags">Safe or held output, or neither for a fresh inference result.</param>
/// <param name="ModelVersion">The version of the model the loop ran on this tick.</param>
public readonly record struct TickFrame(ulong Sequence, long TimestampNanoseconds, FrameFlags Flags, long ModelVersion);

/// <summary>
/// Where a loop's outputs go. <see cref="Open"/> runs once off the loop thread; <see cref="Write"/> runs on the
/// loop thread and must neither block, allocate nor throw: a sink that cannot deliver counts the failure.
/// </summary>
public interface IFrameSink : IDisposable
{
    string Description { get; }

    /// <summary>Frames handed over, and frames the sink could not deliver.</summary>
    SinkCounters Counters { get; }

    void Open(FrameLayout layout);

    void Write(in TickFrame tick, ReadOnlySpan<byte> outputs);
}

public sealed class SinkCounters
{
    private long _written;
    private long _failed;

    public long Written => Volatile.Read(ref _written);

    public long Failed => Volatile.Read(ref _failed);

    public void CountWritten() => Volatile.Write(ref _written, _written + 1);

    public void CountFailed() => Volatile.Write(ref _failed, _failed + 1);
}
