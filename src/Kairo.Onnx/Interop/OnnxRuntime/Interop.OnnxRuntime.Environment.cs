using System.Runtime.InteropServices;

namespace Kairo.Onnx.Interop;

internal static unsafe partial class OnnxRuntime
{
    private const int OrtArenaAllocator = 1;
    private const int OrtMemTypeDefault = 0;

    internal static OrtEnvHandle CreateEnv(int logSeverity, string logId)
    {
        byte* id = AllocUtf8(logId);
        try
        {
            nint env;
            ThrowIfError(s_createEnv(Math.Clamp(logSeverity, 0, 4), id, &env));
            return new OrtEnvHandle(env);
        }
        finally
        {
            NativeMemory.Free(id);
        }
    }

    internal static OrtMemoryInfoHandle CreateCpuMemoryInfo()
    {
        nint info;
        ThrowIfError(s_createCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &info));
        return new OrtMemoryInfoHandle(info);
    }

    /// <summary>The default CPU allocator; owned by ONNX Runtime, never released.</summary>
    internal static nint DefaultAllocator
    {
        get
        {
            nint allocator;
            ThrowIfError(s_getAllocatorWithDefaultOptions(&allocator));
            return allocator;
        }
    }

    /// <summary>Copies and frees a string that ONNX Runtime allocated with the default allocator.</summary>
    internal static string TakeAllocatorString(nint allocator, byte* s)
    {
        if (s == null)
        {
            return "";
        }

        string result = Utf8(s);
        ThrowIfError(s_allocatorFree(allocator, s));
        return result;
    }

    internal static string[] GetAvailableProviders()
    {
        byte** names;
        int count;
        ThrowIfError(s_getAvailableProviders(&names, &count));
        try
        {
            var result = new string[count];
            for (int i = 0; i < count; i++)
            {
                result[i] = ExecutionProviderNames.ToShortName(Utf8(names[i]));
            }

            return result;
        }
        finally
        {
            ThrowIfError(s_releaseAvailableProviders(names, count));
        }
    }
}
