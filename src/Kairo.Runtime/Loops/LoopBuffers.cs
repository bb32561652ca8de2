using Kairo.Onnx;
using Kairo.Runtime.Frames;

namespace Kairo.Runtime.Loops;

/// <summary>
/// A loop's memory, allocated once: the input frame, the state inputs, the output frame, the last output (for
/// hold) and the safe output; and one tensor over each slot, shared by every model the loop runs.
/// </summary>
internal sealed class LoopBuffers : IDisposable
{
    public LoopBuffers(LoopLayout layout, IReadOnlyDictionary<string, float[]> safeOutputs)
    {
        Input = new NativeBuffer(layout.Input.TotalBytes);
        State = new NativeBuffer(layout.State.TotalBytes);
        Output = new NativeBuffer(layout.Output.TotalBytes);
        LastOutput = new byte[layout.Output.TotalBytes];
        SafeOutput = BuildSafeOutput(layout.Output, safeOutputs);
        SafeOutput.CopyTo(LastOutput, 0);

        var names = new List<string>();
        var tensors = new List<OrtTensor>();
        foreach (var (frame, buffer) in new[] { (layout.Input, Input), (layout.State, State) })
        {
            foreach (var slot in frame.Slots)
            {
                names.Add(slot.Name);
                tensors.Add(OrtTensor.CreateOver(slot.ElementType, buffer.Pointer + slot.Offset, slot.Length, slot.Shape));
            }
        }

        InputNames = names.ToArray();
        InputTensors = tensors.ToArray();
        OutputNames = layout.Output.Slots.Select(s => s.Name).ToArray();
        OutputTensors = layout.Output.Slots.Select(s => OrtTensor.CreateOver(s.ElementType, Output.Pointer + s.Offset, s.Length, s.Shape)).ToArray();

        var copies = new List<(int From, int To, int Length)>();
        foreach (var edge in layout.Edges)
        {
            var from = layout.Output.Find(edge.From)!;
            var to = layout.State.Find(edge.To)!;
            copies.Add((from.Offset, to.Offset, from.Length));
        }

        StateCopies = copies.ToArray();
        FloatOutputs = layout.Output.Slots.Where(s => s.ElementType == TensorElementType.Float).Select(s => (s.Offset, s.Length / 4)).ToArray();
    }

    public NativeBuffer Input { get; }

    public NativeBuffer State { get; }

    public NativeBuffer Output { get; }

    public byte[] LastOutput { get; }

    public byte[] SafeOutput { get; }

    public string[] InputNames { get; }

    public OrtTensor[] InputTensors { get; }

    public string[] OutputNames { get; }

    public OrtTensor[] OutputTensors { get; }

    /// <summary>Byte ranges copied from the output frame into the state inputs after each tick.</summary>
    public (int From, int To, int Length)[] StateCopies { get; }

    /// <summary>Float outputs (offset, element count), scanned for NaN each tick.</summary>
    public (int Offset, int Count)[] FloatOutputs { get; }

    private static byte[] BuildSafeOutput(FrameLayout output, IReadOnlyDictionary<string, float[]> safeOutputs)
    {
        var bytes = new byte[output.TotalBytes];
        foreach (var (name, values) in safeOutputs)
        {
            var slot = output.Find(name) ?? throw new LoopConfigurationException($"safe output for '{name}': the model has no such output (outputs: {string.Join(", ", output.Slots.Select(s => s.Name))})");
            long count = slot.ElementCount;
            if (values.Length != 1 && values.Length != count)
            {
                throw new LoopConfigurationException($"safe output for '{name}': {values.Length} values given; give 1 (fills the tensor) or {count} (one per element of {slot})");
            }

            var target = bytes.AsSpan(slot.Offset, slot.Length);
            for (int i = 0; i < count; i++)
            {
                WriteElement(target, slot.ElementType, i, values.Length == 1 ? values[0] : values[i], name);
            }
        }

        return bytes;
    }

    private static void WriteElement(Span<byte> target, TensorElementType type, int index, float value, string name)
    {
        switch (type)
        {
            case TensorElementType.Float: BitConverter.TryWriteBytes(target[(index * 4)..], value); break;
            case TensorElementType.Double: BitConverter.TryWriteBytes(target[(index * 8)..], (double)value); break;
            case TensorElementType.Float16: BitConverter.TryWriteBytes(target[(index * 2)..], (Half)value); break;
            case TensorElementType.Int32: BitConverter.TryWriteBytes(target[(index * 4)..], (int)value); break;
            case TensorElementType.Int64: BitConverter.TryWriteBytes(target[(index * 8)..], (long)value); break;
            case TensorElementType.Int8: target[index] = (byte)(sbyte)value; break;
            case TensorElementType.UInt8: target[index] = (byte)value; break;
            case TensorElementType.Bool: target[index] = value != 0 ? (byte)1 : (byte)0; break;
            default: throw new LoopConfigurationException($"safe output for '{name}': {type.OnnxName()} outputs take no configured safe value");
        }
    }

    public void Dispose()
    {
        foreach (var t in InputTensors.Concat(OutputTensors))
        {
            t.Dispose();
        }

        Input.Dispose();
        State.Dispose();
        Output.Dispose();
    }
}
