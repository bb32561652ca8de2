using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Kairo.Onnx.Internal;

namespace Kairo.Onnx.Interop;

/// <summary>
/// ONNX Runtime's C API. The library exports one function, <c>OrtGetApiBase</c>; everything else is reached
/// through the <c>OrtApi</c> table of function pointers it returns. The table is append-only across releases, so
/// a slot index names a function for good. Only this folder touches raw pointers to ONNX Runtime objects.
/// </summary>
internal static unsafe partial class OnnxRuntime
{
    internal const string LibraryFileName = "libonnxruntime.so.1";

    /// <summary>
    /// The API version asked of the library: the lowest that has every slot used here (the CANN calls, 220-224,
    /// arrived with version 13; GetBuildInfoString, 254, with 15). A newer library answers older versions too.
    /// </summary>
    internal const uint ApiVersion = 16;

    private static void** s_api;

    internal static bool IsInitialized => s_api != null;

    internal static void Initialize(nint library)
    {
        var getApiBase = (delegate* unmanaged<nint>)NativeLibrary.GetExport(library, "OrtGetApiBase");
        var apiBase = (void**)getApiBase();
        if (apiBase == null)
        {
            ThrowHelper.ThrowOnnx(OrtErrorCode.Fail, "OrtGetApiBase returned null.");
        }

        var getApi = (delegate* unmanaged<uint, void**>)apiBase[0];
        var getVersionString = (delegate* unmanaged<byte*>)apiBase[1];
        VersionString = Utf8(getVersionString());
        void** api = getApi(ApiVersion);
        if (api == null)
        {
            ThrowHelper.ThrowOnnx(OrtErrorCode.Fail, $"ONNX Runtime {VersionString} does not offer C API version {ApiVersion}; Kairo needs ONNX Runtime 1.16 or newer.");
        }

        s_api = api;
        Bind(api);
    }

    internal static string VersionString { get; private set; } = "";

    internal static string Utf8(byte* s) => s == null ? "" : Marshal.PtrToStringUTF8((nint)s) ?? "";

    /// <summary>A NUL-terminated UTF-8 copy of <paramref name="s"/> in native memory; free with <see cref="NativeMemory.Free"/>.</summary>
    internal static byte* AllocUtf8(string s)
    {
        int n = Encoding.UTF8.GetByteCount(s);
        var p = (byte*)NativeMemory.Alloc((nuint)n + 1);
        Encoding.UTF8.GetBytes(s, new Span<byte>(p, n));
        p[n] = 0;
        return p;
    }

    /// <summary>Turns a returned <c>OrtStatus*</c> into an exception; a null status is success.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ThrowIfError(nint status)
    {
        if (status != 0)
        {
            ThrowStatus(status);
        }
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowStatus(nint status)
    {
        var code = (OrtErrorCode)s_getErrorCode(status);
        string message = Utf8(s_getErrorMessage(status));
        s_releaseStatus(status);
        throw new OnnxRuntimeException(code, message);
    }

    /// <summary>Runs a call that returns an <c>OrtStatus*</c>, giving back the error instead of throwing.</summary>
    internal static OnnxRuntimeException? ToException(nint status)
    {
        if (status == 0)
        {
            return null;
        }

        var code = (OrtErrorCode)s_getErrorCode(status);
        string message = Utf8(s_getErrorMessage(status));
        s_releaseStatus(status);
        return new OnnxRuntimeException(code, message);
    }
}
