using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;

namespace Kairo.Onnx.Interop;

internal static unsafe partial class OnnxRuntime
{
    internal static OrtValueHandle CreateTensorOver(void* data, nuint byteLength, ReadOnlySpan<long> shape, TensorElementType type, MemoryHandle pin)
    {
        nint value;
        fixed (long* dims = shape)
        {
            nint status = s_createTensorWithDataAsOrtValue(OnnxRuntimeLibrary.CpuMemory.Value, data, byteLength, dims, (nuint)shape.Length, (int)type, &value);
            if (status != 0)
            {
                pin.Dispose();
                ThrowIfError(status);
            }
        }

        return new OrtValueHandle(value, pin);
    }

    internal static OrtValueHandle CreateTensor(ReadOnlySpan<long> shape, TensorElementType type)
    {
        nint value;
        fixed (long* dims = shape)
        {
            ThrowIfError(s_createTensorAsOrtValue(DefaultAllocator, dims, (nuint)shape.Length, (int)type, &value));
        }

        return new OrtValueHandle(value);
    }

    internal static void FillStrings(OrtValueHandle value, ReadOnlySpan<string> strings)
    {
        using var utf8 = new Utf8Array(strings.ToArray());
        ThrowIfError(s_fillStringTensor(value.Value, utf8.Pointers, (nuint)utf8.Count));
    }

    internal static byte[][] GetStrings(OrtValueHandle value, long count)
    {
        nuint total;
        ThrowIfError(s_getStringTensorDataLength(value.Value, &total));
        var content = new byte[total];
        var offsets = new nuint[Math.Max(1, count)];
        fixed (byte* c = content)
        fixed (nuint* o = offsets)
        {
            ThrowIfError(s_getStringTensorContent(value.Value, c, total, o, (nuint)count));
        }

        var result = new byte[count][];
        for (long i = 0; i < count; i++)
        {
            long start = (long)offsets[i];
            long end = i + 1 < count ? (long)offsets[i + 1] : (long)total;
            result[i] = content.AsSpan((int)start, (int)(end - start)).ToArray();
        }

        return result;
    }

    internal static string Utf8Decode(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    internal static void* GetTensorData(OrtValueHandle value)
    {
        void* data;
        ThrowIfError(s_getTensorMutableData(value.Value, &data));
        return data;
    }

    /// <summary>Kind, element type and shape of a value ONNX Runtime made (an output it allocated).</summary>
    internal static (OnnxValueKind Kind, TensorElementType Type, long[] Shape) Describe(OrtValueHandle value)
    {
        int onnxType;
        ThrowIfError(s_getValueType(value.Value, &onnxType));
        var kind = (OnnxValueKind)onnxType;
        if (kind != OnnxValueKind.Tensor)
        {
            return (kind, TensorElementType.Undefined, []);
        }

        nint info;
        ThrowIfError(s_getTensorTypeAndShape(value.Value, &info));
        using var handle = new OrtTensorTypeAndShapeInfoHandle(info);
        var (type, shape, _) = ReadTensorInfo(info);
        return (kind, type, shape);
    }
}
