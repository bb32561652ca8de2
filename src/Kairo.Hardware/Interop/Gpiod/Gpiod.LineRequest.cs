using System.Runtime.InteropServices;

namespace Kairo.Hardware.Interop;

internal static partial class Gpiod
{
    /// <summary><c>gpiod_line_request_input_flags</c>: 0, or -1 with errno set.</summary>
    [LibraryImport(Libraries.Gpiod, EntryPoint = "gpiod_line_request_input_flags", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int LineRequestInputFlags(nint line, string consumer, int flags);

    /// <summary><c>gpiod_line_request_output_flags</c>: 0, or -1 with errno set.</summary>
    [LibraryImport(Libraries.Gpiod, EntryPoint = "gpiod_line_request_output_flags", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int LineRequestOutputFlags(nint line, string consumer, int flags, int defaultValue);

    /// <summary><c>gpiod_line_request_both_edges_events_flags</c>: 0, or -1 with errno set.</summary>
    [LibraryImport(Libraries.Gpiod, EntryPoint = "gpiod_line_request_both_edges_events_flags", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int LineRequestBothEdgesEventsFlags(nint line, string consumer, int flags);
}
