using System.Runtime.InteropServices;

namespace Kairo.Onnx.Interop;

internal static unsafe partial class OnnxRuntime
{
    private const int ExecutionModeSequential = 0;
    private const int ExecutionModeParallel = 1;

    /// <summary>
    /// Native session options from Kairo's description. Providers are appended in the order given; each one that
    /// cannot be used is recorded in <paramref name="outcomes"/>, or thrown when it is required.
    /// </summary>
    internal static OrtSessionOptionsHandle CreateSessionOptions(SessionOptions options, List<ProviderOutcome> outcomes)
    {
        nint created;
        ThrowIfError(s_createSessionOptions(&created));
        nint raw = created;
        var handle = new OrtSessionOptionsHandle(raw);
        try
        {
            ThrowIfError(s_setIntraOpNumThreads(raw, options.IntraOpThreads));
            ThrowIfError(s_setInterOpNumThreads(raw, options.InterOpThreads));
            ThrowIfError(s_setSessionGraphOptimizationLevel(raw, (int)options.GraphOptimizationLevel));
            ThrowIfError(s_setSessionExecutionMode(raw, options.ParallelExecution ? ExecutionModeParallel : ExecutionModeSequential));
            ThrowIfError(s_setSessionLogSeverityLevel(raw, Math.Clamp(options.LogSeverity, 0, 4)));
            if (options.LogId is { Length: > 0 } logId)
            {
                WithUtf8(logId, p => ThrowIfError(s_setSessionLogId(raw, (byte*)p)));
            }

            if (options.OptimizedModelPath is { Length: > 0 } optimized)
            {
                WithUtf8(optimized, p => ThrowIfError(s_setOptimizedModelFilePath(raw, (byte*)p)));
            }

            if (options.AllowSpinning is bool spin)
            {
                AddConfigEntry(raw, "session.intra_op.allow_spinning", spin ? "1" : "0");
                AddConfigEntry(raw, "session.inter_op.allow_spinning", spin ? "1" : "0");
            }

            if (options.ConfigEntries != null)
            {
                foreach (var (key, value) in options.ConfigEntries)
                {
                    AddConfigEntry(raw, key, value);
                }
            }

            foreach (var provider in options.ExecutionProviders)
            {
                outcomes.Add(AppendProvider(raw, provider));
            }

            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static void AddConfigEntry(nint options, string key, string value)
    {
        byte* k = AllocUtf8(key);
        byte* v = AllocUtf8(value);
        try
        {
            ThrowIfError(s_addSessionConfigEntry(options, k, v));
        }
        finally
        {
            NativeMemory.Free(k);
            NativeMemory.Free(v);
        }
    }

    private static ProviderOutcome AppendProvider(nint options, ExecutionProvider provider)
    {
        string name = ExecutionProviderNames.ToShortName(provider.Name);
        if (name == "CPU")
        {
            // CPU is always the last resort of every session; nothing to append.
            return new ProviderOutcome(provider.Name, true, "");
        }

        if (!OnnxRuntimeLibrary.HasProvider(name))
        {
            string reason = $"not in this ONNX Runtime build (it offers: {string.Join(", ", OnnxRuntimeLibrary.AvailableProviders)})";
            return Refuse(provider, reason, OrtErrorCode.EpFail);
        }

        var keys = provider.Options?.Keys.ToArray() ?? [];
        var values = keys.Select(k => provider.Options![k]).ToArray();
        using var nativeKeys = new Utf8Array(keys);
        using var nativeValues = new Utf8Array(values);
        nint status = name switch
        {
            "CANN" => AppendCann(options, nativeKeys, nativeValues),
            "CUDA" => AppendCuda(options, nativeKeys, nativeValues),
            _ => AppendByName(options, name, nativeKeys, nativeValues),
        };
        if (ToException(status) is { } error)
        {
            return Refuse(provider, error.Message, error.ErrorCode);
        }

        return new ProviderOutcome(provider.Name, true, "");
    }

    private static ProviderOutcome Refuse(ExecutionProvider provider, string reason, OrtErrorCode code)
    {
        if (provider.Required)
        {
            throw new OnnxRuntimeException(code, $"execution provider {provider.Name} is required but cannot be used: {reason}");
        }

        return new ProviderOutcome(provider.Name, false, reason);
    }

    private static nint AppendCann(nint options, Utf8Array keys, Utf8Array values)
    {
        nint cann;
        nint status = s_createCannProviderOptions(&cann);
        if (status != 0)
        {
            return status;
        }

        using var handle = new OrtCannProviderOptionsHandle(cann);
        status = s_updateCannProviderOptions(cann, keys.Pointers, values.Pointers, (nuint)keys.Count);
        return status != 0 ? status : s_appendExecutionProviderCann(options, cann);
    }

    private static nint AppendCuda(nint options, Utf8Array keys, Utf8Array values)
    {
        nint cuda;
        nint status = s_createCudaProviderOptions(&cuda);
        if (status != 0)
        {
            return status;
        }

        using var handle = new OrtCudaProviderOptionsHandle(cuda);
        status = s_updateCudaProviderOptions(cuda, keys.Pointers, values.Pointers, (nuint)keys.Count);
        return status != 0 ? status : s_appendExecutionProviderCudaV2(options, cuda);
    }

    private static nint AppendByName(nint options, string name, Utf8Array keys, Utf8Array values)
    {
        byte* n = AllocUtf8(name);
        try
        {
            return s_appendExecutionProvider(options, n, keys.Pointers, values.Pointers, (nuint)keys.Count);
        }
        finally
        {
            NativeMemory.Free(n);
        }
    }

    internal static OrtSessionHandle CreateSession(string modelPath, OrtSessionOptionsHandle options)
    {
        nint session;
        byte* path = AllocUtf8(modelPath);
        try
        {
            ThrowIfError(s_createSession(OnnxRuntimeLibrary.Env.Value, path, options.Value, &session));
        }
        finally
        {
            NativeMemory.Free(path);
        }

        return WithNames(new OrtSessionHandle(session));
    }

    internal static OrtSessionHandle CreateSession(ReadOnlySpan<byte> model, OrtSessionOptionsHandle options)
    {
        nint session;
        fixed (byte* data = model)
        {
            ThrowIfError(s_createSessionFromArray(OnnxRuntimeLibrary.Env.Value, data, (nuint)model.Length, options.Value, &session));
        }

        return WithNames(new OrtSessionHandle(session));
    }

    private static OrtSessionHandle WithNames(OrtSessionHandle session)
    {
        try
        {
            nint s = session.Value;
            nuint inputs, outputs;
            ThrowIfError(s_sessionGetInputCount(s, &inputs));
            ThrowIfError(s_sessionGetOutputCount(s, &outputs));
            session.InputNames = (byte**)NativeMemory.AllocZeroed(Math.Max(1, inputs), (nuint)sizeof(byte*));
            session.InputCount = (int)inputs;
            session.OutputNames = (byte**)NativeMemory.AllocZeroed(Math.Max(1, outputs), (nuint)sizeof(byte*));
            session.OutputCount = (int)outputs;
            nint allocator = DefaultAllocator;
            for (nuint i = 0; i < inputs; i++)
            {
                byte* name;
                ThrowIfError(s_sessionGetInputName(s, i, allocator, &name));
                session.InputNames[i] = AllocUtf8(TakeAllocatorString(allocator, name));
            }

            for (nuint i = 0; i < outputs; i++)
            {
                byte* name;
                ThrowIfError(s_sessionGetOutputName(s, i, allocator, &name));
                session.OutputNames[i] = AllocUtf8(TakeAllocatorString(allocator, name));
            }

            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    internal static NodeInfo GetNodeInfo(OrtSessionHandle session, int index, bool input)
    {
        nint typeInfo;
        ThrowIfError(input
            ? s_sessionGetInputTypeInfo(session.Value, (nuint)index, &typeInfo)
            : s_sessionGetOutputTypeInfo(session.Value, (nuint)index, &typeInfo));
        using var typeInfoHandle = new OrtTypeInfoHandle(typeInfo);
        string name = Utf8(input ? session.InputNames[index] : session.OutputNames[index]);
        int onnxType;
        ThrowIfError(s_getOnnxTypeFromTypeInfo(typeInfo, &onnxType));
        var kind = (OnnxValueKind)onnxType;
        if (kind != OnnxValueKind.Tensor)
        {
            return new NodeInfo(name, kind, TensorElementType.Undefined, [], []);
        }

        nint tensorInfo; // owned by the type info: not released on its own
        ThrowIfError(s_castTypeInfoToTensorInfo(typeInfo, &tensorInfo));
        var (elementType, shape, symbolic) = ReadTensorInfo(tensorInfo);
        return new NodeInfo(name, kind, elementType, shape, symbolic);
    }

    internal static (TensorElementType Type, long[] Shape, string[] Symbolic) ReadTensorInfo(nint tensorInfo)
    {
        int elementType;
        nuint rank;
        ThrowIfError(s_getTensorElementType(tensorInfo, &elementType));
        ThrowIfError(s_getDimensionsCount(tensorInfo, &rank));
        var shape = new long[rank];
        var symbolic = new string[rank];
        if (rank > 0)
        {
            var names = stackalloc byte*[(int)rank];
            fixed (long* dims = shape)
            {
                ThrowIfError(s_getDimensions(tensorInfo, dims, rank));
            }

            ThrowIfError(s_getSymbolicDimensions(tensorInfo, names, rank));
            for (int i = 0; i < (int)rank; i++)
            {
                symbolic[i] = Utf8(names[i]);
            }
        }

        return ((TensorElementType)elementType, shape, symbolic);
    }

    internal static ModelMetadata GetModelMetadata(OrtSessionHandle session)
    {
        nint created;
        ThrowIfError(s_sessionGetModelMetadata(session.Value, &created));
        nint metadata = created;
        using var handle = new OrtModelMetadataHandle(metadata);
        nint allocator = DefaultAllocator;
        string Get(delegate* unmanaged<nint, nint, byte**, nint> getter)
        {
            byte* value;
            ThrowIfError(getter(metadata, allocator, &value));
            return TakeAllocatorString(allocator, value);
        }

        string producer = Get(s_modelMetadataGetProducerName);
        string graph = Get(s_modelMetadataGetGraphName);
        string graphDescription = Get(s_modelMetadataGetGraphDescription);
        string domain = Get(s_modelMetadataGetDomain);
        string description = Get(s_modelMetadataGetDescription);
        long version;
        ThrowIfError(s_modelMetadataGetVersion(metadata, &version));

        var custom = new Dictionary<string, string>(StringComparer.Ordinal);
        byte** keys;
        long keyCount;
        ThrowIfError(s_modelMetadataGetCustomMetadataMapKeys(metadata, allocator, &keys, &keyCount));
        if (keys != null)
        {
            for (long i = 0; i < keyCount; i++)
            {
                byte* value;
                ThrowIfError(s_modelMetadataLookupCustomMetadataMap(metadata, allocator, keys[i], &value));
                string key = TakeAllocatorString(allocator, keys[i]);
                custom[key] = TakeAllocatorString(allocator, value);
            }

            ThrowIfError(s_allocatorFree(allocator, keys));
        }

        return new ModelMetadata(producer, graph, graphDescription, domain, description, version, custom);
    }

    private static void WithUtf8(string s, Action<nint> use)
    {
        byte* p = AllocUtf8(s);
        try
        {
            use((nint)p);
        }
        finally
        {
            NativeMemory.Free(p);
        }
    }

    /// <summary>An array of NUL-terminated UTF-8 strings in native memory, for the key/value calls.</summary>
    internal sealed class Utf8Array : IDisposable
    {
        public Utf8Array(IReadOnlyList<string> values)
        {
            Count = values.Count;
            Pointers = (byte**)NativeMemory.AllocZeroed((nuint)Math.Max(1, Count), (nuint)sizeof(byte*));
            for (int i = 0; i < Count; i++)
            {
                Pointers[i] = AllocUtf8(values[i]);
            }
        }

        public byte** Pointers { get; private set; }

        public int Count { get; }

        public void Dispose()
        {
            if (Pointers == null)
            {
                return;
            }

            for (int i = 0; i < Count; i++)
            {
                NativeMemory.Free(Pointers[i]);
            }

            NativeMemory.Free(Pointers);
            Pointers = null;
        }
    }
}
