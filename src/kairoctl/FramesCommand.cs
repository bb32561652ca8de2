using System.CommandLine;
using System.Globalization;
using System.Text;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Loops;

namespace Kairo.Ctl;

/// <summary>
/// <c>kairoctl frames --model MODEL</c>: prints the input and output frames a loop on the model moves, byte for byte
/// (docs/wire-formats.md): each tensor's offset and length, the signature and layout id, and the datagram and ring
/// sizes, for whoever writes the camera or actuator process. Exit code 0, 1 when the model could not be loaded, 2 on a
/// usage error.
/// </summary>
internal static class FramesCommand
{
    public static Command Create()
    {
        var model = new FrameModelOptions();
        var command = new Command("frames", "Print the input and output frame layouts of a model's loop: offsets, lengths, layout ids, datagram and ring sizes.");
        model.AddTo(command);
        command.SetAction(parse =>
        {
            var layout = model.Load(parse, "frames", out int exitCode);
            if (layout == null)
            {
                return exitCode;
            }

            Console.Out.Write(Describe(parse.GetValue(model.Model)!, layout));
            return 0;
        });
        return command;
    }

    internal static string Describe(string modelPath, LoopLayout layout)
    {
        var text = new StringBuilder();
        var invariant = CultureInfo.InvariantCulture;
        text.Append(invariant, $"model {modelPath}\n");
        foreach (string note in layout.Notes)
        {
            text.Append(invariant, $"note: {note}\n");
        }

        AppendFrame(text, "input frame (a source fills it; kind 1 on the wire)", layout.Input, wire: true);
        if (layout.State.Slots.Count > 0)
        {
            AppendFrame(text, "state (fed back from outputs each tick; not on the wire)", layout.State, wire: false);
            foreach (var edge in layout.Edges)
            {
                text.Append(invariant, $"  {edge.From} -> {edge.To}\n");
            }
        }

        AppendFrame(text, "output frame (every sink receives it; kind 2 on the wire)", layout.Output, wire: true);
        return text.ToString();
    }

    private static void AppendFrame(StringBuilder text, string title, FrameLayout frame, bool wire)
    {
        var invariant = CultureInfo.InvariantCulture;
        text.Append('\n').Append(title).Append('\n');
        text.Append(invariant, $"  payload    {frame.TotalBytes} bytes\n");
        text.Append(invariant, $"  layout id  0x{frame.LayoutId:X8} (header bytes 24..27: {LittleEndianBytes(frame.LayoutId)})\n");
        text.Append("  signature  (SHA-256 of these lines joined by \\n; the layout id is its first 4 bytes, little-endian)\n");
        foreach (string line in frame.Signature.Split('\n'))
        {
            text.Append("             ").Append(line).Append('\n');
        }

        text.Append(invariant, $"  {"offset",8}  {"length",8}  tensor\n");
        foreach (var slot in frame.Slots)
        {
            text.Append(invariant, $"  {slot.Offset,8}  {slot.Length,8}  {slot}\n");
        }

        if (!wire)
        {
            return;
        }

        int datagram = FrameHeader.Size + frame.TotalBytes;
        string udp = datagram <= DatagramEndpoint.MaxUdpDatagram
            ? "fits one UDP datagram"
            : $"too big for one UDP datagram ({DatagramEndpoint.MaxUdpDatagram}): use a unix socket or the frame ring";
        text.Append(invariant, $"  datagram   {datagram} bytes (32-byte header + payload); {udp}\n");
        int stride = FrameRing.SlotStride(frame.TotalBytes);
        text.Append(invariant,
            $"  ring       slot capacity {frame.TotalBytes}, slot stride {stride}; {FrameRing.DefaultSlotCount} slots = {FrameRing.FileLength(FrameRing.DefaultSlotCount, frame.TotalBytes)} bytes\n");
    }

    private static string LittleEndianBytes(uint value) => string.Create(CultureInfo.InvariantCulture,
        $"{value & 0xFF:x2} {(value >> 8) & 0xFF:x2} {(value >> 16) & 0xFF:x2} {value >> 24:x2}");
}
