using System.Globalization;
using Kairo.Onnx;
using Kairo.Onnx.TestData;

namespace Kairo.Updates.Packages;

/// <summary>
/// Golden vectors for a package, in ONNX's test-data layout: copied from existing <c>test_data_set_N</c> directories,
/// or made by running the model on seeded random inputs so that the outputs of this ONNX Runtime become the reference.
/// </summary>
public static class GoldenVectors
{
    private const string DataSetPrefix = "test_data_set_";
    private const long MaxGeneratedElements = 64L << 20;

    /// <summary>
    /// Copies the <c>test_data_set_N</c> directories under <paramref name="sourceDirectory"/> (their
    /// <c>input_K.pb</c> and <c>output_K.pb</c> files, nothing else), in numeric order, into
    /// <paramref name="caseDirectory"/> as <c>test_data_set_{firstIndex}</c>, ... Returns how many were copied.
    /// </summary>
    public static int CopyDataSets(string sourceDirectory, string caseDirectory, int firstIndex = 0)
    {
        if (!Directory.Exists(sourceDirectory))
        {
            throw new DirectoryNotFoundException($"no such directory: {sourceDirectory}");
        }

        var sets = Directory.EnumerateDirectories(sourceDirectory, DataSetPrefix + "*")
            .Select(d => (Number: Number(Path.GetFileName(d), DataSetPrefix, ""), Path: d))
            .Where(s => s.Number is not null)
            .OrderBy(s => s.Number)
            .ToList();
        if (sets.Count == 0)
        {
            throw new ArgumentException($"{sourceDirectory} holds no {DataSetPrefix}N directories of golden vectors", nameof(sourceDirectory));
        }

        for (int i = 0; i < sets.Count; i++)
        {
            string target = Path.Combine(caseDirectory, DataSetPrefix + (firstIndex + i).ToString(CultureInfo.InvariantCulture));
            Directory.CreateDirectory(target);
            int copied = 0;
            foreach (string file in Directory.EnumerateFiles(sets[i].Path, "*.pb"))
            {
                string name = Path.GetFileName(file);
                if (Number(name, "input_", ".pb") is not null || Number(name, "output_", ".pb") is not null)
                {
                    File.Copy(file, Path.Combine(target, name));
                    copied++;
                }
            }

            if (copied == 0)
            {
                throw new ArgumentException($"{sets[i].Path} holds no input_K.pb or output_K.pb files", nameof(sourceDirectory));
            }
        }

        return sets.Count;
    }

    /// <summary>
    /// Runs the model on <paramref name="count"/> sets of random inputs drawn from <paramref name="seed"/> (floats in
    /// [-1, 1), integers in [0, 4), bools) and writes each as <c>test_data_set_{firstIndex + i}</c> with the outputs.
    /// A dimension the model leaves open takes its size from <paramref name="inputShapes"/>, else 1. ONNX Runtime must be loaded.
    /// </summary>
    /// <returns>Notes worth telling the operator, e.g. a dynamic dimension fixed to 1.</returns>
    public static IReadOnlyList<string> Generate(
        string modelPath,
        string caseDirectory,
        int count,
        int seed,
        IReadOnlyDictionary<string, long[]>? inputShapes = null,
        SessionOptions? sessionOptions = null,
        int firstIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        inputShapes ??= new Dictionary<string, long[]>();
        var notes = new List<string>();
        using InferenceSession session = InferenceSession.Open(modelPath, sessionOptions ?? new SessionOptions { IntraOpThreads = 1, InterOpThreads = 1 });
        foreach (string name in inputShapes.Keys)
        {
            if (session.InputIndex(name) < 0)
            {
                throw new ArgumentException($"a shape is given for input '{name}', but the model has no such input (inputs: {string.Join(", ", session.Inputs.Select(i => i.Name))})");
            }
        }

        long[][] shapes = session.Inputs.Select(input => ShapeOf(input, inputShapes.GetValueOrDefault(input.Name), notes)).ToArray();
        var random = new Random(seed);
        for (int set = 0; set < count; set++)
        {
            string directory = Path.Combine(caseDirectory, DataSetPrefix + (firstIndex + set).ToString(CultureInfo.InvariantCulture));
            Directory.CreateDirectory(directory);
            var inputs = new OrtTensor[session.Inputs.Count];
            OrtTensor[]? outputs = null;
            try
            {
                for (int k = 0; k < inputs.Length; k++)
                {
                    TensorData data = RandomTensor(session.Inputs[k], shapes[k], random);
                    TensorProtoCodec.WriteFile(Path.Combine(directory, $"input_{k}.pb"), data);
                    inputs[k] = OrtTensor.Allocate(data.ElementType, data.Dims);
                    data.RawData.CopyTo(inputs[k].GetBytes());
                }

                outputs = session.Run(inputs);
                for (int k = 0; k < outputs.Length; k++)
                {
                    TensorProtoCodec.WriteFile(Path.Combine(directory, $"output_{k}.pb"), ToData(outputs[k], session.Outputs[k].Name));
                }
            }
            finally
            {
                foreach (OrtTensor? tensor in inputs.Concat(outputs ?? []))
                {
                    tensor?.Dispose();
                }
            }
        }

        return notes.Distinct().ToList();
    }

    private static long[] ShapeOf(NodeInfo input, long[]? given, List<string> notes)
    {
        if (input.Kind != OnnxValueKind.Tensor)
        {
            throw new ArgumentException($"input '{input.Name}' is a {input.Kind.ToString().ToLowerInvariant()}; Kairo runs tensor inputs only");
        }

        if (given is not null)
        {
            if (given.Length != input.Shape.Count || given.Where((d, i) => d < 0 || (input.Shape[i] >= 0 && input.Shape[i] != d)).Any())
            {
                throw new ArgumentException($"input '{input.Name}': shape [{string.Join(',', given)}] does not fit the model's {input}");
            }

            return given;
        }

        long[] shape = input.Shape.ToArray();
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] < 0)
            {
                shape[d] = 1;
                string symbol = input.SymbolicDims[d].Length > 0 ? $"'{input.SymbolicDims[d]}'" : d.ToString(CultureInfo.InvariantCulture);
                notes.Add($"input '{input.Name}': dynamic dimension {symbol} set to 1 (give --input {input.Name}=DxD... to choose)");
            }
        }

        return shape;
    }

    private static TensorData RandomTensor(NodeInfo input, long[] shape, Random random)
    {
        long count = shape.Aggregate(1L, (a, d) => a * d);
        if (count > MaxGeneratedElements)
        {
            throw new ArgumentException($"input '{input.Name}' of shape [{string.Join(',', shape)}] holds {count} elements; golden vectors are kept under {MaxGeneratedElements}");
        }

        float Unit() => (float)((random.NextDouble() * 2) - 1);
        int Small() => random.Next(0, 4);
        return input.ElementType switch
        {
            TensorElementType.Float => Make(count, shape, input.Name, Unit),
            TensorElementType.Double => Make(count, shape, input.Name, () => (random.NextDouble() * 2) - 1),
            TensorElementType.Float16 => Make(count, shape, input.Name, () => (Half)Unit()),
            TensorElementType.BFloat16 => Make(count, shape, input.Name, () => (BFloat16)Unit()),
            TensorElementType.Int8 => Make(count, shape, input.Name, () => (sbyte)Small()),
            TensorElementType.UInt8 => Make(count, shape, input.Name, () => (byte)Small()),
            TensorElementType.Int16 => Make(count, shape, input.Name, () => (short)Small()),
            TensorElementType.UInt16 => Make(count, shape, input.Name, () => (ushort)Small()),
            TensorElementType.Int32 => Make(count, shape, input.Name, Small),
            TensorElementType.UInt32 => Make(count, shape, input.Name, () => (uint)Small()),
            TensorElementType.Int64 => Make(count, shape, input.Name, () => (long)Small()),
            TensorElementType.UInt64 => Make(count, shape, input.Name, () => (ulong)Small()),
            TensorElementType.Bool => Make(count, shape, input.Name, () => random.Next(2) == 1),
            _ => throw new ArgumentException(
                $"input '{input.Name}' is {input.ElementType.OnnxName()}: Kairo makes no random values of that type; give golden vectors with --golden"),
        };
    }

    private static TensorData Make<T>(long count, long[] shape, string name, Func<T> next)
        where T : unmanaged
    {
        var values = new T[count];
        for (long i = 0; i < count; i++)
        {
            values[i] = next();
        }

        return TensorData.FromSpan<T>(values, shape, name);
    }

    private static TensorData ToData(OrtTensor tensor, string name)
    {
        if (tensor.Kind != OnnxValueKind.Tensor)
        {
            throw new ArgumentException($"output '{name}' is a {tensor.Kind.ToString().ToLowerInvariant()}; golden vectors hold tensors only");
        }

        return tensor.ElementType == TensorElementType.String
            ? TensorData.FromStrings(tensor.GetStrings(), tensor.Shape, name)
            : new TensorData { Name = name, ElementType = tensor.ElementType, Dims = tensor.Shape.ToArray(), RawData = tensor.GetBytes().ToArray() };
    }

    internal static int? Number(string name, string prefix, string suffix)
    {
        if (!name.StartsWith(prefix, StringComparison.Ordinal) || !name.EndsWith(suffix, StringComparison.Ordinal) || name.Length <= prefix.Length + suffix.Length)
        {
            return null;
        }

        string digits = name[prefix.Length..^suffix.Length];
        return digits.All(char.IsAsciiDigit) && int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : null;
    }
}
