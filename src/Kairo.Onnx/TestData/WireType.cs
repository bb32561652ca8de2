namespace Kairo.Onnx.TestData;

/// <summary>The low three bits of a protobuf field tag: how the field's value is laid out.</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}
