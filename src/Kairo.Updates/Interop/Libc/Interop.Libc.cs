using System.Runtime.InteropServices;

namespace Kairo.Updates.Interop;

/// <summary>The libc calls Kairo.Updates needs: what .NET does not expose to make a rename durable.</summary>
internal static partial class Libc
{
    /// <summary>The C library; the runtime maps this name to the platform's libc.</summary>
    internal const string LibraryName = "libc";

    // errno values (Linux, every architecture Kairo targets).
    internal const int ENOENT = 2;
    internal const int EINTR = 4;
    internal const int EINVAL = 22;

    internal const int O_RDONLY = 0;
    internal const int O_CLOEXEC = 0x80000;

    /// <summary>O_DIRECTORY is one of the few flags whose value depends on the architecture: 040000 on ARM, 0200000 elsewhere.</summary>
    internal static int O_DIRECTORY { get; } =
        RuntimeInformation.ProcessArchitecture is Architecture.Arm or Architecture.Arm64 or Architecture.Armv6 ? 0x4000 : 0x10000;

    /// <summary>The message of an errno value, e.g. "No such file or directory (errno 2)".</summary>
    internal static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
}
