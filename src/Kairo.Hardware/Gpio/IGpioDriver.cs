namespace Kairo.Hardware.Gpio;

/// <summary>
/// One GPIO chip and its lines, addressed by offset. Values are logical: a line requested active-low reads true when
/// its wire is low, and edges are reported in the same logical sense. Every method but <see cref="WaitForEdge"/>
/// returns promptly; native failures throw <see cref="GpioException"/>, misuse (reading a line that was never
/// requested, writing an input) throws <see cref="InvalidOperationException"/>. Calls on one line are serialized by the
/// driver: releasing a line (or closing the chip) while another thread waits on it is safe, and takes effect when that
/// bounded wait returns.
/// </summary>
public interface IGpioDriver : IDisposable
{
    /// <summary>The chip name that selects <see cref="SimulatedGpioDriver"/> (a profile's <c>"chip": "simulated"</c>).</summary>
    const string SimulatedChip = "simulated";

    /// <summary>
    /// Opens a chip: <see cref="SimulatedChip"/> gives a <see cref="SimulatedGpioDriver"/>, anything else goes to
    /// libgpiod (a path such as <c>/dev/gpiochip0</c>, a name such as <c>gpiochip0</c>, a number or a kernel label).
    /// </summary>
    static IGpioDriver Open(string chip) =>
        string.Equals(chip, SimulatedChip, StringComparison.Ordinal) ? new SimulatedGpioDriver() : LibgpiodDriver.Open(chip);

    /// <summary>The chip's name ("gpiochip0", "simulated").</summary>
    string ChipName { get; }

    /// <summary>How many lines the chip has; valid offsets are 0 to LineCount - 1.</summary>
    int LineCount { get; }

    /// <summary>Requests a line as an input read with <see cref="Read"/>.</summary>
    void RequestInput(int line, bool activeLow = false, GpioBias bias = GpioBias.AsIs);

    /// <summary>Requests a line as an input that reports both edges to <see cref="WaitForEdge"/>; <see cref="Read"/> works on it too.</summary>
    void RequestEdgeEvents(int line, bool activeLow = false, GpioBias bias = GpioBias.AsIs);

    /// <summary>Requests a line as an output driven to <paramref name="initialValue"/> at once.</summary>
    void RequestOutput(int line, bool initialValue = false, bool activeLow = false);

    /// <summary>The logical value of a requested line.</summary>
    bool Read(int line);

    /// <summary>Sets the logical value of an output line. Allocates nothing.</summary>
    void Write(int line, bool value);

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for the next edge on a line requested with <see cref="RequestEdgeEvents"/>.
    /// True with the edge, or false when the time ran out. Edges queued while nobody waited are returned first, in order.
    /// </summary>
    bool WaitForEdge(int line, TimeSpan timeout, out GpioEdgeEvent edge);

    /// <summary>Gives a requested line back; a line that is not requested is left alone.</summary>
    void Release(int line);
}
