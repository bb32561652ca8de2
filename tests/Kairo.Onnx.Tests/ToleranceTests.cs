using System.Text;
using Kairo.Onnx.TestData;

namespace Kairo.Onnx.Tests;

public sealed class ToleranceTests
{
    private static readonly Tolerance Default = Tolerance.Default;

    [Fact]
    public void Defaults_are_one_thousandth_each()
    {
        Assert.Equal(1e-3, Default.Atol);
        Assert.Equal(1e-3, Default.Rtol);
        Assert.Equal(new Tolerance(), Default);
        Assert.Equal(0.00125, Default.Allowed(0.25), 15);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Tolerance(atol: -1e-3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Tolerance(rtol: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Tolerance(atol: double.PositiveInfinity));
    }

    [Fact]
    public void Equal_tensors_match()
    {
        TensorData a = Floats([0.25f, -1f, float.NaN, float.PositiveInfinity], [2, 2]);
        Assert.Null(TensorComparer.Compare("y", a, Floats([0.25f, -1f, float.NaN, float.PositiveInfinity], [2, 2]), Default));
    }

    [Fact]
    public void Mismatch_message_names_output_first_index_values_allowance_and_count()
    {
        float[] expected = new float[12];
        float[] actual = new float[12];
        for (int i = 0; i < 12; i++)
        {
            expected[i] = actual[i] = i / 4f;
        }

        expected[5] = 0.25f;
        actual[5] = 0.2612f;
        actual[7] += 1;
        actual[11] -= 1;

        TensorMismatch? mismatch = TensorComparer.Compare("y", Floats(expected, [3, 4]), Floats(actual, [3, 4]), Default);

        Assert.NotNull(mismatch);
        Assert.Equal("output 'y': 3 of 12 elements differ; first at [5]: expected 0.25, got 0.2612 (allowed 0.00125)", mismatch.Message);
        Assert.Equal(MismatchKind.Values, mismatch.Kind);
        Assert.Equal(5, mismatch.FirstIndex);
        Assert.Equal(3, mismatch.DifferingCount);
        Assert.Equal(12, mismatch.ElementCount);
    }

    [Fact]
    public void Nan_matches_only_nan()
    {
        Assert.True(TensorComparer.IsClose(double.NaN, double.NaN, Default));
        Assert.False(TensorComparer.IsClose(double.NaN, 0, Default));
        Assert.False(TensorComparer.IsClose(0, double.NaN, Default));
        Assert.False(TensorComparer.IsClose(1, double.NaN, new Tolerance(atol: 1e9, rtol: 1e9)));

        TensorMismatch? m = TensorComparer.Compare("y", Floats([1f, float.NaN], [2]), Floats([1f, 3f], [2]), Default);
        Assert.Equal("output 'y': 1 of 2 elements differs; first at [1]: expected NaN, got 3", m?.Message);
        Assert.Null(TensorComparer.Compare("y", Doubles([double.NaN], [1]), Doubles([-double.NaN], [1]), Default));
    }

    [Fact]
    public void Infinities_must_match_exactly()
    {
        Assert.True(TensorComparer.IsClose(double.PositiveInfinity, double.PositiveInfinity, Default));
        Assert.True(TensorComparer.IsClose(double.NegativeInfinity, double.NegativeInfinity, Default));
        Assert.False(TensorComparer.IsClose(double.PositiveInfinity, double.NegativeInfinity, Default));
        Assert.False(TensorComparer.IsClose(double.PositiveInfinity, double.MaxValue, new Tolerance(atol: 1e300, rtol: 1)));
        Assert.False(TensorComparer.IsClose(1e30, double.PositiveInfinity, new Tolerance(atol: 1e300, rtol: 1)));

        TensorMismatch? m = TensorComparer.Compare("z", Floats([float.NegativeInfinity], []), Floats([float.MinValue], []), Default);
        Assert.Equal("output 'z': 1 of 1 element differs; first at [0]: expected -Infinity, got -3.4028235E+38", m?.Message);
    }

    [Fact]
    public void Rtol_boundary_is_inclusive_and_scales_with_expected()
    {
        var tolerance = new Tolerance(atol: 0, rtol: 0.5);
        Assert.True(TensorComparer.IsClose(4, 6, tolerance)); // |diff| 2 = 0.5 · 4
        Assert.False(TensorComparer.IsClose(4, 6.000001, tolerance));
        Assert.True(TensorComparer.IsClose(-4, -2, tolerance)); // |expected| scales the allowance
        Assert.False(TensorComparer.IsClose(0, 1e-300, tolerance)); // nothing is allowed around 0 without atol

        // atol and rtol add up: 1 + 0.5 · 4 = 3.
        var both = new Tolerance(atol: 1, rtol: 0.5);
        Assert.True(TensorComparer.IsClose(4, 7, both));
        Assert.False(TensorComparer.IsClose(4, 7.001, both));

        // Against the tensor path, with values exactly representable in binary.
        var exact = new Tolerance(atol: 0.25, rtol: 0.5);
        Assert.Null(TensorComparer.Compare("y", Doubles([2.0], [1]), Doubles([3.25], [1]), exact));
        Assert.NotNull(TensorComparer.Compare("y", Doubles([2.0], [1]), Doubles([3.26], [1]), exact));
    }

    [Fact]
    public void Half_and_bfloat16_compare_as_double()
    {
        Half[] expected = [(Half)1.0f, (Half)(-2.5f), Half.NaN];
        Half[] close = [(Half)1.0009766f, (Half)(-2.5f), Half.NaN]; // one half-precision step above 1
        Half[] far = [(Half)1.0f, (Half)(-2.53f), (Half)0f];
        Assert.Null(TensorComparer.Compare("h", TensorData.FromSpan<Half>(expected, [3]), TensorData.FromSpan<Half>(close, [3]), Default));
        TensorMismatch? m = TensorComparer.Compare("h", TensorData.FromSpan<Half>(expected, [3]), TensorData.FromSpan<Half>(far, [3]), Default);
        Assert.Equal("output 'h': 2 of 3 elements differ; first at [1]: expected -2.5, got -2.53 (allowed 0.0035)", m?.Message);

        BFloat16[] b = [(BFloat16)0.5f, (BFloat16)100f];
        BFloat16[] bNear = [(BFloat16)0.5f, (BFloat16)100.5f]; // 100.5 needs 8 significant bits: exact in bfloat16
        TensorMismatch? mb = TensorComparer.Compare("b", TensorData.FromSpan<BFloat16>(b, [2]), TensorData.FromSpan<BFloat16>(bNear, [2]), Default);
        Assert.Equal("output 'b': 1 of 2 elements differs; first at [1]: expected 100, got 100.5 (allowed 0.101)", mb?.Message);
    }

    [Fact]
    public void Integers_and_bools_must_be_exact_whatever_the_tolerance()
    {
        var loose = new Tolerance(atol: 100, rtol: 100);
        Assert.Null(TensorComparer.Compare("i", TensorData.FromSpan<long>([1, -2, long.MaxValue], [3]), TensorData.FromSpan<long>([1, -2, long.MaxValue], [3]), loose));

        TensorMismatch? m = TensorComparer.Compare("i", TensorData.FromSpan<long>([1, -2, long.MaxValue], [3]),
            TensorData.FromSpan<long>([1, -2, long.MaxValue - 1], [3]), loose);
        Assert.Equal("output 'i': 1 of 3 elements differs; first at [2]: expected 9223372036854775807, got 9223372036854775806", m?.Message);

        TensorMismatch? m8 = TensorComparer.Compare("q", TensorData.FromSpan<sbyte>([-128, 5], [2]), TensorData.FromSpan<sbyte>([-127, 5], [2]), loose);
        Assert.Equal("output 'q': 1 of 2 elements differs; first at [0]: expected -128, got -127", m8?.Message);

        TensorMismatch? mb = TensorComparer.Compare("m", TensorData.FromSpan<bool>([true, false, true], [3]), TensorData.FromSpan<bool>([true, true, false], [3]), loose);
        Assert.Equal("output 'm': 2 of 3 elements differ; first at [1]: expected false, got true", mb?.Message);

        TensorMismatch? mu = TensorComparer.Compare("u", TensorData.FromSpan<ushort>([65535], [1]), TensorData.FromSpan<ushort>([65534], [1]), loose);
        Assert.Equal(MismatchKind.Values, mu?.Kind);
    }

    [Fact]
    public void Packed_4_bit_integers_compare_per_element_and_ignore_the_padding()
    {
        // Three int4 elements: 1, -1 (0xF), 7; the high nibble of the second byte is padding.
        var expected = new TensorData { ElementType = TensorElementType.Int4, Dims = [3], RawData = [0xF1, 0x07] };
        var samePaddingDiffers = new TensorData { ElementType = TensorElementType.Int4, Dims = [3], RawData = [0xF1, 0xA7] };
        var secondDiffers = new TensorData { ElementType = TensorElementType.Int4, Dims = [3], RawData = [0xE1, 0x07] };
        Assert.Null(TensorComparer.Compare("n", expected, samePaddingDiffers, Default));
        Assert.Equal("output 'n': 1 of 3 elements differs; first at [1]: expected -1, got -2", TensorComparer.Compare("n", expected, secondDiffers, Default)?.Message);
    }

    [Fact]
    public void Shape_must_match_even_with_the_same_elements()
    {
        TensorMismatch? m = TensorComparer.Compare("y", Floats([1, 2, 3, 4, 5, 6], [2, 3]), Floats([1, 2, 3, 4, 5, 6], [3, 2]), Default);
        Assert.Equal(MismatchKind.Shape, m?.Kind);
        Assert.Equal("output 'y': expected shape [2,3], got [3,2]", m?.Message);

        TensorMismatch? scalar = TensorComparer.Compare("s", Floats([1], []), Floats([1], [1]), Default);
        Assert.Equal("output 's': expected shape [], got [1]", scalar?.Message);
    }

    [Fact]
    public void Element_type_must_match_even_with_the_same_values()
    {
        TensorMismatch? m = TensorComparer.Compare("y", Floats([1, 2], [2]), Doubles([1, 2], [2]), Default);
        Assert.Equal(MismatchKind.ElementType, m?.Kind);
        Assert.Equal("output 'y': expected float, got double", m?.Message);

        TensorMismatch? bits = TensorComparer.Compare("y", TensorData.FromSpan<int>([1], [1]), TensorData.FromSpan<uint>([1], [1]), Default);
        Assert.Equal("output 'y': expected int32, got uint32", bits?.Message);
    }

    [Fact]
    public void Strings_compare_exactly_and_show_both_values()
    {
        TensorData expected = TensorData.FromStrings(["drive", "stop", "βγ"], [3]);
        Assert.Null(TensorComparer.Compare("label", expected, TensorData.FromStrings(["drive", "stop", "βγ"], [3]), Default));

        TensorMismatch? m = TensorComparer.Compare("label", expected, TensorData.FromStrings(["drive", "Stop", "βγ "], [3]), new Tolerance(atol: 1, rtol: 1));
        Assert.Equal("output 'label': 2 of 3 elements differ; first at [1]: expected \"stop\", got \"Stop\"", m?.Message);

        string longText = new('x', 100);
        TensorMismatch? shortened = TensorComparer.Compare("t", TensorData.FromStrings([longText], [1]), TensorData.FromStrings([longText + "y"], [1]), Default);
        Assert.Contains("(100 chars)", shortened?.Message);
        Assert.Contains("(101 chars)", shortened?.Message);
        Assert.DoesNotContain(longText, shortened?.Message);
    }

    [Fact]
    public void Complex_numbers_compare_component_by_component()
    {
        // complex64 [2]: (1, 2), (3, 4)
        TensorData expected = Raw(TensorElementType.Complex64, [2], [1f, 2f, 3f, 4f]);
        Assert.Null(TensorComparer.Compare("c", expected, Raw(TensorElementType.Complex64, [2], [1.0005f, 2f, 3f, 4.004f]), Default));
        TensorMismatch? m = TensorComparer.Compare("c", expected, Raw(TensorElementType.Complex64, [2], [1f, 2f, 3f, 4.1f]), Default);
        Assert.Equal("output 'c': 1 of 2 elements differs; first at [1]: expected (3, 4), got (3, 4.1) (allowed 0.004, 0.005)", m?.Message);
        Assert.Equal(2, m?.ElementCount);
    }

    [Fact]
    public void Empty_tensors_of_the_same_shape_match()
    {
        Assert.Null(TensorComparer.Compare("e", Floats([], [0, 3]), Floats([], [0, 3]), Default));
        Assert.NotNull(TensorComparer.Compare("e", Floats([], [0, 3]), Floats([], [3, 0]), Default));
    }

    [Fact]
    public void Comparing_allocates_nothing_per_element()
    {
        var expected = new float[100_000];
        var actual = new float[100_000];
        for (int i = 0; i < expected.Length; i++)
        {
            expected[i] = i * 0.001f;
            actual[i] = (i * 0.001f) + ((i % 3 == 0) ? 1 : 0);
        }

        TensorData e = Floats(expected, [expected.Length]);
        TensorData a = Floats(actual, [actual.Length]);
        TensorComparer.Compare("y", e, a, Default); // warm up

        long before = GC.GetAllocatedBytesForCurrentThread();
        TensorMismatch? m = TensorComparer.Compare("y", e, a, Default);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(33_334, m?.DifferingCount);
        Assert.True(allocated < 4096, $"comparing 100,000 elements allocated {allocated} bytes; only the message should");
    }

    [Fact]
    public void Ort_outputs_compare_against_expected_tensors()
    {
        Repo.LoadOnnxRuntime();
        float[] values = [0.5f, 1.5f, -2f];
        using var tensor = OrtTensor.CreateOver<float>(values, [3]);
        Assert.Null(TensorComparer.Compare("y", Floats([0.5f, 1.5f, -2f], [3]), tensor, Default));
        Assert.Equal("output 'y': 1 of 3 elements differs; first at [2]: expected -2.1, got -2 (allowed 0.0031)",
            TensorComparer.Compare("y", Floats([0.5f, 1.5f, -2.1f], [3]), tensor, Default)?.Message);

        using var strings = OrtTensor.CreateStrings(["a", "b"], [2]);
        Assert.Null(TensorComparer.Compare("s", TensorData.FromStrings(["a", "b"], [2]), strings, Default));
        Assert.Contains("expected \"c\", got \"b\"", TensorComparer.Compare("s", TensorData.FromStrings(["a", "c"], [2]), strings, Default)?.Message);
    }

    private static TensorData Floats(float[] values, long[] dims) => TensorData.FromSpan<float>(values, dims);

    private static TensorData Doubles(double[] values, long[] dims) => TensorData.FromSpan<double>(values, dims);

    private static TensorData Raw(TensorElementType type, long[] dims, float[] components) => new()
    {
        ElementType = type,
        Dims = dims,
        RawData = System.Runtime.InteropServices.MemoryMarshal.AsBytes(components.AsSpan()).ToArray(),
    };
}
