using System.Buffers;
using System.Runtime.InteropServices;

namespace Kairo.Onnx.Interop;

// One sealed SafeHandle per kind of ONNX Runtime object Kairo keeps; each releases through its own OrtApi slot.

internal abstract class OrtHandle : SafeHandle
{
    protected OrtHandle()
        : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    internal nint Value => handle;
}

internal sealed unsafe class OrtEnvHandle : OrtHandle
{
    public OrtEnvHandle(nint env) => SetHandle(env);

    protected override bool ReleaseHandle()
    {
        OnnxRuntime.s_releaseEnv(handle);
        return true;
    }
}

internal sealed unsafe class OrtMemoryInfoHandle : OrtHandle
{
    public OrtMemoryInfoHandle(nint info) => SetHandle(info);

    protected override bool ReleaseHandle()
    {
        OnnxRuntime.s_releaseMemoryInfo(handle);
        return true;
    }
}

internal sealed unsafe class OrtSessionOptionsHandle : OrtHandle
{
    public OrtSessionOptionsHandle(nint options) => SetHandle(options);

    protected override bool ReleaseHandle()
    {
        OnnxRuntime.s_releaseSessionOptions(handle);
        return true;
    }
}

internal sealed unsafe class OrtRunOptionsHandle : OrtHandle
{
    public OrtRunOptionsHandle(nint options) => SetHandle(options);

    protected override bool ReleaseHandle()
    {
        OnnxRuntime.s_releaseRunOptions(handle);
        return true;
    }
}

internal sealed unsafe class OrtIoBindingHandle : OrtHandle
{
    public OrtIoBindingHandle(nint binding) => SetHandle(binding);

    protected override bool ReleaseHandle()
    {
        OnnxRuntime.s_releaseIoBinding(handle);
        return true;
    }
}

internal sealed unsafe class OrtTypeInfoHandle : OrtHandle
{
    public OrtTypeInfoHandle(nint info) => SetHandle(info);

    protected override bool ReleaseHandle()
    {
        OnnxRuntime.s_releaseTypeInfo(handle);
        return true;
    }
}

internal sealed unsafe class OrtTensorTypeAndShapeInfoHandle : OrtHandle
{
    public OrtTensorTypeAndShapeInfoHandle(nint info) => SetHandle(info);

    protected override bool ReleaseHandle()
    {
        OnnxRuntime.s_releaseTensorTypeAndShapeInfo(handle);
        return true;
    }
}

internal sealed unsafe class OrtModelMetadataHandle : OrtHandle
{
    public OrtModelMetadataHandle(nint metadata) => SetHandle(metadata);

    protected override bool ReleaseHandle()
    {
        OnnxRuntime.s_releaseModelMetadata(handle);
        return true;
    }
}

internal sealed unsafe class OrtCannProviderOptionsHandle : OrtHandle
{
    public OrtCannProviderOptionsHandle(nint options) => SetHandle(options);

    protected override bool ReleaseHandle()
    {
        OnnxRuntime.s_releaseCannProviderOptions(handle);
        return true;
    }
}

internal sealed unsafe class OrtCudaProviderOptionsHandle : OrtHandle
{
    public OrtCudaProviderOptionsHandle(nint options) => SetHandle(options);

    protected override bool ReleaseHandle()
    {
        OnnxRuntime.s_releaseCudaProviderOptions(handle);
        return true;
    }
}

/// <summary>
/// A session, with the UTF-8 names of its inputs and outputs kept in native memory for the life of the session
/// so a Run passes them without converting anything.
/// </summary>
internal sealed unsafe class OrtSessionHandle : OrtHandle
{
    public OrtSessionHandle(nint session) => SetHandle(session);

    internal byte** InputNames;
    internal byte** OutputNames;
    internal int InputCount;
    internal int OutputCount;

    protected override bool ReleaseHandle()
    {
        OnnxRuntime.s_releaseSession(handle);
        FreeNames(InputNames, InputCount);
        FreeNames(OutputNames, OutputCount);
        return true;
    }

    private static void FreeNames(byte** names, int count)
    {
        if (names == null)
        {
            return;
        }

        for (int i = 0; i < count; i++)
        {
            NativeMemory.Free(names[i]);
        }

        NativeMemory.Free(names);
    }
}

/// <summary>
/// An OrtValue. When it wraps memory the caller owns, the pin on that memory lives exactly as long as the value,
/// released after ONNX Runtime lets go of it.
/// </summary>
internal sealed unsafe class OrtValueHandle : OrtHandle
{
    private MemoryHandle _pin;

    public OrtValueHandle(nint value, MemoryHandle pin = default)
    {
        SetHandle(value);
        _pin = pin;
    }

    protected override bool ReleaseHandle()
    {
        OnnxRuntime.s_releaseValue(handle);
        _pin.Dispose();
        return true;
    }
}
