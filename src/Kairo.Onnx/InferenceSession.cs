using Kairo.Onnx.Interop;
using Kairo.Onnx.Internal;

namespace Kairo.Onnx;

/// <summary>A loaded model, ready to run. Runs may come from several threads at once.</summary>
public sealed class InferenceSession : IDisposable
{
    private readonly OrtSessionHandle _handle;
    private readonly NodeInfo[] _inputs;
    private readonly NodeInfo[] _outputs;
    private ModelMetadata? _metadata;

    private InferenceSession(OrtSessionHandle handle, List<ProviderOutcome> providers)
    {
        _handle = handle;
        try
        {
            _inputs = new NodeInfo[handle.InputCount];
            for (int i = 0; i < _inputs.Length; i++)
            {
                _inputs[i] = OnnxRuntime.GetNodeInfo(handle, i, input: true);
            }

            _outputs = new NodeInfo[handle.OutputCount];
            for (int i = 0; i < _outputs.Length; i++)
            {
                _outputs[i] = OnnxRuntime.GetNodeInfo(handle, i, input: false);
            }
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        Providers = providers;
    }

    /// <summary>Loads a model file.</summary>
    public static InferenceSession Open(string modelPath, SessionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        if (!File.Exists(modelPath))
        {
            ThrowHelper.ThrowOnnx(OrtErrorCode.NoSuchFile, $"model file not found: {modelPath}");
        }

        return Create(options ?? SessionOptions.Default, o => OnnxRuntime.CreateSession(modelPath, o));
    }

    /// <summary>Loads a model from its bytes (for example read from a verified package).</summary>
    public static InferenceSession Open(ReadOnlyMemory<byte> model, SessionOptions? options = null) =>
        Create(options ?? SessionOptions.Default, o => OnnxRuntime.CreateSession(model.Span, o));

    private static InferenceSession Create(SessionOptions options, Func<OrtSessionOptionsHandle, OrtSessionHandle> open)
    {
        OnnxRuntimeLibrary.EnsureLoaded();
        var providers = new List<ProviderOutcome>();
        using var nativeOptions = OnnxRuntime.CreateSessionOptions(options, providers);
        return new InferenceSession(open(nativeOptions), providers);
    }

    public IReadOnlyList<NodeInfo> Inputs => _inputs;

    public IReadOnlyList<NodeInfo> Outputs => _outputs;

    /// <summary>What became of each requested execution provider; CPU serves whatever none of them took.</summary>
    public IReadOnlyList<ProviderOutcome> Providers { get; }

    public ModelMetadata Metadata => _metadata ??= OnnxRuntime.GetModelMetadata(_handle);

    public int InputIndex(string name) => IndexOf(_inputs, name);

    public int OutputIndex(string name) => IndexOf(_outputs, name);

    /// <summary>
    /// Runs the model. <paramref name="inputs"/> holds every input in <see cref="Inputs"/> order and
    /// <paramref name="outputs"/> every output in <see cref="Outputs"/> order. Outputs given are written in place;
    /// null ones are allocated by ONNX Runtime and stored back into the span (the caller then owns them). With
    /// every output given, a run allocates no managed memory.
    /// </summary>
    public void Run(ReadOnlySpan<OrtTensor> inputs, Span<OrtTensor?> outputs, RunOptions? options = null) =>
        OnnxRuntime.Run(_handle, options?.Handle, inputs, outputs);

    /// <summary>Runs the model and returns every output, allocated by ONNX Runtime; the caller disposes them.</summary>
    public OrtTensor[] Run(ReadOnlySpan<OrtTensor> inputs, RunOptions? options = null)
    {
        var outputs = new OrtTensor?[_outputs.Length];
        OnnxRuntime.Run(_handle, options?.Handle, inputs, outputs);
        return outputs!;
    }

    /// <summary>A binding of inputs and outputs to this session, for runs that pass nothing per call.</summary>
    public IoBinding CreateIoBinding() => new(this, OnnxRuntime.CreateIoBinding(_handle));

    internal OrtSessionHandle Handle => _handle;

    public void Dispose() => _handle.Dispose();

    private static int IndexOf(NodeInfo[] nodes, string name)
    {
        for (int i = 0; i < nodes.Length; i++)
        {
            if (nodes[i].Name == name)
            {
                return i;
            }
        }

        return -1;
    }
}
