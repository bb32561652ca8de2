namespace Kairo.Hardware.Gpio;

/// <summary>The pull resistor an input line asks for (libgpiod 1.5+, Linux 5.5+).</summary>
public enum GpioBias
{
    /// <summary>Leave the line's bias as the board configured it.</summary>
    AsIs,

    /// <summary>No pull resistor: the line floats unless something drives it.</summary>
    Disabled,

    /// <summary>Pull up: an open contact reads high.</summary>
    PullUp,

    /// <summary>Pull down: an open contact reads low.</summary>
    PullDown,
}
