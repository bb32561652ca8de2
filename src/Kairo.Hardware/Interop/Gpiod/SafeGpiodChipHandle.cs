using System.Runtime.InteropServices;

namespace Kairo.Hardware.Interop;

/// <summary>
/// A <c>struct gpiod_chip*</c>. Closing it also releases and frees every line taken from it, so it is closed only
/// when no call on one of its lines is in flight: <see cref="GpiodChip"/> holds a reference for each such call.
/// </summary>
internal sealed class SafeGpiodChipHandle : SafeHandle
{
    public SafeGpiodChipHandle()
        : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        Gpiod.ChipClose(handle);
        return true;
    }
}
