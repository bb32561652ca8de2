namespace Kairo.Onnx;

/// <summary>
/// Element type of a tensor. The numbers are ONNX's <c>TensorProto.DataType</c>, which ONNX Runtime's
/// <c>ONNXTensorElementDataType</c> shares, so a value crosses the file format and the C API unchanged.
/// </summary>
public enum TensorElementType
{
    Undefined = 0,
    Float = 1,
    UInt8 = 2,
    Int8 = 3,
    UInt16 = 4,
    Int16 = 5,
    Int32 = 6,
    Int64 = 7,
    String = 8,
    Bool = 9,
    Float16 = 10,
    Double = 11,
    UInt32 = 12,
    UInt64 = 13,
    Complex64 = 14,
    Complex128 = 15,
    BFloat16 = 16,
    Float8E4M3FN = 17,
    Float8E4M3FNUZ = 18,
    Float8E5M2 = 19,
    Float8E5M2FNUZ = 20,
    UInt4 = 21,
    Int4 = 22,
    Float4E2M1 = 23,
}

/// <summary>Sizes and names of element types.</summary>
public static class TensorElementTypes
{
    /// <summary>
    /// Bits one element occupies in a dense tensor buffer: 4 for the packed 4-bit types, 0 for strings and
    /// types without a fixed size.
    /// </summary>
    public static int BitsPerElement(this TensorElementType type) => type switch
    {
        TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 => 32,
        TensorElementType.UInt8 or TensorElementType.Int8 or TensorElementType.Bool => 8,
        TensorElementType.Float8E4M3FN or TensorElementType.Float8E4M3FNUZ => 8,
        TensorElementType.Float8E5M2 or TensorElementType.Float8E5M2FNUZ => 8,
        TensorElementType.UInt16 or TensorElementType.Int16 => 16,
        TensorElementType.Float16 or TensorElementType.BFloat16 => 16,
        TensorElementType.Int64 or TensorElementType.UInt64 or TensorElementType.Double => 64,
        TensorElementType.Complex64 => 64,
        TensorElementType.Complex128 => 128,
        TensorElementType.UInt4 or TensorElementType.Int4 or TensorElementType.Float4E2M1 => 4,
        _ => 0,
    };

    /// <summary>Bytes a dense buffer of <paramref name="elementCount"/> elements needs (4-bit types packed two to a byte).</summary>
    public static long ByteCount(this TensorElementType type, long elementCount)
    {
        int bits = type.BitsPerElement();
        return bits == 4 ? (elementCount + 1) / 2 : elementCount * (bits / 8);
    }

    /// <summary>The name ONNX uses in its type strings, e.g. <c>float</c>, <c>int64</c>, <c>bfloat16</c>.</summary>
    public static string OnnxName(this TensorElementType type) => type switch
    {
        TensorElementType.Float => "float",
        TensorElementType.UInt8 => "uint8",
        TensorElementType.Int8 => "int8",
        TensorElementType.UInt16 => "uint16",
        TensorElementType.Int16 => "int16",
        TensorElementType.Int32 => "int32",
        TensorElementType.Int64 => "int64",
        TensorElementType.String => "string",
        TensorElementType.Bool => "bool",
        TensorElementType.Float16 => "float16",
        TensorElementType.Double => "double",
        TensorElementType.UInt32 => "uint32",
        TensorElementType.UInt64 => "uint64",
        TensorElementType.Complex64 => "complex64",
        TensorElementType.Complex128 => "complex128",
        TensorElementType.BFloat16 => "bfloat16",
        TensorElementType.Float8E4M3FN => "float8e4m3fn",
        TensorElementType.Float8E4M3FNUZ => "float8e4m3fnuz",
        TensorElementType.Float8E5M2 => "float8e5m2",
        TensorElementType.Float8E5M2FNUZ => "float8e5m2fnuz",
        TensorElementType.UInt4 => "uint4",
        TensorElementType.Int4 => "int4",
        TensorElementType.Float4E2M1 => "float4e2m1",
        _ => "undefined",
    };
}
