using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Kairo.Onnx.TestData;

/// <summary>
/// Compares an output to its expected tensor the way ONNX Runtime's test runner does. Element type and shape must
/// match. Floating-point elements (float, double, float16, bfloat16, the float8 and float4 types; complex numbers
/// component by component) pass when |expected − actual| ≤ atol + rtol · |expected|, compared as double; NaN
/// matches NaN, and an infinity only the same infinity. Integers, bools and strings must be equal. The element loop
/// allocates nothing; only the message about the first differing element is formatted.
/// </summary>
public static class TensorComparer
{
    private const int MaxStringShown = 60;

    /// <summary>Null when <paramref name="actual"/> matches <paramref name="expected"/>; otherwise why not.</summary>
    /// <param name="output">The output's name, used in the message.</param>
    public static TensorMismatch? Compare(string output, TensorData expected, TensorData actual, Tolerance? tolerance = null)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        return Compare(output, ViewOf(expected, "expected", output), ViewOf(actual, "actual", output), tolerance ?? Tolerance.Default);
    }

    /// <summary>Null when the output ONNX Runtime produced matches <paramref name="expected"/>; otherwise why not.</summary>
    public static TensorMismatch? Compare(string output, TensorData expected, OrtTensor actual, Tolerance? tolerance = null)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        if (actual.Kind != OnnxValueKind.Tensor)
        {
            return new TensorMismatch(output, MismatchKind.ValueKind,
                $"output '{output}': expected a tensor, got {WithArticle(actual.Kind)}");
        }

        TensorView actualView = actual.ElementType == TensorElementType.String
            ? new TensorView(actual.ElementType, actual.Shape, default, actual.GetStringBytes())
            : new TensorView(actual.ElementType, actual.Shape, actual.ElementCount == 0 ? default : actual.GetBytes(), null);
        return Compare(output, ViewOf(expected, "expected", output), actualView, tolerance ?? Tolerance.Default);
    }

    /// <summary>The element rule on its own: true when <paramref name="actual"/> is close enough to <paramref name="expected"/>.</summary>
    public static bool IsClose(double expected, double actual, Tolerance tolerance)
    {
        ArgumentNullException.ThrowIfNull(tolerance);
        return IsClose(expected, actual, tolerance.Atol, tolerance.Rtol);
    }

    /// <summary>"a sequence", "an optional": how messages name a kind of value.</summary>
    internal static string WithArticle(OnnxValueKind kind) => kind switch
    {
        OnnxValueKind.Tensor => "a tensor",
        OnnxValueKind.Sequence => "a sequence",
        OnnxValueKind.Map => "a map",
        OnnxValueKind.Optional => "an optional",
        OnnxValueKind.SparseTensor => "a sparse tensor",
        OnnxValueKind.Opaque => "an opaque value",
        _ => "a value of unknown kind",
    };

    private static bool IsClose(double expected, double actual, double atol, double rtol)
    {
        if (double.IsNaN(expected))
        {
            return double.IsNaN(actual);
        }

        if (double.IsInfinity(expected))
        {
            return expected == actual;
        }

        // Written so that a NaN or infinite actual value fails the comparison.
        return Math.Abs(expected - actual) <= atol + (rtol * Math.Abs(expected));
    }

    private static TensorMismatch? Compare(string output, in TensorView expected, in TensorView actual, Tolerance tolerance)
    {
        if (expected.Type != actual.Type)
        {
            return new TensorMismatch(output, MismatchKind.ElementType,
                $"output '{output}': expected {expected.Type.OnnxName()}, got {actual.Type.OnnxName()}");
        }

        if (!expected.Shape.SequenceEqual(actual.Shape))
        {
            return new TensorMismatch(output, MismatchKind.Shape,
                $"output '{output}': expected shape {TensorData.FormatDims(expected.Shape)}, got {TensorData.FormatDims(actual.Shape)}");
        }

        TensorData.TryCountElements(expected.Shape, out long count);
        (long differing, long first) = CountDiffering(expected, actual, count, tolerance);
        if (differing == 0)
        {
            return null;
        }

        string message = string.Create(CultureInfo.InvariantCulture,
            $"output '{output}': {differing} of {count} {(count == 1 ? "element" : "elements")} {(differing == 1 ? "differs" : "differ")}; " +
            $"first at [{first}]: {DescribeElement(expected, actual, first, tolerance)}");
        return new TensorMismatch(output, MismatchKind.Values, message, first, differing, count);
    }

    private static (long Differing, long First) CountDiffering(in TensorView expected, in TensorView actual, long count, Tolerance tolerance)
    {
        ReadOnlySpan<byte> e = expected.Bytes;
        ReadOnlySpan<byte> a = actual.Bytes;
        double atol = tolerance.Atol;
        double rtol = tolerance.Rtol;
        return expected.Type switch
        {
            TensorElementType.Float => CountReals<float, SingleReal>(Cast<float>(e), Cast<float>(a), 1, atol, rtol),
            TensorElementType.Double => CountReals<double, DoubleReal>(Cast<double>(e), Cast<double>(a), 1, atol, rtol),
            TensorElementType.Float16 => CountReals<Half, HalfReal>(Cast<Half>(e), Cast<Half>(a), 1, atol, rtol),
            TensorElementType.BFloat16 => CountReals<BFloat16, BFloat16Real>(Cast<BFloat16>(e), Cast<BFloat16>(a), 1, atol, rtol),
            TensorElementType.Complex64 => CountReals<float, SingleReal>(Cast<float>(e), Cast<float>(a), 2, atol, rtol),
            TensorElementType.Complex128 => CountReals<double, DoubleReal>(Cast<double>(e), Cast<double>(a), 2, atol, rtol),
            TensorElementType.Float8E4M3FN => CountReals<byte, Float8E4M3FNReal>(e, a, 1, atol, rtol),
            TensorElementType.Float8E4M3FNUZ => CountReals<byte, Float8E4M3FNUZReal>(e, a, 1, atol, rtol),
            TensorElementType.Float8E5M2 => CountReals<byte, Float8E5M2Real>(e, a, 1, atol, rtol),
            TensorElementType.Float8E5M2FNUZ => CountReals<byte, Float8E5M2FNUZReal>(e, a, 1, atol, rtol),
            TensorElementType.Float4E2M1 => CountFloat4(e, a, count, atol, rtol),
            TensorElementType.Int4 or TensorElementType.UInt4 => CountNibbles(e, a, count),
            TensorElementType.Bool => CountBools(e, a),
            TensorElementType.String => CountStrings(expected.Strings!, actual.Strings!),
            _ => expected.Type.BitsPerElement() switch
            {
                8 => CountExact(e, a),
                16 => CountExact(Cast<ushort>(e), Cast<ushort>(a)),
                32 => CountExact(Cast<uint>(e), Cast<uint>(a)),
                _ => CountExact(Cast<ulong>(e), Cast<ulong>(a)),
            },
        };
    }

    private static (long, long) CountReals<T, TReal>(ReadOnlySpan<T> expected, ReadOnlySpan<T> actual, int components, double atol, double rtol)
        where T : unmanaged
        where TReal : IReal<T>
    {
        long differing = 0;
        long first = -1;
        int elements = expected.Length / components;
        for (int i = 0; i < elements; i++)
        {
            bool close = true;
            for (int c = 0; c < components; c++)
            {
                int k = (i * components) + c;
                close &= IsClose(TReal.ToDouble(expected[k]), TReal.ToDouble(actual[k]), atol, rtol);
            }

            if (!close)
            {
                first = differing++ == 0 ? i : first;
            }
        }

        return (differing, first);
    }

    private static (long, long) CountExact<T>(ReadOnlySpan<T> expected, ReadOnlySpan<T> actual)
        where T : unmanaged, IEquatable<T>
    {
        if (expected.SequenceEqual(actual))
        {
            return (0, -1);
        }

        long differing = 0;
        long first = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            if (!expected[i].Equals(actual[i]))
            {
                first = differing++ == 0 ? i : first;
            }
        }

        return (differing, first);
    }

    private static (long, long) CountBools(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual)
    {
        long differing = 0;
        long first = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            if ((expected[i] != 0) != (actual[i] != 0))
            {
                first = differing++ == 0 ? i : first;
            }
        }

        return (differing, first);
    }

    // Packed two to a byte; the padding nibble of an odd count is not an element and is not compared.
    private static (long, long) CountNibbles(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, long count)
    {
        long differing = 0;
        long first = -1;
        for (long i = 0; i < count; i++)
        {
            if (Nibble(expected, i) != Nibble(actual, i))
            {
                first = differing++ == 0 ? i : first;
            }
        }

        return (differing, first);
    }

    private static (long, long) CountFloat4(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, long count, double atol, double rtol)
    {
        long differing = 0;
        long first = -1;
        for (long i = 0; i < count; i++)
        {
            if (!IsClose(Minifloat.Float4E2M1(Nibble(expected, i)), Minifloat.Float4E2M1(Nibble(actual, i)), atol, rtol))
            {
                first = differing++ == 0 ? i : first;
            }
        }

        return (differing, first);
    }

    private static (long, long) CountStrings(byte[][] expected, byte[][] actual)
    {
        long differing = 0;
        long first = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            if (!expected[i].AsSpan().SequenceEqual(actual[i]))
            {
                first = differing++ == 0 ? i : first;
            }
        }

        return (differing, first);
    }

    private static int Nibble(ReadOnlySpan<byte> packed, long index)
    {
        byte b = packed[(int)(index / 2)];
        return (index & 1) == 0 ? b & 0x0F : b >> 4;
    }

    private static ReadOnlySpan<T> Cast<T>(ReadOnlySpan<byte> bytes)
        where T : unmanaged => MemoryMarshal.Cast<byte, T>(bytes);

    /// <summary>"expected 0.25, got 0.2612 (allowed 0.00125)" for the element at <paramref name="index"/>.</summary>
    private static string DescribeElement(in TensorView expected, in TensorView actual, long index, Tolerance tolerance)
    {
        TensorElementType type = expected.Type;
        if (type == TensorElementType.String)
        {
            return $"expected {Quote(expected.Strings![index])}, got {Quote(actual.Strings![index])}";
        }

        if (type is TensorElementType.Complex64 or TensorElementType.Complex128)
        {
            (double eRe, double eIm) = ReadComplex(type, expected.Bytes, index);
            (double aRe, double aIm) = ReadComplex(type, actual.Bytes, index);
            return string.Create(CultureInfo.InvariantCulture,
                $"expected ({FormatReal(type, eRe)}, {FormatReal(type, eIm)}), got ({FormatReal(type, aRe)}, {FormatReal(type, aIm)}) " +
                $"(allowed {AllowedText(eRe, tolerance)}, {AllowedText(eIm, tolerance)})");
        }

        if (IsReal(type))
        {
            double e = ReadReal(type, expected.Bytes, index);
            double a = ReadReal(type, actual.Bytes, index);
            string allowed = double.IsFinite(e) ? $" (allowed {AllowedText(e, tolerance)})" : "";
            return $"expected {FormatReal(type, e)}, got {FormatReal(type, a)}{allowed}";
        }

        return $"expected {FormatInteger(type, expected.Bytes, index)}, got {FormatInteger(type, actual.Bytes, index)}";
    }

    private static bool IsReal(TensorElementType type) => type is TensorElementType.Float or TensorElementType.Double
        or TensorElementType.Float16 or TensorElementType.BFloat16 or TensorElementType.Float8E4M3FN or TensorElementType.Float8E4M3FNUZ
        or TensorElementType.Float8E5M2 or TensorElementType.Float8E5M2FNUZ or TensorElementType.Float4E2M1;

    private static double ReadReal(TensorElementType type, ReadOnlySpan<byte> bytes, long index)
    {
        int i = (int)index;
        return type switch
        {
            TensorElementType.Float => Cast<float>(bytes)[i],
            TensorElementType.Double => Cast<double>(bytes)[i],
            TensorElementType.Float16 => (double)Cast<Half>(bytes)[i],
            TensorElementType.BFloat16 => (float)Cast<BFloat16>(bytes)[i],
            TensorElementType.Float8E4M3FN => Float8E4M3FNReal.ToDouble(bytes[i]),
            TensorElementType.Float8E4M3FNUZ => Float8E4M3FNUZReal.ToDouble(bytes[i]),
            TensorElementType.Float8E5M2 => Float8E5M2Real.ToDouble(bytes[i]),
            TensorElementType.Float8E5M2FNUZ => Float8E5M2FNUZReal.ToDouble(bytes[i]),
            _ => Minifloat.Float4E2M1(Nibble(bytes, index)),
        };
    }

    private static (double Re, double Im) ReadComplex(TensorElementType type, ReadOnlySpan<byte> bytes, long index)
    {
        int i = (int)index * 2;
        return type == TensorElementType.Complex64
            ? (Cast<float>(bytes)[i], Cast<float>(bytes)[i + 1])
            : (Cast<double>(bytes)[i], Cast<double>(bytes)[i + 1]);
    }

    // Each value in its own precision: a float prints as the shortest text that reads back as that float.
    private static string FormatReal(TensorElementType type, double value) => type switch
    {
        TensorElementType.Double or TensorElementType.Complex128 => value.ToString(CultureInfo.InvariantCulture),
        TensorElementType.Float16 => ((Half)value).ToString(CultureInfo.InvariantCulture),
        _ => ((float)value).ToString(CultureInfo.InvariantCulture),
    };

    private static string AllowedText(double expected, Tolerance tolerance) => double.IsFinite(expected)
        ? tolerance.Allowed(expected).ToString("G6", CultureInfo.InvariantCulture)
        : "exact";

    private static string FormatInteger(TensorElementType type, ReadOnlySpan<byte> bytes, long index)
    {
        int i = (int)index;
        CultureInfo c = CultureInfo.InvariantCulture;
        return type switch
        {
            TensorElementType.Bool => bytes[i] != 0 ? "true" : "false",
            TensorElementType.Int8 => ((sbyte)bytes[i]).ToString(c),
            TensorElementType.UInt8 => bytes[i].ToString(c),
            TensorElementType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(bytes[(i * 2)..]).ToString(c),
            TensorElementType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 2)..]).ToString(c),
            TensorElementType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(bytes[(i * 4)..]).ToString(c),
            TensorElementType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(bytes[(i * 4)..]).ToString(c),
            TensorElementType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(bytes[(i * 8)..]).ToString(c),
            TensorElementType.UInt64 => BinaryPrimitives.ReadUInt64LittleEndian(bytes[(i * 8)..]).ToString(c),
            TensorElementType.Int4 => (((sbyte)(Nibble(bytes, index) << 4)) >> 4).ToString(c),
            TensorElementType.UInt4 => Nibble(bytes, index).ToString(c),
            _ => "?",
        };
    }

    private static string Quote(byte[] utf8)
    {
        string text = Encoding.UTF8.GetString(utf8);
        return text.Length <= MaxStringShown ? $"\"{text}\"" : $"\"{text[..MaxStringShown]}…\" ({text.Length} chars)";
    }

    private static TensorView ViewOf(TensorData tensor, string side, string output)
    {
        TensorData.TryCountElements(tensor.Dims, out long count);
        if (tensor.ElementType == TensorElementType.String)
        {
            byte[][] strings = tensor.Strings ?? [];
            if (strings.Length != count)
            {
                throw new ArgumentException(
                    $"{side} tensor for output '{output}' holds {strings.Length} strings but dims {TensorData.FormatDims(tensor.Dims)} need {count}");
            }

            return new TensorView(tensor.ElementType, tensor.Dims, default, strings);
        }

        long need = tensor.ElementType.ByteCount(count);
        if (tensor.ElementType.BitsPerElement() == 0 || tensor.RawData.Length != need)
        {
            throw new ArgumentException(
                $"{side} tensor for output '{output}' holds {tensor.RawData.Length} bytes but dims {TensorData.FormatDims(tensor.Dims)} " +
                $"of {tensor.ElementType.OnnxName()} need {need}");
        }

        return new TensorView(tensor.ElementType, tensor.Dims, tensor.RawData, null);
    }

    /// <summary>One side of a comparison, wherever its elements live.</summary>
    private readonly ref struct TensorView
    {
        public TensorView(TensorElementType type, ReadOnlySpan<long> shape, ReadOnlySpan<byte> bytes, byte[][]? strings)
        {
            Type = type;
            Shape = shape;
            Bytes = bytes;
            Strings = strings;
        }

        public TensorElementType Type { get; }

        public ReadOnlySpan<long> Shape { get; }

        public ReadOnlySpan<byte> Bytes { get; }

        public byte[][]? Strings { get; }
    }

    // Static interface members let the element loop be specialized per type with no call through a delegate.
    private interface IReal<T>
    {
        static abstract double ToDouble(T value);
    }

    private readonly struct SingleReal : IReal<float>
    {
        public static double ToDouble(float value) => value;
    }

    private readonly struct DoubleReal : IReal<double>
    {
        public static double ToDouble(double value) => value;
    }

    private readonly struct HalfReal : IReal<Half>
    {
        public static double ToDouble(Half value) => (double)value;
    }

    private readonly struct BFloat16Real : IReal<BFloat16>
    {
        public static double ToDouble(BFloat16 value) => (float)value;
    }

    private readonly struct Float8E4M3FNReal : IReal<byte>
    {
        public static double ToDouble(byte value) => (value & 0x7F) == 0x7F ? double.NaN : Minifloat.Decode(value, 4, 3, 7);
    }

    private readonly struct Float8E4M3FNUZReal : IReal<byte>
    {
        public static double ToDouble(byte value) => value == 0x80 ? double.NaN : Minifloat.Decode(value, 4, 3, 8);
    }

    private readonly struct Float8E5M2Real : IReal<byte>
    {
        public static double ToDouble(byte value) => (value & 0x7C) != 0x7C ? Minifloat.Decode(value, 5, 2, 15)
            : (value & 0x03) != 0 ? double.NaN
            : (value & 0x80) != 0 ? double.NegativeInfinity : double.PositiveInfinity;
    }

    private readonly struct Float8E5M2FNUZReal : IReal<byte>
    {
        public static double ToDouble(byte value) => value == 0x80 ? double.NaN : Minifloat.Decode(value, 5, 2, 16);
    }

    /// <summary>The small float formats ONNX defines, decoded exactly into a double.</summary>
    private static class Minifloat
    {
        public static double Float4E2M1(int nibble) => Decode(nibble, 2, 1, 1);

        /// <summary>A finite value: sign bit, then <paramref name="exponentBits"/>, then <paramref name="mantissaBits"/>.</summary>
        public static double Decode(int bits, int exponentBits, int mantissaBits, int bias)
        {
            int exponent = (bits >> mantissaBits) & ((1 << exponentBits) - 1);
            int mantissa = bits & ((1 << mantissaBits) - 1);
            double magnitude = exponent == 0
                ? Math.ScaleB(mantissa, 1 - bias - mantissaBits)
                : Math.ScaleB(mantissa + (1 << mantissaBits), exponent - bias - mantissaBits);
            return ((bits >> (exponentBits + mantissaBits)) & 1) != 0 ? -magnitude : magnitude;
        }
    }
}
