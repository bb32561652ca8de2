using System.Buffers.Binary;
using System.Text;
using Kairo.Onnx.TestData;
using Xunit.Abstractions;

namespace Kairo.Onnx.Tests;

public sealed class TensorProtoTests(ITestOutputHelper output)
{
    private const string NodeTestData = "/usr/share/libonnx-testdata/data/node";

    public static TheoryData<TensorElementType, TensorProtoLayout> NumericTypesAndLayouts()
    {
        var data = new TheoryData<TensorElementType, TensorProtoLayout>();
        foreach (TensorElementType type in Enum.GetValues<TensorElementType>())
        {
            if (type is not (TensorElementType.Undefined or TensorElementType.String))
            {
                data.Add(type, TensorProtoLayout.RawData);
                data.Add(type, TensorProtoLayout.TypedFields);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(NumericTypesAndLayouts))]
    public void Every_numeric_type_round_trips_in_every_shape(TensorElementType type, TensorProtoLayout layout)
    {
        long[][] shapes = [[], [0, 3], [5], [2, 3, 4], [7, 1]];
        foreach (long[] dims in shapes)
        {
            TensorData original = RandomTensor(type, dims, seed: (int)type * 100 + dims.Length);
            byte[] message = TensorProtoCodec.Encode(original, layout);
            TensorData decoded = TensorProtoCodec.Decode(message);

            Assert.Null(Difference(original, decoded));
            Assert.Equal(original.ElementCount, decoded.ElementCount);
        }
    }

    [Theory]
    [MemberData(nameof(NumericTypesAndLayouts))]
    public void Elements_go_to_the_field_onnx_prescribes(TensorElementType type, TensorProtoLayout layout)
    {
        // With dims [5] and no name the message opens 08 05 10 <type>, then the data field's tag.
        TensorData named = RandomTensor(type, [5], seed: 7);
        var tensor = new TensorData { ElementType = type, Dims = named.Dims, RawData = named.RawData };
        byte[] message = TensorProtoCodec.Encode(tensor, layout);

        int expectedField = layout == TensorProtoLayout.RawData ? 9 : type switch
        {
            TensorElementType.Float or TensorElementType.Complex64 => 4,
            TensorElementType.Double or TensorElementType.Complex128 => 10,
            TensorElementType.Int64 => 7,
            TensorElementType.UInt32 or TensorElementType.UInt64 => 11,
            _ => 5,
        };
        Assert.Equal(new byte[] { 0x08, 0x05, 0x10, (byte)type, (byte)((expectedField << 3) | 2) }, message[..5]);
    }

    [Theory]
    [InlineData(TensorProtoLayout.RawData)]
    [InlineData(TensorProtoLayout.TypedFields)]
    public void Strings_round_trip_with_non_ascii_text(TensorProtoLayout layout)
    {
        string[] values = ["héllo", "日本語", "", "🙂 emoji", "tab\tand\nnewline", "zero\0byte"];
        TensorData original = TensorData.FromStrings(values, [2, 3], "wörds");

        TensorData decoded = TensorProtoCodec.Decode(TensorProtoCodec.Encode(original, layout));

        Assert.Equal(TensorElementType.String, decoded.ElementType);
        Assert.Equal("wörds", decoded.Name);
        Assert.Equal([2L, 3L], decoded.Dims);
        Assert.Equal(values, decoded.GetStrings());
        Assert.Empty(decoded.RawData);
        Assert.Equal(Encoding.UTF8.GetBytes("日本語"), decoded.Strings![1]);
    }

    [Theory]
    [InlineData(TensorProtoLayout.RawData)]
    [InlineData(TensorProtoLayout.TypedFields)]
    public void Scalar_and_empty_string_tensors_round_trip(TensorProtoLayout layout)
    {
        TensorData scalar = TensorProtoCodec.Decode(TensorProtoCodec.Encode(TensorData.FromStrings(["ü"], []), layout));
        TensorData empty = TensorProtoCodec.Decode(TensorProtoCodec.Encode(TensorData.FromStrings([], [0, 3]), layout));

        Assert.Empty(scalar.Dims);
        Assert.Equal(["ü"], scalar.GetStrings());
        Assert.Null(scalar.Name);
        Assert.Equal([0L, 3L], empty.Dims);
        Assert.Empty(empty.GetStrings());
    }

    [Fact]
    public void Odd_counts_of_half_bfloat16_bool_and_int4_round_trip_with_their_values()
    {
        Half[] halves = [(Half)1.5f, (Half)(-0.25f), Half.NaN];
        BFloat16[] bfloats = [(BFloat16)3.0f, (BFloat16)(-1e-3f), (BFloat16)65504f];
        bool[] bools = [true, false, true];
        var int4 = new TensorData { ElementType = TensorElementType.Int4, Dims = [3], RawData = [0x8F, 0x07] }; // -1, -8, 7

        foreach (TensorProtoLayout layout in Enum.GetValues<TensorProtoLayout>())
        {
            Assert.Equal(halves, RoundTrip(TensorData.FromSpan<Half>(halves, [3]), layout).AsSpan<Half>().ToArray());
            Assert.Equal(bfloats, RoundTrip(TensorData.FromSpan<BFloat16>(bfloats, [3]), layout).AsSpan<BFloat16>().ToArray());
            Assert.Equal(bools, RoundTrip(TensorData.FromSpan<bool>(bools, [3]), layout).AsSpan<bool>().ToArray());
            Assert.Equal([0x8F, 0x07], RoundTrip(int4, layout).RawData);
        }
    }

    [Fact]
    public void Complex64_is_stored_as_real_imaginary_pairs_in_float_data()
    {
        float[] parts = [1f, 2f, -3f, 4.5f]; // 1+2i, -3+4.5i
        var tensor = new TensorData
        {
            ElementType = TensorElementType.Complex64,
            Dims = [2],
            RawData = TensorData.FromSpan<float>(parts, [4]).RawData,
        };

        byte[] message = TensorProtoCodec.Encode(tensor, TensorProtoLayout.TypedFields);
        TensorData decoded = TensorProtoCodec.Decode(message);

        // 08 02 10 0E, then float_data packed: tag 0x22, 16 bytes of four floats.
        Assert.Equal([0x08, 0x02, 0x10, 0x0E, 0x22, 16], message[..6]);
        Assert.Equal(parts, Floats(decoded.RawData));
        Assert.Equal(2, decoded.ElementCount);
    }

    [Fact]
    public void Typed_layout_writes_onnx_int32_data_entries()
    {
        sbyte[] int8 = [-1, 2];
        byte[] int8Message = TensorProtoCodec.Encode(TensorData.FromSpan<sbyte>(int8, [2]), TensorProtoLayout.TypedFields);

        // int32_data is int32: -1 is sign-extended to a 10-byte varint.
        Assert.Equal(
            [0x08, 0x02, 0x10, 0x03, 0x2A, 11, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x02],
            int8Message);

        // float16 travels as its bit pattern, zero-extended: -Infinity is 0xFC00 = 64512.
        Half[] half = [Half.NegativeInfinity];
        byte[] halfMessage = TensorProtoCodec.Encode(TensorData.FromSpan<Half>(half, []), TensorProtoLayout.TypedFields);
        Assert.Equal([0x10, 0x0A, 0x2A, 3, 0x80, 0xF8, 0x03], halfMessage);

        // uint32 goes to uint64_data.
        uint[] uint32 = [uint.MaxValue];
        byte[] uint32Message = TensorProtoCodec.Encode(TensorData.FromSpan<uint>(uint32, [1], "u"), TensorProtoLayout.TypedFields);
        Assert.Equal([0x08, 0x01, 0x10, 0x0C, 0x42, 0x01, (byte)'u', 0x5A, 5, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], uint32Message);
    }

    [Fact]
    public void Raw_layout_matches_the_bytes_onnx_writes()
    {
        float[] values = [1f, -2f];
        byte[] message = TensorProtoCodec.Encode(TensorData.FromSpan<float>(values, [2], "x"));

        byte[] expected = [0x08, 0x02, 0x10, 0x01, 0x42, 0x01, (byte)'x', 0x4A, 8, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0];
        Assert.Equal(expected, message);
    }

    [Fact]
    public void Non_packed_float_data_is_accepted()
    {
        byte[] message = [0x08, 0x02, 0x10, 0x01, 0x25, .. Float(1.5f), 0x25, .. Float(-2f)];

        TensorData tensor = TensorProtoCodec.Decode(message);

        Assert.Equal(TensorElementType.Float, tensor.ElementType);
        Assert.Equal([1.5f, -2f], tensor.AsSpan<float>().ToArray());
    }

    [Fact]
    public void Packed_dims_and_mixed_packed_and_non_packed_int32_data_are_accepted()
    {
        byte[] message =
        [
            0x0A, 0x01, 0x05, // dims [5], packed
            0x10, 0x06, // int32
            0x28, 0x05, // 5, non-packed
            0x2A, 0x02, 0x7F, 0x01, // 127, 1, packed
            0x28, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, // -1 as protobuf writes int32
            0x28, 0xFE, 0xFF, 0xFF, 0xFF, 0x0F, // -2 as 32 bits only
        ];

        TensorData tensor = TensorProtoCodec.Decode(message);

        Assert.Equal([5L], tensor.Dims);
        Assert.Equal([5, 127, 1, -1, -2], tensor.AsSpan<int>().ToArray());
    }

    [Fact]
    public void Int4_int32_data_entries_hold_two_elements_low_nibble_first()
    {
        byte[] message = [0x08, 0x03, 0x10, 0x16, 0x2A, 0x02, 0x21, 0x0F];

        TensorData tensor = TensorProtoCodec.Decode(message);

        Assert.Equal(TensorElementType.Int4, tensor.ElementType);
        Assert.Equal([0x21, 0x0F], tensor.RawData);
        Assert.Equal(message, TensorProtoCodec.Encode(tensor, TensorProtoLayout.TypedFields));
    }

    [Fact]
    public void Unknown_fields_segment_and_doc_string_are_skipped_by_wire_type()
    {
        byte[] message =
        [
            0x78, 0x2A, // field 15 varint
            0x08, 0x02, // dims [2]
            0x81, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, // field 16 fixed64
            0x10, 0x01, // float
            0x8A, 0x01, 0x03, 0x08, 0x10, 0x25, // field 17 length-delimited, bytes that look like tags
            0x95, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, // field 18 fixed32
            0x1A, 0x04, 0x08, 0x00, 0x10, 0x02, // segment {begin 0, end 2}
            0x9B, 0x01, 0x08, 0x63, 0xA3, 0x01, 0xA4, 0x01, 0x9C, 0x01, // field 19 group holding a varint and an empty group 20
            0x62, 0x03, (byte)'d', (byte)'o', (byte)'c', // doc_string
            0xC0, 0x3E, 0x01, // field 1000 varint
            0x22, 0x08, .. Float(0.5f), .. Float(8f), // float_data packed
        ];

        TensorData tensor = TensorProtoCodec.Decode(message);

        Assert.Equal([2L], tensor.Dims);
        Assert.Null(tensor.Name);
        Assert.Equal([0.5f, 8f], tensor.AsSpan<float>().ToArray());
    }

    [Fact]
    public void Every_truncation_of_a_message_is_invalid_data()
    {
        // No name: in the typed layout it would follow int64_data, and a cut before it would leave a whole tensor.
        TensorData tensor = TensorData.FromSpan<long>([1, -300, long.MinValue], [3]);
        foreach (TensorProtoLayout layout in Enum.GetValues<TensorProtoLayout>())
        {
            byte[] message = TensorProtoCodec.Encode(tensor, layout);
            for (int length = 0; length < message.Length; length++)
            {
                Assert.Throws<InvalidDataException>(() => TensorProtoCodec.Decode(message.AsSpan(0, length)));
            }
        }
    }

    [Fact]
    public void A_cut_raw_data_names_the_field_and_the_missing_bytes()
    {
        byte[] message = TensorProtoCodec.Encode(TensorData.FromSpan<float>([1f, 2f, 3f], [3]));

        var error = Assert.Throws<InvalidDataException>(() => TensorProtoCodec.Decode(message.AsSpan(0, message.Length - 5)));

        Assert.Equal("field 9 (raw_data) at offset 5 declares 12 bytes but only 7 remain", error.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x08, 0x80 }, "truncated varint at offset 1")]
    [InlineData(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02 }, "bad varint at offset 1")]
    [InlineData(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, "bad varint at offset 1")]
    [InlineData(new byte[] { 0x10, 0x01, 0x25, 0x00, 0x00 }, "field 4 (float_data) at offset 3 needs 4 bytes but only 2 remain")]
    [InlineData(new byte[] { 0x10, 0x01, 0x22, 0x03, 0, 0, 0 }, "holds 3 bytes, not a whole number of 4-byte values")]
    [InlineData(new byte[] { 0x00, 0x01 }, "invalid field tag 0 at offset 0")]
    [InlineData(new byte[] { 0x0F }, "wire type 7")]
    [InlineData(new byte[] { 0x12, 0x01, 0x01 }, "field 2 (data_type) at offset 0 has wire type 2")]
    [InlineData(new byte[] { 0x4D, 0, 0, 0, 0 }, "field 9 (raw_data) at offset 0 has wire type 5")]
    [InlineData(new byte[] { 0x9B, 0x01, 0x08, 0x01 }, "never closed")]
    [InlineData(new byte[] { 0x9C, 0x01 }, "without a matching start")]
    public void Malformed_wire_format_is_invalid_data(byte[] message, string expected)
    {
        var error = Assert.Throws<InvalidDataException>(() => TensorProtoCodec.Decode(message));

        Assert.Contains(expected, error.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x08, 0x02, 0x08, 0x03, 0x10, 0x01, 0x4A, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
        "raw_data holds 12 bytes but dims [2,3] of float need 24")]
    [InlineData(new byte[] { 0x08, 0x02, 0x08, 0x03, 0x10, 0x03, 0x2A, 5, 1, 2, 3, 4, 5 },
        "int32_data holds 5 values but dims [2,3] of int8 need 6")]
    [InlineData(new byte[] { 0x08, 0x02, 0x10, 0x0E, 0x22, 8, 0, 0, 0, 0, 0, 0, 0, 0 },
        "float_data holds 2 values but dims [2] of complex64 need 4")]
    [InlineData(new byte[] { 0x08, 0x03, 0x10, 0x15, 0x2A, 3, 1, 2, 3 },
        "int32_data holds 3 values but dims [3] of uint4 need 2")]
    [InlineData(new byte[] { 0x08, 0x02, 0x10, 0x08, 0x32, 1, (byte)'a' },
        "string_data holds 1 values but dims [2] of string need 2")]
    [InlineData(new byte[] { 0x08, 0x02, 0x10, 0x01 },
        "no elements (neither raw_data nor float_data) but dims [2] of float need 2")]
    [InlineData(new byte[] { 0x08, 0x01, 0x10, 0x06, 0x22, 4, 0, 0, 0, 0 },
        "float_data, but int32 elements belong in int32_data or raw_data")]
    [InlineData(new byte[] { 0x08, 0x01, 0x10, 0x01, 0x25, 0, 0, 0, 0, 0x4A, 4, 0, 0, 0, 0 },
        "both raw_data and float_data")]
    [InlineData(new byte[] { 0x10, 0x01, 0x25, 0, 0, 0, 0, 0x28, 0x01 },
        "field 5 (int32_data) at offset 7 follows float_data")]
    [InlineData(new byte[] { 0x08, 0x01, 0x10, 0x08, 0x4A, 1, 0 },
        "carries raw_data, but string tensors keep their elements in string_data")]
    [InlineData(new byte[] { 0x08, 0x01 }, "data_type is missing or 0")]
    [InlineData(new byte[] { 0x10, 0x18 }, "data_type 24 is not an element type Kairo reads")]
    [InlineData(new byte[] { 0x08, 0x7F, 0x10, 0x01 }, "no elements")]
    [InlineData(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x10, 0x01 }, "dims [-1] have a negative dim")]
    [InlineData(new byte[] { 0x08, 0x80, 0x80, 0x80, 0x80, 0x10, 0x08, 0x80, 0x80, 0x80, 0x80, 0x10, 0x10, 0x01 },
        "dims [4294967296,4294967296] hold more than")]
    public void Contents_that_disagree_with_dims_or_data_type_are_invalid_data(byte[] message, string expected)
    {
        var error = Assert.Throws<InvalidDataException>(() => TensorProtoCodec.Decode(message));

        Assert.Contains(expected, error.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x08, 0x01, 0x10, 0x01, 0x6A, 0x0A, 0x0A, 0x08, (byte)'l', (byte)'o', (byte)'c', (byte)'a', (byte)'t', (byte)'i', (byte)'o', (byte)'n' },
        "field 13 (external_data) at offset 4")]
    [InlineData(new byte[] { 0x08, 0x01, 0x10, 0x01, 0x70, 0x01 }, "field 14 (data_location) at offset 4")]
    public void External_data_is_refused_with_a_clear_error(byte[] message, string expected)
    {
        var error = Assert.Throws<InvalidDataException>(() => TensorProtoCodec.Decode(message));

        Assert.Contains(expected, error.Message);
        Assert.Contains("external file", error.Message);
    }

    [Fact]
    public void Data_location_default_is_accepted()
    {
        byte[] message = [0x08, 0x01, 0x10, 0x02, 0x4A, 0x01, 0xAB, 0x70, 0x00];

        Assert.Equal([0xAB], TensorProtoCodec.Decode(message).RawData);
    }

    [Fact]
    public void A_million_non_packed_entries_decode_in_linear_time()
    {
        const int count = 1_000_000;
        byte[] header = [0x0A, 0x03, 0xC0, 0x84, 0x3D, 0x10, 0x01]; // dims [1000000] packed, float
        var message = new byte[header.Length + (count * 5)];
        header.CopyTo(message, 0);
        for (int i = 0; i < count; i++)
        {
            int at = header.Length + (i * 5);
            message[at] = 0x25;
            BinaryPrimitives.WriteSingleLittleEndian(message.AsSpan(at + 1), i);
        }

        TensorData tensor = TensorProtoCodec.Decode(message);

        Assert.Equal([(long)count], tensor.Dims);
        ReadOnlySpan<float> values = tensor.AsSpan<float>();
        Assert.Equal(count, values.Length);
        Assert.Equal(999_999f, values[^1]);
        Assert.Equal(123_456f, values[123_456]);
    }

    [Fact]
    public void FromSpan_maps_each_clr_type_to_its_element_type()
    {
        Assert.Equal(TensorElementType.Float, TensorData.FromSpan<float>([1f], [1]).ElementType);
        Assert.Equal(TensorElementType.Double, TensorData.FromSpan<double>([1d], [1]).ElementType);
        Assert.Equal(TensorElementType.Int8, TensorData.FromSpan<sbyte>([1], [1]).ElementType);
        Assert.Equal(TensorElementType.UInt8, TensorData.FromSpan<byte>([1], [1]).ElementType);
        Assert.Equal(TensorElementType.Int16, TensorData.FromSpan<short>([1], [1]).ElementType);
        Assert.Equal(TensorElementType.UInt16, TensorData.FromSpan<ushort>([1], [1]).ElementType);
        Assert.Equal(TensorElementType.Int32, TensorData.FromSpan<int>([1], [1]).ElementType);
        Assert.Equal(TensorElementType.UInt32, TensorData.FromSpan<uint>([1], [1]).ElementType);
        Assert.Equal(TensorElementType.Int64, TensorData.FromSpan<long>([1], [1]).ElementType);
        Assert.Equal(TensorElementType.UInt64, TensorData.FromSpan<ulong>([1], [1]).ElementType);
        Assert.Equal(TensorElementType.Bool, TensorData.FromSpan<bool>([true], [1]).ElementType);
        Assert.Equal(TensorElementType.Float16, TensorData.FromSpan<Half>([Half.One], [1]).ElementType);
        Assert.Equal(TensorElementType.BFloat16, TensorData.FromSpan<BFloat16>([(BFloat16)1f], [1]).ElementType);
        Assert.Throws<ArgumentException>(() => TensorData.FromSpan<char>(['a'], [1]));
    }

    [Fact]
    public void Factories_check_counts_and_accessors_check_element_sizes()
    {
        TensorData tensor = TensorData.FromSpan<float>([1f, 2f, 3f, 4f, 5f, 6f], [2, 3], "t");

        Assert.Equal(6, tensor.ElementCount);
        Assert.Equal(1, TensorData.FromSpan<int>([7], []).ElementCount);
        Assert.Equal(0, TensorData.FromSpan<int>([], [0, 3]).ElementCount);
        Assert.Equal([1, 2, 3, 4, 5, 6], tensor.AsSpan<float>().ToArray());
        Assert.Equal(0x3F800000, tensor.AsSpan<int>()[0]); // same size, reinterpreted
        Assert.Throws<InvalidOperationException>(() => tensor.AsSpan<double>().Length);
        Assert.Throws<InvalidOperationException>(() => tensor.AsSpan<Half>().Length);
        Assert.Throws<InvalidOperationException>(() => tensor.GetStrings());
        Assert.Throws<InvalidOperationException>(() => TensorData.FromStrings(["a"], [1]).AsSpan<byte>().Length);
        Assert.Throws<InvalidOperationException>(
            () => new TensorData { ElementType = TensorElementType.UInt4, Dims = [2], RawData = [0x21] }.AsSpan<byte>().Length);
        Assert.Throws<ArgumentException>(() => TensorData.FromSpan<float>([1f, 2f], [3]));
        Assert.Throws<ArgumentException>(() => TensorData.FromSpan<float>([], [-1]));
        Assert.Throws<ArgumentException>(() => TensorData.FromStrings(["a"], [2]));
    }

    [Fact]
    public void Encode_refuses_a_tensor_whose_parts_disagree()
    {
        var shortRaw = new TensorData { ElementType = TensorElementType.Float, Dims = [2, 3], RawData = new byte[12] };
        var noType = new TensorData { Dims = [1], RawData = [0] };
        var missingStrings = new TensorData { ElementType = TensorElementType.String, Dims = [1] };

        var error = Assert.Throws<ArgumentException>(() => TensorProtoCodec.Encode(shortRaw));
        Assert.Contains("RawData holds 12 bytes but dims [2,3] of float need 24", error.Message);
        Assert.Throws<ArgumentException>(() => TensorProtoCodec.Encode(noType));
        Assert.Throws<ArgumentException>(() => TensorProtoCodec.Encode(missingStrings));
        Assert.Throws<ArgumentOutOfRangeException>(
            () => TensorProtoCodec.Encode(TensorData.FromSpan<int>([1], [1]), (TensorProtoLayout)7));
    }

    [Fact]
    public void Files_are_written_whole_and_read_back()
    {
        string directory = Directory.CreateTempSubdirectory("kairo-tensorproto-").FullName;
        try
        {
            string path = Path.Combine(directory, "input_0.pb");
            TensorData first = TensorData.FromSpan<double>([1.0, double.Epsilon, -0.0], [3], "first");
            TensorData second = TensorData.FromSpan<short>([short.MinValue, 9], [1, 2], "second");

            TensorProtoCodec.WriteFile(path, first);
            Assert.Null(Difference(first, TensorProtoCodec.ReadFile(path)));
            TensorProtoCodec.WriteFile(path, second, TensorProtoLayout.TypedFields);
            Assert.Null(Difference(second, TensorProtoCodec.ReadFile(path)));
            Assert.Equal(new[] { "input_0.pb" }, Directory.GetFiles(directory).Select(f => Path.GetFileName(f)));

            string broken = Path.Combine(directory, "broken.pb");
            File.WriteAllBytes(broken, [0x08, 0x80]);
            var error = Assert.Throws<InvalidDataException>(() => TensorProtoCodec.ReadFile(broken));
            Assert.StartsWith(broken + ": truncated varint", error.Message);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Onnx_abs_input_decodes_to_its_known_content()
    {
        TensorData tensor = TensorProtoCodec.ReadFile($"{NodeTestData}/test_abs/test_data_set_0/input_0.pb");

        Assert.Equal("x", tensor.Name);
        Assert.Equal(TensorElementType.Float, tensor.ElementType);
        Assert.Equal([3L, 4L, 5L], tensor.Dims);
        Assert.Equal(60, tensor.ElementCount);
        ReadOnlySpan<float> values = tensor.AsSpan<float>();
        Assert.Equal(0x3FE1CC78, BitConverter.SingleToInt32Bits(values[0])); // 1.7640524
        Assert.Equal(0.4001572f, values[1]);
        Assert.Equal(0xBEB9B936u, BitConverter.SingleToUInt32Bits(values[59])); // -0.36274117
    }

    [Fact]
    public void Onnx_string_and_bool_scalar_files_decode_to_their_known_content()
    {
        TensorData strings = TensorProtoCodec.ReadFile($"{NodeTestData}/test_cast_FLOAT_to_STRING/test_data_set_0/output_0.pb");
        TensorData condition = TensorProtoCodec.ReadFile($"{NodeTestData}/test_if/test_data_set_0/input_0.pb");

        Assert.Equal("output", strings.Name);
        Assert.Equal([3L, 4L], strings.Dims);
        Assert.Equal(["0.9767611", "0.6048455", "0.7392636"], strings.GetStrings()[..3]);
        Assert.Equal(TensorElementType.Bool, condition.ElementType);
        Assert.Empty(condition.Dims);
        Assert.Equal([true], condition.AsSpan<bool>().ToArray());
    }

    [Fact]
    public void Every_onnx_node_test_tensor_round_trips_in_both_layouts()
    {
        Assert.True(Directory.Exists(NodeTestData), $"{NodeTestData} is missing; install the Debian package libonnx-testdata");
        var failures = new List<string>();
        int roundTripped = 0, identicalBytes = 0, notTensors = 0;
        foreach (string path in Directory.EnumerateFiles(NodeTestData, "*.pb", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string setDirectory = Path.GetFileName(Path.GetDirectoryName(path)!);
            string modelDirectory = Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(path))!);
            if (!setDirectory.StartsWith("test_data_set_", StringComparison.Ordinal))
            {
                continue;
            }

            byte[] original = File.ReadAllBytes(path);
            TensorData decoded;
            try
            {
                decoded = TensorProtoCodec.Decode(original);
            }
            catch (InvalidDataException ex)
            {
                // Sequence and optional tests keep SequenceProto/OptionalProto here, which are not tensors.
                if (modelDirectory.Contains("seq", StringComparison.Ordinal) || modelDirectory.Contains("opt", StringComparison.Ordinal))
                {
                    notTensors++;
                    continue;
                }

                failures.Add($"{path}: {ex.Message}");
                continue;
            }

            byte[] raw = TensorProtoCodec.Encode(decoded, TensorProtoLayout.RawData);
            string? difference = Difference(decoded, TensorProtoCodec.Decode(raw))
                ?? Difference(decoded, TensorProtoCodec.Decode(TensorProtoCodec.Encode(decoded, TensorProtoLayout.TypedFields)));
            if (difference is not null)
            {
                failures.Add($"{path}: {difference}");
                continue;
            }

            roundTripped++;
            identicalBytes += raw.AsSpan().SequenceEqual(original) ? 1 : 0;
        }

        output.WriteLine($"{roundTripped} tensors round-tripped, {identicalBytes} byte for byte; {notTensors} files are not tensors");
        Assert.Empty(failures);
        Assert.True(roundTripped >= 1500, $"only {roundTripped} files round-tripped");
        Assert.InRange(notTensors, 1, 100);

        // ONNX writes dims unpacked and fields in number order, as the encoder does, so its files come back byte for byte.
        Assert.Equal(roundTripped, identicalBytes);
    }

    private static TensorData RoundTrip(TensorData tensor, TensorProtoLayout layout) =>
        TensorProtoCodec.Decode(TensorProtoCodec.Encode(tensor, layout));

    private static TensorData RandomTensor(TensorElementType type, long[] dims, int seed)
    {
        var random = new Random(seed);
        long count = dims.Aggregate(1L, (product, dim) => product * dim);
        var raw = new byte[type.ByteCount(count)];
        random.NextBytes(raw);
        if (type == TensorElementType.Bool)
        {
            for (int i = 0; i < raw.Length; i++)
            {
                raw[i] &= 1;
            }
        }

        if (type.BitsPerElement() == 4 && count % 2 == 1)
        {
            raw[^1] &= 0x0F; // the padding nibble
        }

        return new TensorData { Name = $"{type.OnnxName()}_{dims.Length}", ElementType = type, Dims = dims, RawData = raw };
    }

    /// <summary>What differs between two tensors, or null when they hold the same content.</summary>
    private static string? Difference(TensorData expected, TensorData actual)
    {
        if (expected.Name != actual.Name)
        {
            return $"name '{actual.Name}', expected '{expected.Name}'";
        }

        if (expected.ElementType != actual.ElementType)
        {
            return $"element type {actual.ElementType}, expected {expected.ElementType}";
        }

        if (!expected.Dims.AsSpan().SequenceEqual(actual.Dims))
        {
            return $"dims [{string.Join(",", actual.Dims)}], expected [{string.Join(",", expected.Dims)}]";
        }

        if (!expected.RawData.AsSpan().SequenceEqual(actual.RawData))
        {
            return $"{actual.RawData.Length} raw bytes differ from the expected {expected.RawData.Length}";
        }

        byte[][] expectedStrings = expected.Strings ?? [];
        byte[][] actualStrings = actual.Strings ?? [];
        if (expectedStrings.Length != actualStrings.Length)
        {
            return $"{actualStrings.Length} strings, expected {expectedStrings.Length}";
        }

        for (int i = 0; i < expectedStrings.Length; i++)
        {
            if (!expectedStrings[i].AsSpan().SequenceEqual(actualStrings[i]))
            {
                return $"string {i} differs";
            }
        }

        return null;
    }

    private static byte[] Float(float value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        return bytes;
    }

    private static float[] Floats(byte[] raw) =>
        raw.Chunk(4).Select(b => BinaryPrimitives.ReadSingleLittleEndian(b)).ToArray();
}
