namespace Kairo.Onnx.TestData;

/// <summary>What kept an output from matching its expected value.</summary>
public enum MismatchKind
{
    /// <summary>The output is not a tensor (a sequence, map or optional).</summary>
    ValueKind,

    ElementType,

    Shape,

    /// <summary>Same type and shape, but some elements differ beyond the tolerance.</summary>
    Values,
}

/// <summary>
/// Why one output differs from its expected tensor. <see cref="Message"/> is one line an operator can act on, e.g.
/// <c>output 'y': 3 of 12 elements differ; first at [5]: expected 0.25, got 0.2612 (allowed 0.00125)</c>.
/// </summary>
public sealed record TensorMismatch(
    string Output,
    MismatchKind Kind,
    string Message,
    long FirstIndex = -1,
    long DifferingCount = 0,
    long ElementCount = 0)
{
    public override string ToString() => Message;
}
