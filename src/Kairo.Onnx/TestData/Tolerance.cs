using System.Globalization;

namespace Kairo.Onnx.TestData;

/// <summary>
/// How far a floating-point output may stray from its expected value: an element passes when
/// |expected − actual| ≤ <see cref="Atol"/> + <see cref="Rtol"/> · |expected|, the rule of ONNX Runtime's own
/// test runner. Integers, bools and strings ignore it: they must match exactly.
/// </summary>
public sealed record Tolerance
{
    public const double DefaultAtol = 1e-3;
    public const double DefaultRtol = 1e-3;

    public Tolerance(double atol = DefaultAtol, double rtol = DefaultRtol)
    {
        Atol = Check(atol, nameof(atol));
        Rtol = Check(rtol, nameof(rtol));
    }

    public static Tolerance Default { get; } = new();

    /// <summary>Absolute tolerance.</summary>
    public double Atol { get; }

    /// <summary>Relative tolerance, a fraction of |expected|.</summary>
    public double Rtol { get; }

    /// <summary>The largest difference allowed from <paramref name="expected"/> (a finite value).</summary>
    public double Allowed(double expected) => Atol + (Rtol * Math.Abs(expected));

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"atol {Atol:G6}, rtol {Rtol:G6}");

    private static double Check(double value, string name)
    {
        if (!(value >= 0) || double.IsInfinity(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number ≥ 0, for example 1e-3");
        }

        return value;
    }
}
