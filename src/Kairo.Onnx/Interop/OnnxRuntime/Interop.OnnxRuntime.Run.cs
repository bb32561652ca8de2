using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kairo.Onnx.Internal;

namespace Kairo.Onnx.Interop;

internal static unsafe partial class OnnxRuntime
{
    private const int StackallocLimit = 64;

    /// <summary>
    /// One inference: every input in the session's order, every output in its order. Outputs given are written in
    /// place; null outputs are allocated by ONNX Runtime and returned in the span. Allocates nothing managed when
    /// every output is given.
    /// </summary>
    internal static void Run(OrtSessionHandle session, OrtRunOptionsHandle? options, ReadOnlySpan<OrtTensor> inputs, Span<OrtTensor?> outputs)
    {
        int inputCount = session.InputCount;
        int outputCount = session.OutputCount;
        if (inputs.Length != inputCount || outputs.Length != outputCount)
        {
            ThrowHelper.ThrowArgument($"the model takes {inputCount} inputs and gives {outputCount} outputs; the run passed {inputs.Length} and {outputs.Length}");
        }

        nint* inputValues = stackalloc nint[inputCount <= StackallocLimit ? inputCount : 0];
        nint* outputValues = stackalloc nint[outputCount <= StackallocLimit ? outputCount : 0];
        if (inputCount > StackallocLimit)
        {
            inputValues = (nint*)NativeMemory.Alloc((nuint)inputCount, (nuint)sizeof(nint));
        }

        if (outputCount > StackallocLimit)
        {
            outputValues = (nint*)NativeMemory.Alloc((nuint)outputCount, (nuint)sizeof(nint));
        }

        bool sessionRef = false;
        bool optionsRef = false;
        try
        {
            for (int i = 0; i < inputCount; i++)
            {
                inputValues[i] = inputs[i].Handle.Value;
            }

            for (int i = 0; i < outputCount; i++)
            {
                outputValues[i] = outputs[i] is { } output ? output.Handle.Value : 0;
            }

            session.DangerousAddRef(ref sessionRef);
            nint runOptions = 0;
            if (options != null)
            {
                options.DangerousAddRef(ref optionsRef);
                runOptions = options.Value;
            }

            ThrowIfError(s_run(session.Value, runOptions, session.InputNames, inputValues, (nuint)inputCount, session.OutputNames, (nuint)outputCount, outputValues));
            for (int i = 0; i < outputCount; i++)
            {
                outputs[i] ??= OrtTensor.FromOwnedValue(outputValues[i]);
            }
        }
        finally
        {
            if (optionsRef)
            {
                options!.DangerousRelease();
            }

            if (sessionRef)
            {
                session.DangerousRelease();
            }

            if (inputCount > StackallocLimit)
            {
                NativeMemory.Free(inputValues);
            }

            if (outputCount > StackallocLimit)
            {
                NativeMemory.Free(outputValues);
            }
        }
    }

    internal static OrtRunOptionsHandle CreateRunOptions()
    {
        nint options;
        ThrowIfError(s_createRunOptions(&options));
        return new OrtRunOptionsHandle(options);
    }

    internal static void SetTerminate(OrtRunOptionsHandle options, bool terminate) =>
        ThrowIfError(terminate ? s_runOptionsSetTerminate(options.Value) : s_runOptionsUnsetTerminate(options.Value));

    internal static void SetRunTag(OrtRunOptionsHandle options, string tag)
    {
        byte* t = AllocUtf8(tag);
        try
        {
            ThrowIfError(s_runOptionsSetRunTag(options.Value, t));
        }
        finally
        {
            NativeMemory.Free(t);
        }
    }

    internal static void SetRunLogSeverity(OrtRunOptionsHandle options, int severity) =>
        ThrowIfError(s_runOptionsSetRunLogSeverityLevel(options.Value, Math.Clamp(severity, 0, 4)));

    internal static OrtIoBindingHandle CreateIoBinding(OrtSessionHandle session)
    {
        nint binding;
        ThrowIfError(s_createIoBinding(session.Value, &binding));
        return new OrtIoBindingHandle(binding);
    }

    internal static void Bind(OrtIoBindingHandle binding, string name, OrtTensor? tensor, bool input)
    {
        byte* n = AllocUtf8(name);
        try
        {
            ThrowIfError(input ? s_bindInput(binding.Value, n, tensor!.Handle.Value)
                : tensor != null ? s_bindOutput(binding.Value, n, tensor.Handle.Value)
                : s_bindOutputToDevice(binding.Value, n, OnnxRuntimeLibrary.CpuMemory.Value));
        }
        finally
        {
            NativeMemory.Free(n);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void RunWithBinding(OrtSessionHandle session, OrtRunOptionsHandle? options, OrtIoBindingHandle binding)
    {
        bool sessionRef = false;
        bool bindingRef = false;
        bool optionsRef = false;
        try
        {
            session.DangerousAddRef(ref sessionRef);
            binding.DangerousAddRef(ref bindingRef);
            nint runOptions = 0;
            if (options != null)
            {
                options.DangerousAddRef(ref optionsRef);
                runOptions = options.Value;
            }

            ThrowIfError(s_runWithBinding(session.Value, runOptions, binding.Value));
        }
        finally
        {
            if (optionsRef)
            {
                options!.DangerousRelease();
            }

            if (bindingRef)
            {
                binding.DangerousRelease();
            }

            if (sessionRef)
            {
                session.DangerousRelease();
            }
        }
    }

    internal static OrtTensor[] GetBoundOutputs(OrtIoBindingHandle binding)
    {
        nint allocator = DefaultAllocator;
        nint* values;
        nuint count;
        ThrowIfError(s_getBoundOutputValues(binding.Value, allocator, &values, &count));
        if (values == null)
        {
            return [];
        }

        var result = new OrtTensor[count];
        for (nuint i = 0; i < count; i++)
        {
            result[i] = OrtTensor.FromOwnedValue(values[i]);
        }

        ThrowIfError(s_allocatorFree(allocator, values));
        return result;
    }

    internal static void ClearBindings(OrtIoBindingHandle binding, bool inputs)
    {
        if (inputs)
        {
            s_clearBoundInputs(binding.Value);
        }
        else
        {
            s_clearBoundOutputs(binding.Value);
        }
    }
}
