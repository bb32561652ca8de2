namespace Kairo.Onnx.TestData;

/// <summary>Where an encoded TensorProto puts its elements. Strings always go to string_data.</summary>
public enum TensorProtoLayout
{
    /// <summary>One raw_data buffer, as ONNX's own test data is written.</summary>
    RawData,

    /// <summary>The typed field onnx.proto assigns to the element type: float_data, int32_data, int64_data, ...</summary>
    TypedFields,
}
