using System.Buffers;
using System.Runtime.CompilerServices;
using Kairo.Onnx.Interop;
using Kairo.Onnx.Internal;

namespace Kairo.Onnx;

/// <summary>
/// A tensor ONNX Runtime can read and write: over memory the caller owns (pinned for the tensor's life), over
/// memory ONNX Runtime allocated, or of strings. Shape, element type and the data pointer are fixed at creation,
/// so reading the data is a span over native memory with no call into ONNX Runtime.
/// </summary>
public sealed unsafe class OrtTensor : IDisposable
{
    private readonly long[] _shape;
    private readonly void* _data;
    private readonly bool _numeric;

    private OrtTensor(OrtValueHandle handle, OnnxValueKind kind, TensorElementType elementType, long[] shape)
    {
        Handle = handle;
        Kind = kind;
        ElementType = elementType;
        _shape = shape;
        ElementCount = CountElements(shape);
        if (kind == OnnxValueKind.Tensor && elementType != TensorElementType.String)
        {
            _numeric = true;
            _data = OnnxRuntime.GetTensorData(handle); // null for a tensor with no elements
            ByteLength = elementType.ByteCount(ElementCount);
        }
    }

    internal OrtValueHandle Handle { get; }

    public OnnxValueKind Kind { get; }

    public TensorElementType ElementType { get; }

    public ReadOnlySpan<long> Shape => _shape;

    public long ElementCount { get; }

    /// <summary>Bytes of element data (0 for strings).</summary>
    public long ByteLength { get; }

    /// <summary>A tensor over <paramref name="memory"/>, which stays pinned until the tensor is disposed.</summary>
    public static OrtTensor CreateOver<T>(Memory<T> memory, ReadOnlySpan<long> shape)
        where T : unmanaged
    {
        var type = ElementTypeOf<T>.Value;
        long count = CountElements(shape);
        if (count != memory.Length)
        {
            ThrowHelper.ThrowArgument($"shape [{string.Join(',', shape.ToArray())}] holds {count} elements but the memory holds {memory.Length}", nameof(shape));
        }

        MemoryHandle pin = memory.Pin();
        var handle = OnnxRuntime.CreateTensorOver(pin.Pointer, (nuint)(memory.Length * sizeof(T)), shape, type, pin);
        return new OrtTensor(handle, OnnxValueKind.Tensor, type, shape.ToArray());
    }

    /// <summary>A tensor over native memory the caller keeps alive and unmoved for the tensor's life.</summary>
    public static OrtTensor CreateOver(TensorElementType type, nint data, long byteLength, ReadOnlySpan<long> shape)
    {
        long need = type.ByteCount(CountElements(shape));
        if (type == TensorElementType.String || need != byteLength)
        {
            ThrowHelper.ThrowArgument($"a {type.OnnxName()} tensor of shape [{string.Join(',', shape.ToArray())}] needs {need} bytes, got {byteLength}", nameof(byteLength));
        }

        var handle = OnnxRuntime.CreateTensorOver((void*)data, (nuint)byteLength, shape, type, default);
        return new OrtTensor(handle, OnnxValueKind.Tensor, type, shape.ToArray());
    }

    /// <summary>A tensor in memory ONNX Runtime allocates and frees, zero-filled.</summary>
    public static OrtTensor Allocate(TensorElementType type, ReadOnlySpan<long> shape)
    {
        CountElements(shape);
        var handle = OnnxRuntime.CreateTensor(shape, type);
        var tensor = new OrtTensor(handle, OnnxValueKind.Tensor, type, shape.ToArray());
        tensor.GetBytes().Clear();
        return tensor;
    }

    public static OrtTensor Allocate<T>(ReadOnlySpan<long> shape)
        where T : unmanaged => Allocate(ElementTypeOf<T>.Value, shape);

    /// <summary>A string tensor holding copies of <paramref name="values"/>.</summary>
    public static OrtTensor CreateStrings(ReadOnlySpan<string> values, ReadOnlySpan<long> shape)
    {
        long count = CountElements(shape);
        if (count != values.Length)
        {
            ThrowHelper.ThrowArgument($"shape [{string.Join(',', shape.ToArray())}] holds {count} strings but {values.Length} were given", nameof(shape));
        }

        var handle = OnnxRuntime.CreateTensor(shape, TensorElementType.String);
        try
        {
            OnnxRuntime.FillStrings(handle, values);
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        return new OrtTensor(handle, OnnxValueKind.Tensor, TensorElementType.String, shape.ToArray());
    }

    /// <summary>Wraps a value ONNX Runtime created (an output it allocated); the tensor owns it.</summary>
    internal static OrtTensor FromOwnedValue(nint value)
    {
        var handle = new OrtValueHandle(value);
        try
        {
            var (kind, type, shape) = OnnxRuntime.Describe(handle);
            return new OrtTensor(handle, kind, type, shape);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The elements, in place. <typeparamref name="T"/> must have the element type's size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<T> GetData<T>()
        where T : unmanaged
    {
        if (!_numeric || sizeof(T) * 8 != ElementType.BitsPerElement())
        {
            ThrowWrongType(typeof(T));
        }

        return new Span<T>(_data, (int)ElementCount);
    }

    /// <summary>The element bytes, in place.</summary>
    public Span<byte> GetBytes()
    {
        if (!_numeric)
        {
            ThrowWrongType(typeof(byte));
        }

        return new Span<byte>(_data, (int)ByteLength);
    }

    /// <summary>Address of the element data, for copying frames in without a span.</summary>
    public nint DataPointer => (nint)_data;

    public string[] GetStrings() => Array.ConvertAll(GetStringBytes(), OnnxRuntime.Utf8Decode);

    public byte[][] GetStringBytes()
    {
        if (ElementType != TensorElementType.String)
        {
            ThrowWrongType(typeof(string));
        }

        return OnnxRuntime.GetStrings(Handle, ElementCount);
    }

    public void Dispose() => Handle.Dispose();

    public override string ToString() => $"{ElementType.OnnxName()}[{string.Join(',', _shape)}]";

    private void ThrowWrongType(Type requested) =>
        ThrowHelper.ThrowArgument($"a {Kind.ToString().ToLowerInvariant()} of {ElementType.OnnxName()} cannot be read as {requested.Name}");

    internal static long CountElements(ReadOnlySpan<long> shape)
    {
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0)
            {
                ThrowHelper.ThrowArgument($"shape [{string.Join(',', shape.ToArray())}] has a negative dimension; give every dimension a size", nameof(shape));
            }

            count *= d;
        }

        return count;
    }
}

/// <summary>The element type that a CLR type stands for in a tensor.</summary>
public static class ElementTypeOf<T>
    where T : unmanaged
{
    public static readonly TensorElementType Value =
        typeof(T) == typeof(float) ? TensorElementType.Float :
        typeof(T) == typeof(double) ? TensorElementType.Double :
        typeof(T) == typeof(Half) ? TensorElementType.Float16 :
        typeof(T) == typeof(BFloat16) ? TensorElementType.BFloat16 :
        typeof(T) == typeof(sbyte) ? TensorElementType.Int8 :
        typeof(T) == typeof(byte) ? TensorElementType.UInt8 :
        typeof(T) == typeof(short) ? TensorElementType.Int16 :
        typeof(T) == typeof(ushort) ? TensorElementType.UInt16 :
        typeof(T) == typeof(int) ? TensorElementType.Int32 :
        typeof(T) == typeof(uint) ? TensorElementType.UInt32 :
        typeof(T) == typeof(long) ? TensorElementType.Int64 :
        typeof(T) == typeof(ulong) ? TensorElementType.UInt64 :
        typeof(T) == typeof(bool) ? TensorElementType.Bool :
        throw new NotSupportedException($"{typeof(T).Name} is not a tensor element type");
}
