using Kairo.Onnx.Interop;
using Kairo.Onnx.Internal;

namespace Kairo.Onnx;

/// <summary>
/// Inputs and outputs bound to a session once, so each run passes nothing: the form a control loop uses. Bound
/// tensors are kept referenced here so they live as long as the binding needs them.
/// </summary>
public sealed class IoBinding : IDisposable
{
    private readonly InferenceSession _session;
    private readonly OrtIoBindingHandle _handle;
    private readonly Dictionary<string, OrtTensor> _bound = new(StringComparer.Ordinal);

    internal IoBinding(InferenceSession session, OrtIoBindingHandle handle)
    {
        _session = session;
        _handle = handle;
    }

    public void BindInput(string name, OrtTensor tensor)
    {
        RequireName(_session.InputIndex(name), name, "input");
        OnnxRuntime.Bind(_handle, name, tensor, input: true);
        _bound["in:" + name] = tensor;
    }

    /// <summary>Binds an output to a preallocated tensor that each run writes in place.</summary>
    public void BindOutput(string name, OrtTensor tensor)
    {
        RequireName(_session.OutputIndex(name), name, "output");
        OnnxRuntime.Bind(_handle, name, tensor, input: false);
        _bound["out:" + name] = tensor;
    }

    /// <summary>Binds an output whose shape is only known after a run: ONNX Runtime allocates it in CPU memory.</summary>
    public void BindOutputToCpu(string name)
    {
        RequireName(_session.OutputIndex(name), name, "output");
        OnnxRuntime.Bind(_handle, name, null, input: false);
    }

    /// <summary>Runs the session on the bound values. Allocates no managed memory.</summary>
    public void Run(RunOptions? options = null) => OnnxRuntime.RunWithBinding(_session.Handle, options?.Handle, _handle);

    /// <summary>The output values of the last run, in binding order; the caller disposes them.</summary>
    public OrtTensor[] GetOutputs() => OnnxRuntime.GetBoundOutputs(_handle);

    public void ClearInputs()
    {
        OnnxRuntime.ClearBindings(_handle, inputs: true);
        foreach (string key in _bound.Keys.Where(k => k.StartsWith("in:", StringComparison.Ordinal)).ToList())
        {
            _bound.Remove(key);
        }
    }

    public void ClearOutputs()
    {
        OnnxRuntime.ClearBindings(_handle, inputs: false);
        foreach (string key in _bound.Keys.Where(k => k.StartsWith("out:", StringComparison.Ordinal)).ToList())
        {
            _bound.Remove(key);
        }
    }

    public void Dispose()
    {
        _handle.Dispose();
        _bound.Clear();
    }

    private void RequireName(int index, string name, string what)
    {
        if (index < 0)
        {
            ThrowHelper.ThrowArgument($"the model has no {what} named '{name}'", nameof(name));
        }
    }
}
