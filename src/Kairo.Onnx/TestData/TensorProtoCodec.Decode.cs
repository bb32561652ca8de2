using System.Buffers;
using System.Text;

namespace Kairo.Onnx.TestData;

public static partial class TensorProtoCodec
{
    /// <summary>
    /// Decodes one TensorProto. Repeated fields are accepted packed and unpacked; unknown fields are skipped.
    /// Throws <see cref="InvalidDataException"/> naming the field, the offset, or the sizes that disagree.
    /// </summary>
    public static TensorData Decode(ReadOnlySpan<byte> message)
    {
        var reader = new ProtoReader(message);
        var fields = new DecodedFields();
        while (!reader.AtEnd)
        {
            int tagOffset = reader.Offset;
            (int field, WireType wireType) = reader.ReadTag();
            switch (field)
            {
                case TensorProtoField.Dims:
                    ReadVarints(ref reader, field, wireType, tagOffset, fields.Dims);
                    break;
                case TensorProtoField.DataType:
                    ExpectWireType(field, wireType, WireType.Varint, tagOffset);
                    fields.DataType = reader.ReadVarint();
                    break;
                case TensorProtoField.FloatData:
                    ReadFixedEntries(ref reader, field, wireType, tagOffset, fields.FixedEntriesFor(field, tagOffset), WireType.Fixed32, 4);
                    break;
                case TensorProtoField.DoubleData:
                    ReadFixedEntries(ref reader, field, wireType, tagOffset, fields.FixedEntriesFor(field, tagOffset), WireType.Fixed64, 8);
                    break;
                case TensorProtoField.Int32Data:
                case TensorProtoField.Int64Data:
                case TensorProtoField.UInt64Data:
                    ReadVarints(ref reader, field, wireType, tagOffset, fields.VarintEntriesFor(field, tagOffset));
                    break;
                case TensorProtoField.StringData:
                    ExpectWireType(field, wireType, WireType.LengthDelimited, tagOffset);
                    fields.StringsFor(tagOffset).Add(reader.ReadLengthDelimited(field).ToArray());
                    break;
                case TensorProtoField.Name:
                    ExpectWireType(field, wireType, WireType.LengthDelimited, tagOffset);
                    fields.Name = Encoding.UTF8.GetString(reader.ReadLengthDelimited(field));
                    break;
                case TensorProtoField.RawData:
                    ExpectWireType(field, wireType, WireType.LengthDelimited, tagOffset);
                    fields.RawData = reader.ReadLengthDelimited(field);
                    fields.HasRawData = true;
                    break;
                case TensorProtoField.ExternalData:
                    throw ExternalDataUnsupported(field, tagOffset);
                case TensorProtoField.DataLocation:
                    ExpectWireType(field, wireType, WireType.Varint, tagOffset);
                    if (reader.ReadVarint() == TensorProtoField.DataLocationExternal)
                    {
                        throw ExternalDataUnsupported(field, tagOffset);
                    }

                    break;
                default:
                    // segment and doc_string have no place in TensorData; they are skipped like unknown fields.
                    reader.SkipField(field, wireType, tagOffset);
                    break;
            }
        }

        return fields.ToTensorData();
    }

    private static void ReadVarints(ref ProtoReader reader, int field, WireType wireType, int tagOffset, List<ulong> values)
    {
        if (wireType == WireType.Varint)
        {
            values.Add(reader.ReadVarint());
            return;
        }

        ExpectWireType(field, wireType, WireType.LengthDelimited, tagOffset, alternative: WireType.Varint);
        ReadOnlySpan<byte> payload = reader.ReadLengthDelimited(field, out int payloadOffset);
        var packed = new ProtoReader(payload, payloadOffset);
        while (!packed.AtEnd)
        {
            values.Add(packed.ReadVarint());
        }
    }

    private static void ReadFixedEntries(
        ref ProtoReader reader, int field, WireType wireType, int tagOffset, ArrayBufferWriter<byte> entries, WireType unpacked, int size)
    {
        if (wireType == unpacked)
        {
            entries.Write(reader.ReadFixed(field, size));
            return;
        }

        ExpectWireType(field, wireType, WireType.LengthDelimited, tagOffset, alternative: unpacked);
        ReadOnlySpan<byte> payload = reader.ReadLengthDelimited(field, out int payloadOffset);
        if (payload.Length % size != 0)
        {
            throw new InvalidDataException(
                $"packed {TensorProtoField.Describe(field)} at offset {payloadOffset} holds {payload.Length} bytes, not a whole number of {size}-byte values");
        }

        // A fixed-width entry on the wire is already the element's little-endian bytes.
        entries.Write(payload);
    }

    private static void ExpectWireType(int field, WireType found, WireType expected, int tagOffset, WireType? alternative = null)
    {
        if (found != expected)
        {
            string allowed = alternative is { } other ? $"{(int)other} ({other}) or {(int)expected} (packed)" : $"{(int)expected} ({expected})";
            throw new InvalidDataException(
                $"{TensorProtoField.Describe(field)} at offset {tagOffset} has wire type {(int)found} ({found}); expected {allowed}");
        }
    }

    private static InvalidDataException ExternalDataUnsupported(int field, int tagOffset) => new(
        $"{TensorProtoField.Describe(field)} at offset {tagOffset} says the tensor's data lives in an external file; " +
        "Kairo reads only tensors stored inside the message (re-save it without external data)");

    /// <summary>What the fields of one message said, collected before anything is checked against data_type.</summary>
    private ref struct DecodedFields
    {
        public List<ulong> Dims = [];
        public ulong DataType;
        public string? Name;
        public ReadOnlySpan<byte> RawData;
        public bool HasRawData;

        // At most one typed field may carry elements; these hold its entries until data_type says what they are.
        private int _typedField;
        private ArrayBufferWriter<byte>? _fixedEntries;
        private List<ulong>? _varintEntries;
        private List<byte[]>? _strings;

        public DecodedFields()
        {
        }

        public ArrayBufferWriter<byte> FixedEntriesFor(int field, int tagOffset)
        {
            ClaimTypedField(field, tagOffset);
            return _fixedEntries ??= new ArrayBufferWriter<byte>();
        }

        public List<ulong> VarintEntriesFor(int field, int tagOffset)
        {
            ClaimTypedField(field, tagOffset);
            return _varintEntries ??= [];
        }

        public List<byte[]> StringsFor(int tagOffset)
        {
            ClaimTypedField(TensorProtoField.StringData, tagOffset);
            return _strings ??= [];
        }

        private void ClaimTypedField(int field, int tagOffset)
        {
            if (_typedField != 0 && _typedField != field)
            {
                throw new InvalidDataException(
                    $"{TensorProtoField.Describe(field)} at offset {tagOffset} follows {TensorProtoField.NameOf(_typedField)}; " +
                    "a tensor keeps its elements in one field");
            }

            _typedField = field;
        }

        public readonly TensorData ToTensorData()
        {
            TensorElementType type = CheckDataType(DataType);
            long[] dims = CheckDims(Dims);
            TensorData.TryCountElements(dims, out long count);
            string shape = $"dims {TensorData.FormatDims(dims)} of {type.OnnxName()}";

            if (HasRawData && _typedField != 0)
            {
                throw new InvalidDataException(
                    $"the message carries both raw_data and {TensorProtoField.NameOf(_typedField)}; a tensor keeps its elements in one field");
            }

            if (type == TensorElementType.String)
            {
                if (HasRawData || (_typedField != 0 && _typedField != TensorProtoField.StringData))
                {
                    throw new InvalidDataException(
                        $"the message carries {TensorProtoField.NameOf(HasRawData ? TensorProtoField.RawData : _typedField)}, " +
                        "but string tensors keep their elements in string_data");
                }

                int stringCount = _strings?.Count ?? 0;
                if (stringCount != count)
                {
                    throw new InvalidDataException($"string_data holds {stringCount} values but {shape} need {count}");
                }

                return new TensorData { Name = Name, ElementType = type, Dims = dims, Strings = _strings?.ToArray() ?? [] };
            }

            long byteCount = type.ByteCount(count);
            if (byteCount > Array.MaxLength)
            {
                throw new InvalidDataException($"{shape} need {byteCount} bytes, more than one buffer can hold");
            }

            byte[] rawData;
            if (HasRawData)
            {
                if (RawData.Length != byteCount)
                {
                    throw new InvalidDataException($"raw_data holds {RawData.Length} bytes but {shape} need {byteCount}");
                }

                rawData = RawData.ToArray();
            }
            else if (_typedField != 0)
            {
                rawData = TypedEntriesToRawData(type, count, shape);
            }
            else if (count == 0)
            {
                rawData = [];
            }
            else
            {
                throw new InvalidDataException(
                    $"the message carries no elements (neither raw_data nor {TensorProtoField.NameOf(TensorProtoField.TypedFieldFor(type))}) " +
                    $"but {shape} need {count}");
            }

            return new TensorData { Name = Name, ElementType = type, Dims = dims, RawData = rawData };
        }

        private readonly byte[] TypedEntriesToRawData(TensorElementType type, long count, string shape)
        {
            int expectedField = TensorProtoField.TypedFieldFor(type);
            if (_typedField != expectedField)
            {
                throw new InvalidDataException(
                    $"the message carries {TensorProtoField.NameOf(_typedField)}, but {type.OnnxName()} elements belong in " +
                    $"{TensorProtoField.NameOf(expectedField)} or raw_data");
            }

            long expectedEntries = TensorProtoField.TypedEntryCount(type, count);
            int bits = type.BitsPerElement();
            if (_fixedEntries is not null)
            {
                int entrySize = _typedField == TensorProtoField.FloatData ? 4 : 8;
                long entries = _fixedEntries.WrittenCount / entrySize;
                if (entries != expectedEntries)
                {
                    throw new InvalidDataException($"{TensorProtoField.NameOf(_typedField)} holds {entries} values but {shape} need {expectedEntries}");
                }

                return _fixedEntries.WrittenSpan.ToArray();
            }

            List<ulong> values = _varintEntries!;
            if (values.Count != expectedEntries)
            {
                throw new InvalidDataException($"{TensorProtoField.NameOf(_typedField)} holds {values.Count} values but {shape} need {expectedEntries}");
            }

            // Each entry keeps its element's bits in its low bytes: sign-extended or not, the low bytes are the same.
            // A 4-bit entry is one byte holding two elements.
            int width = bits == 4 ? 1 : bits / 8;
            var rawData = new byte[values.Count * width];
            for (int i = 0; i < values.Count; i++)
            {
                ulong value = values[i];
                for (int b = 0; b < width; b++)
                {
                    rawData[(i * width) + b] = (byte)(value >> (8 * b));
                }
            }

            return rawData;
        }

        private static TensorElementType CheckDataType(ulong dataType)
        {
            if (dataType == 0)
            {
                throw new InvalidDataException("data_type is missing or 0 (UNDEFINED); a tensor needs an element type");
            }

            if (dataType > (ulong)TensorElementType.Float4E2M1)
            {
                throw new InvalidDataException(
                    $"data_type {(long)dataType} is not an element type Kairo reads (it knows 1 to {(int)TensorElementType.Float4E2M1})");
            }

            return (TensorElementType)dataType;
        }

        private static long[] CheckDims(List<ulong> values)
        {
            var dims = new long[values.Count];
            for (int i = 0; i < dims.Length; i++)
            {
                dims[i] = (long)values[i];
            }

            if (!TensorData.TryCountElements(dims, out long count))
            {
                string problem = Array.Exists(dims, d => d < 0) ? "have a negative dim" : $"hold more than {long.MaxValue} elements";
                throw new InvalidDataException($"dims {TensorData.FormatDims(dims)} {problem}");
            }

            if (count > Array.MaxLength)
            {
                throw new InvalidDataException($"dims {TensorData.FormatDims(dims)} hold {count} elements, more than one buffer can hold");
            }

            return dims;
        }
    }
}
