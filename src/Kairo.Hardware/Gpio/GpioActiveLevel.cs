namespace Kairo.Hardware.Gpio;

/// <summary>The electrical level at which an input means "active" (an emergency stop pressed, say).</summary>
public enum GpioActiveLevel
{
    /// <summary>Active when the wire is high.</summary>
    High,

    /// <summary>Active when the wire is low: the line is requested active-low, so the kernel inverts it.</summary>
    Low,
}
