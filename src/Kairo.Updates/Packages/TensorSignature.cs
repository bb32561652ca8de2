using Kairo.Onnx;
using Kairo.Runtime.Frames;

namespace Kairo.Updates.Packages;

/// <summary>
/// One line of a manifest's signature, <c>camera: float[1,3,66,200]</c>, as <see cref="NodeInfo.ToString"/> and
/// <see cref="TensorSlot.ToString"/> print it. A dimension is a number, or a name (or <c>?</c>) where the model leaves it open.
/// </summary>
internal sealed record TensorSignature(string Name, TensorElementType ElementType, string[] Dims)
{
    public static TensorSignature? TryParse(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        // ONNX names may hold ':' (e.g. "input:0"), so the name ends at the last ": ".
        int colon = text.LastIndexOf(": ", StringComparison.Ordinal);
        if (colon <= 0 || !text.EndsWith(']'))
        {
            return null;
        }

        string name = text[..colon];
        string rest = text[(colon + 2)..];
        int bracket = rest.IndexOf('[');
        if (bracket <= 0 || ElementTypeNamed(rest[..bracket]) is not { } type)
        {
            return null;
        }

        string inner = rest[(bracket + 1)..^1];
        string[] dims = inner.Length == 0 ? [] : inner.Split(',');
        foreach (string dim in dims)
        {
            if (dim.Length == 0 || dim.Any(c => char.IsWhiteSpace(c) || c is '[' or ']'))
            {
                return null;
            }
        }

        return new TensorSignature(name, type, dims);
    }

    /// <summary>True when a loop slot can carry this tensor: same name, type and rank; every fixed dimension equal.</summary>
    public bool Fits(TensorSlot slot)
    {
        if (slot.Name != Name || slot.ElementType != ElementType || slot.Shape.Length != Dims.Length)
        {
            return false;
        }

        for (int d = 0; d < Dims.Length; d++)
        {
            if (long.TryParse(Dims[d], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long fixedDim)
                && fixedDim != slot.Shape[d])
            {
                return false;
            }
        }

        return true;
    }

    public override string ToString() => $"{Name}: {ElementType.OnnxName()}[{string.Join(',', Dims)}]";

    private static TensorElementType? ElementTypeNamed(string name)
    {
        foreach (TensorElementType type in Enum.GetValues<TensorElementType>())
        {
            if (type != TensorElementType.Undefined && type.OnnxName() == name)
            {
                return type;
            }
        }

        return null;
    }
}
