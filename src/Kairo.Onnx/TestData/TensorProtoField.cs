namespace Kairo.Onnx.TestData;

/// <summary>Field numbers of <c>onnx.TensorProto</c> and which typed field holds which element type.</summary>
internal static class TensorProtoField
{
    public const int Dims = 1;
    public const int DataType = 2;
    public const int Segment = 3;
    public const int FloatData = 4;
    public const int Int32Data = 5;
    public const int StringData = 6;
    public const int Int64Data = 7;
    public const int Name = 8;
    public const int RawData = 9;
    public const int DoubleData = 10;
    public const int UInt64Data = 11;
    public const int DocString = 12;
    public const int ExternalData = 13;
    public const int DataLocation = 14;

    /// <summary>The <c>DataLocation.EXTERNAL</c> value of field 14.</summary>
    public const ulong DataLocationExternal = 1;

    /// <summary>"field 4 (float_data)": how error messages name a field.</summary>
    public static string Describe(int field) => field switch
    {
        Dims => "field 1 (dims)",
        DataType => "field 2 (data_type)",
        Segment => "field 3 (segment)",
        FloatData => "field 4 (float_data)",
        Int32Data => "field 5 (int32_data)",
        StringData => "field 6 (string_data)",
        Int64Data => "field 7 (int64_data)",
        Name => "field 8 (name)",
        RawData => "field 9 (raw_data)",
        DoubleData => "field 10 (double_data)",
        UInt64Data => "field 11 (uint64_data)",
        DocString => "field 12 (doc_string)",
        ExternalData => "field 13 (external_data)",
        DataLocation => "field 14 (data_location)",
        _ => $"field {field}",
    };

    public static string NameOf(int field) => field switch
    {
        FloatData => "float_data",
        Int32Data => "int32_data",
        StringData => "string_data",
        Int64Data => "int64_data",
        RawData => "raw_data",
        DoubleData => "double_data",
        UInt64Data => "uint64_data",
        _ => $"field {field}",
    };

    /// <summary>
    /// The typed field onnx.proto assigns to an element type. Everything narrower than 32 bits, the 16-bit
    /// floats' and the 8-bit floats' bit patterns, and the 4-bit types (a byte of two per entry) go to
    /// int32_data; UINT32 shares uint64_data with UINT64.
    /// </summary>
    public static int TypedFieldFor(TensorElementType type) => type switch
    {
        TensorElementType.Float or TensorElementType.Complex64 => FloatData,
        TensorElementType.Double or TensorElementType.Complex128 => DoubleData,
        TensorElementType.Int64 => Int64Data,
        TensorElementType.UInt32 or TensorElementType.UInt64 => UInt64Data,
        TensorElementType.String => StringData,
        _ => Int32Data,
    };

    /// <summary>Entries of the typed field that <paramref name="elementCount"/> elements need.</summary>
    public static long TypedEntryCount(TensorElementType type, long elementCount) => type switch
    {
        TensorElementType.Complex64 or TensorElementType.Complex128 => elementCount * 2,
        _ when type.BitsPerElement() == 4 => (elementCount + 1) / 2,
        _ => elementCount,
    };
}
