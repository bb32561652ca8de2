using System.Runtime.InteropServices;

namespace Kairo.Hardware.Interop;

internal static unsafe partial class Gpiod
{
    /// <summary><c>gpiod_version_string</c>: a static string owned by the library.</summary>
    [LibraryImport(Libraries.Gpiod, EntryPoint = "gpiod_version_string")]
    internal static partial byte* VersionString();
}
