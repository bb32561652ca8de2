namespace Kairo.Onnx.TestData;

/// <summary>
/// Reads protobuf wire format from a span. Every error is an <see cref="InvalidDataException"/> that gives the
/// offset within the whole message, so a reader over a packed field's payload is built with that payload's offset.
/// </summary>
internal ref struct ProtoReader
{
    // Groups are not part of onnx.proto; an unknown one is still skipped, but a hostile nesting must not
    // exhaust the stack.
    private const int MaxGroupDepth = 32;

    private readonly ReadOnlySpan<byte> _buffer;
    private readonly int _baseOffset;
    private int _position;

    public ProtoReader(ReadOnlySpan<byte> buffer, int baseOffset = 0)
    {
        _buffer = buffer;
        _baseOffset = baseOffset;
    }

    public readonly bool AtEnd => _position >= _buffer.Length;

    /// <summary>Offset of the next byte within the whole message.</summary>
    public readonly int Offset => _baseOffset + _position;

    private readonly int Remaining => _buffer.Length - _position;

    public (int Field, WireType WireType) ReadTag()
    {
        int offset = Offset;
        ulong tag = ReadVarint();
        ulong field = tag >> 3;
        if (field == 0 || tag > uint.MaxValue)
        {
            throw new InvalidDataException($"invalid field tag {tag} at offset {offset}: field numbers run from 1 to {int.MaxValue >> 2}");
        }

        var wireType = (WireType)(tag & 7);
        if (wireType > WireType.Fixed32)
        {
            throw new InvalidDataException($"field {field} at offset {offset} has wire type {(int)wireType}, which protobuf does not define");
        }

        return ((int)field, wireType);
    }

    public ulong ReadVarint()
    {
        int start = Offset;
        ulong result = 0;
        for (int shift = 0; ; shift += 7)
        {
            if (_position >= _buffer.Length)
            {
                throw new InvalidDataException($"truncated varint at offset {start}: the message ends after {Offset - start} byte(s) of it");
            }

            byte b = _buffer[_position++];
            if (shift == 63 && b > 1)
            {
                throw new InvalidDataException($"bad varint at offset {start}: its 10th byte is 0x{b:X2}, so it runs past 64 bits");
            }

            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }
    }

    public ReadOnlySpan<byte> ReadFixed(int field, int size)
    {
        if (Remaining < size)
        {
            throw new InvalidDataException(
                $"{TensorProtoField.Describe(field)} at offset {Offset} needs {size} bytes but only {Remaining} remain");
        }

        ReadOnlySpan<byte> value = _buffer.Slice(_position, size);
        _position += size;
        return value;
    }

    /// <summary>Reads a length prefix and the bytes it announces; <paramref name="payloadOffset"/> is where they start.</summary>
    public ReadOnlySpan<byte> ReadLengthDelimited(int field, out int payloadOffset)
    {
        int start = Offset;
        ulong length = ReadVarint();
        if (length > (ulong)Remaining)
        {
            throw new InvalidDataException(
                $"{TensorProtoField.Describe(field)} at offset {start} declares {length} bytes but only {Remaining} remain");
        }

        payloadOffset = Offset;
        ReadOnlySpan<byte> payload = _buffer.Slice(_position, (int)length);
        _position += (int)length;
        return payload;
    }

    public ReadOnlySpan<byte> ReadLengthDelimited(int field) => ReadLengthDelimited(field, out _);

    /// <summary>Skips the value of a field whose tag was just read.</summary>
    public void SkipField(int field, WireType wireType, int tagOffset) => SkipField(field, wireType, tagOffset, depth: 0);

    private void SkipField(int field, WireType wireType, int tagOffset, int depth)
    {
        switch (wireType)
        {
            case WireType.Varint:
                ReadVarint();
                break;
            case WireType.Fixed64:
                ReadFixed(field, 8);
                break;
            case WireType.Fixed32:
                ReadFixed(field, 4);
                break;
            case WireType.LengthDelimited:
                ReadLengthDelimited(field);
                break;
            case WireType.StartGroup:
                if (depth >= MaxGroupDepth)
                {
                    throw new InvalidDataException($"groups nest deeper than {MaxGroupDepth} at offset {tagOffset}");
                }

                while (true)
                {
                    if (AtEnd)
                    {
                        throw new InvalidDataException($"group of field {field} opened at offset {tagOffset} is never closed");
                    }

                    int innerOffset = Offset;
                    (int inner, WireType innerType) = ReadTag();
                    if (innerType == WireType.EndGroup)
                    {
                        if (inner != field)
                        {
                            throw new InvalidDataException(
                                $"group of field {field} opened at offset {tagOffset} is closed by field {inner} at offset {innerOffset}");
                        }

                        return;
                    }

                    SkipField(inner, innerType, innerOffset, depth + 1);
                }

            default:
                throw new InvalidDataException($"end of group for field {field} at offset {tagOffset} without a matching start");
        }
    }
}
