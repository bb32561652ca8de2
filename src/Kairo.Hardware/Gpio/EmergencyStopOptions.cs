namespace Kairo.Hardware.Gpio;

/// <summary>How <see cref="EmergencyStop"/> watches its input line.</summary>
public sealed record EmergencyStopOptions
{
    /// <summary>The input line's offset on its chip.</summary>
    public required int Line { get; init; }

    /// <summary>
    /// The electrical level that means "stop". Wiring advice: a normally-closed contact to ground with a pull-up, and
    /// <see cref="GpioActiveLevel.High"/>, so that a cut wire reads as a pressed button.
    /// </summary>
    public GpioActiveLevel ActiveLevel { get; init; } = GpioActiveLevel.High;

    /// <summary>The pull resistor to ask for; boards whose device tree already sets it leave this as is.</summary>
    public GpioBias Bias { get; init; } = GpioBias.AsIs;

    /// <summary>How long the line must stay without an edge before its level counts (both ways); zero reacts on the edge.</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// The longest edge wait; when it passes quietly the line is read anyway, so an edge the kernel dropped (its queue
    /// holds 16) cannot leave a stale state for longer than this. It also bounds how long <see cref="EmergencyStop.Stop"/> takes.
    /// </summary>
    public TimeSpan RecheckInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>A line that keeps bouncing for longer than this without settling counts as engaged until it settles.</summary>
    public TimeSpan ChatterLimit { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>After a driver failure (engaged meanwhile), how long to wait before requesting the line again.</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(1);
}
