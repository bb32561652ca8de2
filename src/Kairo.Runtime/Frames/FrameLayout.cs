using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Kairo.Onnx;

namespace Kairo.Runtime.Frames;

/// <summary>One tensor's place in a frame: its name, element type, fixed shape, and byte range.</summary>
public sealed record TensorSlot(string Name, TensorElementType ElementType, long[] Shape, int Offset, int Length)
{
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    // Made once: status and the birth list every slot of every loop.
    private readonly string _text = $"{Name}: {ElementType.OnnxName()}[{string.Join(',', Shape)}]";

    public override string ToString() => _text;
}

/// <summary>
/// How tensors lie in a frame: one after another in the model's order, each the raw little-endian bytes of its
/// elements, each starting on an 8-byte boundary. The layout id is the first four bytes of SHA-256 over the
/// signature text (e.g. <c>camera:float[1,3,66,200]</c>, one line per tensor), so both ends of a wire can tell
/// whether they agree on a frame without comparing names.
/// </summary>
public sealed class FrameLayout
{
    private const int SlotAlignment = 8;

    public FrameLayout(IEnumerable<(string Name, TensorElementType Type, long[] Shape)> tensors)
    {
        var slots = new List<TensorSlot>();
        int offset = 0;
        foreach (var (name, type, shape) in tensors)
        {
            if (type == TensorElementType.String || type.BitsPerElement() == 0)
            {
                throw new ArgumentException($"tensor '{name}' is {type.OnnxName()}: frames carry fixed-size numeric elements only");
            }

            long bytes = type.ByteCount(shape.Aggregate(1L, (a, d) => a * d));
            if (bytes > int.MaxValue / 4)
            {
                throw new ArgumentException($"tensor '{name}' needs {bytes} bytes; a frame holds at most 512 MiB");
            }

            offset = (offset + SlotAlignment - 1) / SlotAlignment * SlotAlignment;
            slots.Add(new TensorSlot(name, type, shape, offset, (int)bytes));
            offset += (int)bytes;
        }

        Slots = slots;
        TotalBytes = offset;
        Signature = string.Join('\n', slots.Select(s => $"{s.Name}:{s.ElementType.OnnxName()}[{string.Join(',', s.Shape)}]"));
        LayoutId = BinaryPrimitives.ReadUInt32LittleEndian(SHA256.HashData(Encoding.UTF8.GetBytes(Signature)));
    }

    public IReadOnlyList<TensorSlot> Slots { get; }

    public int TotalBytes { get; }

    public string Signature { get; }

    public uint LayoutId { get; }

    public TensorSlot? Find(string name) => Slots.FirstOrDefault(s => s.Name == name);

    public override string ToString() => string.Join(", ", Slots);
}
