using System.Numerics;

namespace Kairo.Onnx.TestData;

/// <summary>Writes protobuf wire format into a span sized in advance by the caller.</summary>
internal ref struct ProtoWriter
{
    private readonly Span<byte> _buffer;
    private int _position;

    public ProtoWriter(Span<byte> buffer) => _buffer = buffer;

    public readonly int Position => _position;

    public static int VarintSize(ulong value) => (BitOperations.Log2(value | 1) / 7) + 1;

    public static int TagSize(int field) => VarintSize((ulong)field << 3);

    /// <summary>Bytes a length-delimited field of <paramref name="payloadLength"/> bytes takes, tag included.</summary>
    public static long LengthDelimitedSize(int field, long payloadLength) =>
        TagSize(field) + VarintSize((ulong)payloadLength) + payloadLength;

    public void WriteTag(int field, WireType wireType) => WriteVarint(((ulong)field << 3) | (ulong)wireType);

    public void WriteVarint(ulong value)
    {
        while (value >= 0x80)
        {
            _buffer[_position++] = (byte)(value | 0x80);
            value >>= 7;
        }

        _buffer[_position++] = (byte)value;
    }

    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer[_position..]);
        _position += bytes.Length;
    }

    public void WriteLengthDelimited(int field, ReadOnlySpan<byte> payload)
    {
        WriteTag(field, WireType.LengthDelimited);
        WriteVarint((ulong)payload.Length);
        WriteBytes(payload);
    }
}
