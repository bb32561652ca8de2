namespace Kairo.Onnx;

/// <summary>What kind of value an input or output carries.</summary>
public enum OnnxValueKind
{
    Unknown = 0,
    Tensor = 1,
    Sequence = 2,
    Map = 3,
    Opaque = 4,
    SparseTensor = 5,
    Optional = 6,
}

/// <summary>
/// One input or output of a model: its name, kind, element type and shape. A dynamic dimension is -1 in
/// <see cref="Shape"/>, with its symbolic name (if the model gives one) at the same index of <see cref="SymbolicDims"/>.
/// </summary>
public sealed class NodeInfo
{
    internal NodeInfo(string name, OnnxValueKind kind, TensorElementType elementType, long[] shape, string[] symbolicDims)
    {
        Name = name;
        Kind = kind;
        ElementType = elementType;
        Shape = shape;
        SymbolicDims = symbolicDims;
    }

    public string Name { get; }

    public OnnxValueKind Kind { get; }

    /// <summary>The element type for a tensor; <see cref="TensorElementType.Undefined"/> for other kinds.</summary>
    public TensorElementType ElementType { get; }

    /// <summary>Dimensions; -1 where the model leaves one open. Empty for a scalar or for a non-tensor.</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>Symbolic names of the dimensions, "" where a dimension has none.</summary>
    public IReadOnlyList<string> SymbolicDims { get; }

    /// <summary>True when every dimension is known.</summary>
    public bool IsFixedShape => Kind == OnnxValueKind.Tensor && !Shape.Contains(-1);

    /// <summary>The signature as operators read it, e.g. <c>camera: float[1,3,66,200]</c> or <c>x: float[batch,4]</c>.</summary>
    public override string ToString()
    {
        if (Kind != OnnxValueKind.Tensor)
        {
            return $"{Name}: {Kind.ToString().ToLowerInvariant()}";
        }

        var dims = new string[Shape.Count];
        for (int i = 0; i < dims.Length; i++)
        {
            dims[i] = Shape[i] >= 0 ? Shape[i].ToString(System.Globalization.CultureInfo.InvariantCulture)
                : SymbolicDims[i].Length > 0 ? SymbolicDims[i] : "?";
        }

        return $"{Name}: {ElementType.OnnxName()}[{string.Join(',', dims)}]";
    }
}

/// <summary>The metadata a model file carries about itself.</summary>
public sealed class ModelMetadata
{
    internal ModelMetadata(string producerName, string graphName, string graphDescription, string domain, string description, long version, IReadOnlyDictionary<string, string> custom)
    {
        ProducerName = producerName;
        GraphName = graphName;
        GraphDescription = graphDescription;
        Domain = domain;
        Description = description;
        Version = version;
        Custom = custom;
    }

    public string ProducerName { get; }

    public string GraphName { get; }

    public string GraphDescription { get; }

    public string Domain { get; }

    public string Description { get; }

    public long Version { get; }

    /// <summary>The model's <c>metadata_props</c>.</summary>
    public IReadOnlyDictionary<string, string> Custom { get; }
}
