namespace Kairo.Hardware.Gpio;

/// <summary>Which way a line's logical value went.</summary>
public enum GpioEdge
{
    /// <summary>Became active (logical 0 → 1).</summary>
    Rising = 1,

    /// <summary>Became inactive (logical 1 → 0).</summary>
    Falling = 2,
}

/// <summary>
/// One edge on an input line. The timestamp is the kernel's: CLOCK_MONOTONIC nanoseconds on Linux 5.7 and newer,
/// CLOCK_REALTIME before; the simulated driver uses the monotonic clock.
/// </summary>
public readonly record struct GpioEdgeEvent(GpioEdge Edge, long TimestampNanoseconds);
