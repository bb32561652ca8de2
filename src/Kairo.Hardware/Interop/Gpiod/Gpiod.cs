using System.Runtime.InteropServices;

namespace Kairo.Hardware.Interop;

/// <summary>
/// libgpiod v1's single-line API (gpiod.h, 1.6). One function, or one small family, per file; this part holds the
/// constants and structures. Only this folder touches <c>struct gpiod_chip*</c> and <c>struct gpiod_line*</c>.
/// </summary>
internal static unsafe partial class Gpiod
{
    // GPIOD_LINE_REQUEST_FLAG_* (bits of the flags argument of the *_flags request functions).
    internal const int GPIOD_LINE_REQUEST_FLAG_OPEN_DRAIN = 1 << 0;
    internal const int GPIOD_LINE_REQUEST_FLAG_OPEN_SOURCE = 1 << 1;
    internal const int GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW = 1 << 2;
    internal const int GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE = 1 << 3;
    internal const int GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN = 1 << 4;
    internal const int GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP = 1 << 5;

    // struct gpiod_line_event.event_type.
    internal const int GPIOD_LINE_EVENT_RISING_EDGE = 1;
    internal const int GPIOD_LINE_EVENT_FALLING_EDGE = 2;

    /// <summary><c>struct gpiod_line_event</c>: a <c>struct timespec</c> then the event type.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct LineEvent
    {
        public Libc.Timespec Timestamp;
        public int EventType;
    }

    /// <summary>libgpiod's version string ("1.6.3"), or null when the library cannot be loaded.</summary>
    internal static string? TryGetVersion()
    {
        try
        {
            return Marshal.PtrToStringUTF8((nint)VersionString());
        }
        catch (DllNotFoundException)
        {
            return null;
        }
    }
}
