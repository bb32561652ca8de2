namespace Kairo.Hardware.Gpio;

/// <summary>What a line is currently requested as, tracked by each driver.</summary>
internal enum GpioLineMode
{
    Free,
    Input,
    Output,
    EdgeEvents,
}
