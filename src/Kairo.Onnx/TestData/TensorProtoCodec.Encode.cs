using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;

namespace Kairo.Onnx.TestData;

public static partial class TensorProtoCodec
{
    /// <summary>
    /// Encodes a tensor as a TensorProto, fields in field-number order as ONNX's own writer emits them. With
    /// <see cref="TensorProtoLayout.TypedFields"/> the elements go to the typed field onnx.proto prescribes for
    /// the element type; strings always go to string_data.
    /// </summary>
    public static byte[] Encode(TensorData tensor, TensorProtoLayout layout = TensorProtoLayout.RawData)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!Enum.IsDefined(layout))
        {
            throw new ArgumentOutOfRangeException(nameof(layout), layout, "layout must be RawData or TypedFields");
        }

        CheckEncodable(tensor);
        TensorElementType type = tensor.ElementType;
        int dataField = type == TensorElementType.String ? TensorProtoField.StringData
            : layout == TensorProtoLayout.RawData ? TensorProtoField.RawData
            : TensorProtoField.TypedFieldFor(type);
        byte[]? name = tensor.Name is null ? null : Encoding.UTF8.GetBytes(tensor.Name);

        long size = DataFieldSize(tensor, dataField, out long varintPayload);
        size += ProtoWriter.TagSize(TensorProtoField.DataType) + ProtoWriter.VarintSize((ulong)type);
        foreach (long dim in tensor.Dims)
        {
            size += ProtoWriter.TagSize(TensorProtoField.Dims) + ProtoWriter.VarintSize((ulong)dim);
        }

        if (name is not null)
        {
            size += ProtoWriter.LengthDelimitedSize(TensorProtoField.Name, name.Length);
        }

        if (size > Array.MaxLength)
        {
            throw new ArgumentException($"tensor '{tensor.Name}' would encode to {size} bytes, more than one buffer can hold", nameof(tensor));
        }

        var message = new byte[size];
        var writer = new ProtoWriter(message);

        // dims is a proto2 `repeated int64` without [packed = true]: one tag per dim, as ONNX writes it.
        foreach (long dim in tensor.Dims)
        {
            writer.WriteTag(TensorProtoField.Dims, WireType.Varint);
            writer.WriteVarint((ulong)dim);
        }

        writer.WriteTag(TensorProtoField.DataType, WireType.Varint);
        writer.WriteVarint((ulong)type);
        if (dataField < TensorProtoField.Name)
        {
            WriteDataField(ref writer, tensor, dataField, varintPayload);
        }

        if (name is not null)
        {
            writer.WriteLengthDelimited(TensorProtoField.Name, name);
        }

        if (dataField > TensorProtoField.Name)
        {
            WriteDataField(ref writer, tensor, dataField, varintPayload);
        }

        Debug.Assert(writer.Position == message.Length, "the size computed up front must match what was written");
        return message;
    }

    private static void CheckEncodable(TensorData tensor)
    {
        TensorElementType type = tensor.ElementType;
        if (type <= TensorElementType.Undefined || type > TensorElementType.Float4E2M1)
        {
            throw new ArgumentException($"tensor '{tensor.Name}' has ElementType {(int)type}, which ONNX cannot store; use 1 to 23", nameof(tensor));
        }

        if (!TensorData.TryCountElements(tensor.Dims, out long count))
        {
            throw new ArgumentException(
                $"tensor '{tensor.Name}' dims {TensorData.FormatDims(tensor.Dims)} have a negative dim or too many elements", nameof(tensor));
        }

        string shape = $"dims {TensorData.FormatDims(tensor.Dims)} of {type.OnnxName()}";
        if (type == TensorElementType.String)
        {
            int stringCount = tensor.Strings?.Length ?? 0;
            if (stringCount != count || Array.Exists(tensor.Strings ?? [], s => s is null))
            {
                throw new ArgumentException(
                    $"tensor '{tensor.Name}' Strings holds {stringCount} values (null not allowed) but {shape} need {count}", nameof(tensor));
            }
        }
        else if (tensor.RawData.Length != type.ByteCount(count))
        {
            throw new ArgumentException(
                $"tensor '{tensor.Name}' RawData holds {tensor.RawData.Length} bytes but {shape} need {type.ByteCount(count)}", nameof(tensor));
        }
    }

    /// <summary>Bytes the data field takes; for a varint field also the length of its packed payload.</summary>
    private static long DataFieldSize(TensorData tensor, int dataField, out long varintPayload)
    {
        varintPayload = 0;
        switch (dataField)
        {
            case TensorProtoField.StringData:
                long size = 0;
                foreach (byte[] value in tensor.Strings!)
                {
                    size += ProtoWriter.LengthDelimitedSize(dataField, value.Length);
                }

                return size;
            case TensorProtoField.RawData:
                return ProtoWriter.LengthDelimitedSize(dataField, tensor.RawData.Length);
            case TensorProtoField.FloatData:
            case TensorProtoField.DoubleData:
                return tensor.RawData.Length == 0 ? 0 : ProtoWriter.LengthDelimitedSize(dataField, tensor.RawData.Length);
            default:
                int entries = VarintEntryCount(tensor);
                for (int i = 0; i < entries; i++)
                {
                    varintPayload += ProtoWriter.VarintSize(VarintEntry(tensor.RawData, tensor.ElementType, i));
                }

                return entries == 0 ? 0 : ProtoWriter.LengthDelimitedSize(dataField, varintPayload);
        }
    }

    private static void WriteDataField(ref ProtoWriter writer, TensorData tensor, int dataField, long varintPayload)
    {
        switch (dataField)
        {
            case TensorProtoField.StringData:
                foreach (byte[] value in tensor.Strings!)
                {
                    writer.WriteLengthDelimited(dataField, value);
                }

                break;
            case TensorProtoField.RawData:
                writer.WriteLengthDelimited(dataField, tensor.RawData);
                break;
            case TensorProtoField.FloatData:
            case TensorProtoField.DoubleData:
                // Packed fixed-width entries are the elements' little-endian bytes, which RawData already is.
                if (tensor.RawData.Length != 0)
                {
                    writer.WriteLengthDelimited(dataField, tensor.RawData);
                }

                break;
            default:
                int entries = VarintEntryCount(tensor);
                if (entries == 0)
                {
                    break;
                }

                writer.WriteTag(dataField, WireType.LengthDelimited);
                writer.WriteVarint((ulong)varintPayload);
                for (int i = 0; i < entries; i++)
                {
                    writer.WriteVarint(VarintEntry(tensor.RawData, tensor.ElementType, i));
                }

                break;
        }
    }

    private static int VarintEntryCount(TensorData tensor)
    {
        int bits = tensor.ElementType.BitsPerElement();
        return bits == 4 ? tensor.RawData.Length : tensor.RawData.Length / (bits / 8);
    }

    /// <summary>
    /// Entry <paramref name="index"/> of int32_data, int64_data or uint64_data as the varint carries it: signed
    /// types sign-extended to 64 bits as protobuf encodes int32 and int64, everything else zero-extended.
    /// </summary>
    private static ulong VarintEntry(ReadOnlySpan<byte> raw, TensorElementType type, int index) => type switch
    {
        TensorElementType.Int8 => (ulong)(sbyte)raw[index],
        TensorElementType.Int16 => (ulong)BinaryPrimitives.ReadInt16LittleEndian(raw[(index * 2)..]),
        TensorElementType.Int32 => (ulong)BinaryPrimitives.ReadInt32LittleEndian(raw[(index * 4)..]),
        TensorElementType.Int64 => (ulong)BinaryPrimitives.ReadInt64LittleEndian(raw[(index * 8)..]),
        TensorElementType.UInt16 or TensorElementType.Float16 or TensorElementType.BFloat16 =>
            BinaryPrimitives.ReadUInt16LittleEndian(raw[(index * 2)..]),
        TensorElementType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(raw[(index * 4)..]),
        TensorElementType.UInt64 => BinaryPrimitives.ReadUInt64LittleEndian(raw[(index * 8)..]),

        // uint8, bool, the float8 types, and the 4-bit types, whose entries are bytes of two elements each.
        _ => raw[index],
    };
}
