using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Kairo.Onnx.TestData;

/// <summary>
/// One tensor as an ONNX test-data <c>.pb</c> file stores it: element type, dims, and the elements either as a
/// dense little-endian buffer or, for strings, as one byte array per element.
/// </summary>
public sealed class TensorData
{
    public string? Name { get; init; }

    public TensorElementType ElementType { get; init; }

    /// <summary>The shape; empty for a scalar.</summary>
    public long[] Dims { get; init; } = [];

    /// <summary>
    /// Dense little-endian element bytes: bool one byte per element, the 4-bit types two per byte with the first
    /// element in the low nibble and the last byte padded. Empty for strings.
    /// </summary>
    public byte[] RawData { get; init; } = [];

    /// <summary>Each element's bytes, for <see cref="TensorElementType.String"/> only.</summary>
    public byte[][]? Strings { get; init; }

    /// <summary>The product of <see cref="Dims"/>; 1 for a scalar.</summary>
    public long ElementCount => TryCountElements(Dims, out long count)
        ? count
        : throw new InvalidOperationException($"dims {FormatDims(Dims)} hold a negative dim or more than {long.MaxValue} elements");

    /// <summary>
    /// A tensor holding a copy of <paramref name="values"/>. <typeparamref name="T"/> decides the element type:
    /// float, double, sbyte, byte, short, ushort, int, uint, long, ulong, bool, <see cref="Half"/> or <see cref="BFloat16"/>.
    /// </summary>
    public static TensorData FromSpan<T>(ReadOnlySpan<T> values, ReadOnlySpan<long> dims, string? name = null)
        where T : unmanaged
    {
        TensorElementType type = ElementTypeOf<T>();
        long count = CountForFactory(dims);
        if (values.Length != count)
        {
            throw new ArgumentException($"{values.Length} values given but dims {FormatDims(dims)} hold {count}", nameof(values));
        }

        ThrowIfBigEndian();
        return new TensorData
        {
            Name = name,
            ElementType = type,
            Dims = dims.ToArray(),
            RawData = MemoryMarshal.AsBytes(values).ToArray(),
        };
    }

    /// <summary>A string tensor; each value is stored as UTF-8.</summary>
    public static TensorData FromStrings(IReadOnlyList<string> values, ReadOnlySpan<long> dims, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        long count = CountForFactory(dims);
        if (values.Count != count)
        {
            throw new ArgumentException($"{values.Count} strings given but dims {FormatDims(dims)} hold {count}", nameof(values));
        }

        var strings = new byte[values.Count][];
        for (int i = 0; i < strings.Length; i++)
        {
            strings[i] = Encoding.UTF8.GetBytes(values[i] ?? throw new ArgumentException($"string {i} is null", nameof(values)));
        }

        return new TensorData { Name = name, ElementType = TensorElementType.String, Dims = dims.ToArray(), Strings = strings };
    }

    /// <summary>
    /// The elements as <typeparamref name="T"/>, without copying. Only the size of <typeparamref name="T"/> is
    /// checked against the element type, so float16 reads as <see cref="Half"/> or <see cref="ushort"/> alike.
    /// </summary>
    public ReadOnlySpan<T> AsSpan<T>() where T : unmanaged
    {
        int bits = ElementType.BitsPerElement();
        if (ElementType == TensorElementType.String)
        {
            throw new InvalidOperationException($"tensor '{Name}' holds strings; read them with GetStrings()");
        }

        if (bits == 4)
        {
            throw new InvalidOperationException(
                $"tensor '{Name}' holds {ElementType.OnnxName()}, packed two elements to a byte; read RawData instead");
        }

        int size = Unsafe.SizeOf<T>();
        if (bits == 0 || size * 8 != bits)
        {
            throw new InvalidOperationException(
                $"tensor '{Name}' holds {ElementType.OnnxName()} ({bits / 8} bytes per element) but {typeof(T).Name} is {size} bytes");
        }

        long needed = ElementType.ByteCount(ElementCount);
        if (RawData.Length != needed)
        {
            throw new InvalidOperationException(
                $"tensor '{Name}' RawData holds {RawData.Length} bytes but dims {FormatDims(Dims)} of {ElementType.OnnxName()} need {needed}");
        }

        ThrowIfBigEndian();
        return MemoryMarshal.Cast<byte, T>(RawData);
    }

    /// <summary>The elements of a string tensor, decoded from UTF-8.</summary>
    public string[] GetStrings()
    {
        if (ElementType != TensorElementType.String || Strings is null)
        {
            throw new InvalidOperationException($"tensor '{Name}' holds {ElementType.OnnxName()}, not strings");
        }

        var values = new string[Strings.Length];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = Encoding.UTF8.GetString(Strings[i]);
        }

        return values;
    }

    /// <summary>"[2,3]", the way error messages show dims.</summary>
    internal static string FormatDims(ReadOnlySpan<long> dims)
    {
        var text = new StringBuilder("[");
        for (int i = 0; i < dims.Length; i++)
        {
            text.Append(i == 0 ? "" : ",").Append(dims[i]);
        }

        return text.Append(']').ToString();
    }

    /// <summary>Product of dims; false for a negative dim or a product past <see cref="long.MaxValue"/>.</summary>
    internal static bool TryCountElements(ReadOnlySpan<long> dims, out long count)
    {
        count = 1;
        bool overflow = false;
        foreach (long dim in dims)
        {
            if (dim < 0)
            {
                return false;
            }

            // A zero dim empties the tensor however large the others are, so overflow only counts without one.
            if (dim == 0)
            {
                count = 0;
                return true;
            }

            overflow |= count > long.MaxValue / dim;
            count = unchecked(count * dim);
        }

        return !overflow;
    }

    private static long CountForFactory(ReadOnlySpan<long> dims) => TryCountElements(dims, out long count)
        ? count
        : throw new ArgumentException($"dims {FormatDims(dims)} hold a negative dim or more than {long.MaxValue} elements", nameof(dims));

    // Raw buffers are little-endian by definition; reinterpreting them as T is only right on a little-endian host.
    private static void ThrowIfBigEndian()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Kairo reads tensor buffers in place, which needs a little-endian host");
        }
    }

    private static TensorElementType ElementTypeOf<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? TensorElementType.Float
        : typeof(T) == typeof(double) ? TensorElementType.Double
        : typeof(T) == typeof(sbyte) ? TensorElementType.Int8
        : typeof(T) == typeof(byte) ? TensorElementType.UInt8
        : typeof(T) == typeof(short) ? TensorElementType.Int16
        : typeof(T) == typeof(ushort) ? TensorElementType.UInt16
        : typeof(T) == typeof(int) ? TensorElementType.Int32
        : typeof(T) == typeof(uint) ? TensorElementType.UInt32
        : typeof(T) == typeof(long) ? TensorElementType.Int64
        : typeof(T) == typeof(ulong) ? TensorElementType.UInt64
        : typeof(T) == typeof(bool) ? TensorElementType.Bool
        : typeof(T) == typeof(Half) ? TensorElementType.Float16
        : typeof(T) == typeof(BFloat16) ? TensorElementType.BFloat16
        : throw new ArgumentException(
            $"{typeof(T).Name} has no ONNX element type; use float, double, sbyte, byte, short, ushort, int, uint, long, ulong, bool, Half or BFloat16");
}
