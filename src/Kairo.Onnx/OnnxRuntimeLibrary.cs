using System.Runtime.InteropServices;
using Kairo.Onnx.Interop;

namespace Kairo.Onnx;

/// <summary>
/// The loaded ONNX Runtime library, its process-wide environment, and what it offers. Load it once from start-up
/// code; every other type of this library needs it loaded.
/// </summary>
public static class OnnxRuntimeLibrary
{
    private static readonly Lock s_gate = new();
    private static OrtEnvHandle? s_env;
    private static OrtMemoryInfoHandle? s_cpuMemory;
    private static string[] s_providers = [];

    /// <summary>The full path (or loader name) the library was loaded from.</summary>
    public static string? LoadedFrom { get; private set; }

    public static bool IsLoaded => s_env != null;

    /// <summary>ONNX Runtime's version string, e.g. <c>1.30.0</c>.</summary>
    public static string Version { get { EnsureLoaded(); return OnnxRuntime.VersionString; } }

    /// <summary>ONNX Runtime's build description (git commit, build options).</summary>
    public static unsafe string BuildInfo { get { EnsureLoaded(); return OnnxRuntime.Utf8(OnnxRuntime.s_getBuildInfoString()); } }

    /// <summary>
    /// Execution providers compiled into the loaded library, in its own order, by Kairo's short names
    /// (<c>CANN</c>, <c>CUDA</c>, <c>XNNPACK</c>, <c>CPU</c>, ...).
    /// </summary>
    public static IReadOnlyList<string> AvailableProviders { get { EnsureLoaded(); return s_providers; } }

    /// <summary>
    /// Loads the library once: next to the executable, then <paramref name="configuredPath"/> (a file, or a
    /// directory holding <c>libonnxruntime.so.1</c>), then through the system loader. Later calls return at once.
    /// </summary>
    /// <param name="logSeverity">ONNX Runtime's own log threshold: 0 verbose .. 4 fatal.</param>
    /// <exception cref="DllNotFoundException">No candidate loaded; the message lists each place tried and why.</exception>
    public static void Load(string? configuredPath = null, int logSeverity = 3)
    {
        lock (s_gate)
        {
            if (s_env != null)
            {
                return;
            }

            var failures = new List<string>();
            nint library = 0;
            foreach (string candidate in Candidates(configuredPath))
            {
                if (candidate.Contains('/') && !File.Exists(candidate))
                {
                    failures.Add($"{candidate}: no such file");
                    continue;
                }

                if (NativeLibrary.TryLoad(candidate, out library))
                {
                    LoadedFrom = candidate;
                    break;
                }

                failures.Add($"{candidate}: the loader refused it (wrong architecture or missing dependency?)");
            }

            if (library == 0)
            {
                throw new DllNotFoundException(
                    $"ONNX Runtime ({OnnxRuntime.LibraryFileName}) could not be loaded. Tried:\n  " + string.Join("\n  ", failures) +
                    "\nPut the library next to the executable, set its path in the profile (onnxRuntime.libraryPath), or install it system-wide.");
            }

            OnnxRuntime.Initialize(library);
            s_env = OnnxRuntime.CreateEnv(logSeverity, "kairo");
            s_cpuMemory = OnnxRuntime.CreateCpuMemoryInfo();
            s_providers = OnnxRuntime.GetAvailableProviders();
        }
    }

    private static IEnumerable<string> Candidates(string? configuredPath)
    {
        yield return Path.Combine(AppContext.BaseDirectory, OnnxRuntime.LibraryFileName);
        if (!string.IsNullOrEmpty(configuredPath))
        {
            yield return Directory.Exists(configuredPath) ? Path.Combine(configuredPath, OnnxRuntime.LibraryFileName) : Path.GetFullPath(configuredPath);
        }

        yield return OnnxRuntime.LibraryFileName;
    }

    /// <summary>True when the loaded library has the provider (by Kairo's short name, case-insensitive).</summary>
    public static bool HasProvider(string name)
    {
        EnsureLoaded();
        string wanted = ExecutionProviderNames.ToShortName(name);
        foreach (string p in s_providers)
        {
            if (string.Equals(p, wanted, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    internal static OrtEnvHandle Env
    {
        get
        {
            EnsureLoaded();
            return s_env!;
        }
    }

    internal static OrtMemoryInfoHandle CpuMemory
    {
        get
        {
            EnsureLoaded();
            return s_cpuMemory!;
        }
    }

    internal static void EnsureLoaded()
    {
        if (s_env == null)
        {
            Internal.ThrowHelper.ThrowNotLoaded();
        }
    }
}

/// <summary>Kairo's short provider names and ONNX Runtime's long ones (<c>CANN</c> / <c>CANNExecutionProvider</c>).</summary>
public static class ExecutionProviderNames
{
    private const string Suffix = "ExecutionProvider";

    public static string ToShortName(string name)
    {
        if (name.EndsWith(Suffix, StringComparison.Ordinal))
        {
            name = name[..^Suffix.Length];
        }

        return name.ToUpperInvariant() switch
        {
            "XNNPACK" => "XNNPACK",
            "CANN" => "CANN",
            "CUDA" => "CUDA",
            "CPU" => "CPU",
            "TENSORRT" => "TensorRT",
            "OPENVINO" => "OpenVINO",
            "QNN" => "QNN",
            "DNNL" => "DNNL",
            "ROCM" => "ROCm",
            "COREML" => "CoreML",
            "NNAPI" => "NNAPI",
            "ACL" => "ACL",
            "ARMNN" => "ArmNN",
            "AZURE" => "Azure",
            "WEBGPU" => "WebGPU",
            _ => name,
        };
    }
}
