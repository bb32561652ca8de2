using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Kairo.Onnx;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Sinks;

namespace Kairo.Control.Plane;

/// <summary>
/// Loop outputs on an MQTT topic, every N ticks. The loop thread copies the output frame into a preallocated
/// single-producer/single-consumer ring and returns; the sink's own thread turns frames into JSON and publishes
/// them. A full ring drops the frame and counts it (<see cref="SinkCounters.Failed"/>): the loop never waits for the
/// network. A message the publisher could not hand over (not connected) is counted as <see cref="Unsent"/>.
/// </summary>
public sealed class MqttSink : IFrameSink
{
    private const int Slots = 16;

    private readonly Func<string, byte[], int, bool> _publish;
    private readonly string _topic;
    private readonly string _loop;
    private readonly int _everyTicks;
    private readonly int _qos;
    private readonly TickFrame[] _frames = new TickFrame[Slots];
    private byte[][] _payloads = [];
    private FrameLayout? _layout;
    private long _written; // frames the loop thread has put in the ring
    private long _read;    // frames the publisher has taken out
    private long _dropped;
    private long _unsent;
    private Thread? _thread;
    private volatile bool _stopping;

    /// <param name="publish">Publishes (topic, payload, qos) and says whether it was handed over; called from the sink's own thread only.</param>
    public MqttSink(Func<string, byte[], int, bool> publish, string topic, string loop, int everyTicks = 1, int qos = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(everyTicks, 1);
        _publish = publish;
        _topic = topic;
        _loop = loop;
        _everyTicks = everyTicks;
        _qos = qos;
        Description = $"mqtt {_topic} every {_everyTicks} ticks";
    }

    public string Description { get; }

    public SinkCounters Counters { get; } = new();

    /// <summary>Frames dropped because the publisher fell behind.</summary>
    public long Dropped => Volatile.Read(ref _dropped);

    /// <summary>Messages the publisher made but could not hand over (while not connected, or refused).</summary>
    public long Unsent => Volatile.Read(ref _unsent);

    public void Open(FrameLayout layout)
    {
        _layout = layout;
        _payloads = Enumerable.Range(0, Slots).Select(_ => new byte[layout.TotalBytes]).ToArray();
        _thread = new Thread(RunPublisher) { Name = "kairo-mqtt-sink", IsBackground = true };
        _thread.Start();
    }

    public void Write(in TickFrame tick, ReadOnlySpan<byte> outputs)
    {
        if (tick.Sequence % (ulong)_everyTicks != 0 && tick.Flags != FrameFlags.Safe)
        {
            return;
        }

        long written = _written;
        if (written - Volatile.Read(ref _read) >= Slots)
        {
            Volatile.Write(ref _dropped, _dropped + 1);
            Counters.CountFailed();
            return;
        }

        int slot = (int)(written % Slots);
        outputs.CopyTo(_payloads[slot]);
        _frames[slot] = tick;
        Volatile.Write(ref _written, written + 1);
        Counters.CountWritten();
    }

    private void RunPublisher()
    {
        var text = new StringBuilder(256);
        while (true)
        {
            bool stopping = _stopping;
            long read = _read;
            while (read < Volatile.Read(ref _written))
            {
                int slot = (int)(read % Slots);
                text.Clear();
                Format(text, _frames[slot], _payloads[slot]);
                Volatile.Write(ref _read, read + 1);
                read++;
                bool sent;
                try
                {
                    sent = _publish(_topic, Encoding.UTF8.GetBytes(text.ToString()), _qos);
                }
                catch (Exception)
                {
                    sent = false; // the publisher reports its own failures; here the message is only counted
                }

                if (!sent)
                {
                    Volatile.Write(ref _unsent, _unsent + 1);
                }
            }

            if (stopping)
            {
                return;
            }

            Thread.Sleep(5);
        }
    }

    private void Format(StringBuilder text, TickFrame frame, byte[] payload)
    {
        var inv = CultureInfo.InvariantCulture;
        text.Append("{\"loop\":\"").Append(_loop).Append("\",\"tick\":").Append(frame.Sequence.ToString(inv))
            .Append(",\"modelVersion\":").Append(frame.ModelVersion.ToString(inv))
            .Append(",\"output\":\"").Append(frame.Flags switch { FrameFlags.Safe => "safe", FrameFlags.Held => "held", _ => "fresh" })
            .Append("\",\"outputs\":{");
        var slots = _layout!.Slots;
        for (int s = 0; s < slots.Count; s++)
        {
            var slot = slots[s];
            text.Append(s == 0 ? "\"" : ",\"").Append(slot.Name).Append("\":[");
            var bytes = payload.AsSpan(slot.Offset, slot.Length);
            long count = slot.ElementCount;
            for (int i = 0; i < count; i++)
            {
                if (i > 0)
                {
                    text.Append(',');
                }

                AppendElement(text, slot.ElementType, bytes, i);
            }

            text.Append(']');
        }

        text.Append("}}");
    }

    private static void AppendElement(StringBuilder text, TensorElementType type, ReadOnlySpan<byte> bytes, int i)
    {
        var inv = CultureInfo.InvariantCulture;
        switch (type)
        {
            case TensorElementType.Float:
                float f = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]);
                text.Append(float.IsFinite(f) ? f.ToString("R", inv) : "null");
                break;
            case TensorElementType.Double:
                double d = BinaryPrimitives.ReadDoubleLittleEndian(bytes[(i * 8)..]);
                text.Append(double.IsFinite(d) ? d.ToString("R", inv) : "null");
                break;
            case TensorElementType.Float16:
                var h = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes[(i * 2)..]);
                text.Append(float.IsFinite(h) ? h.ToString("R", inv) : "null");
                break;
            case TensorElementType.Int32: text.Append(BinaryPrimitives.ReadInt32LittleEndian(bytes[(i * 4)..]).ToString(inv)); break;
            case TensorElementType.Int64: text.Append(BinaryPrimitives.ReadInt64LittleEndian(bytes[(i * 8)..]).ToString(inv)); break;
            case TensorElementType.Int16: text.Append(BinaryPrimitives.ReadInt16LittleEndian(bytes[(i * 2)..]).ToString(inv)); break;
            case TensorElementType.UInt16: text.Append(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 2)..]).ToString(inv)); break;
            case TensorElementType.UInt32: text.Append(BinaryPrimitives.ReadUInt32LittleEndian(bytes[(i * 4)..]).ToString(inv)); break;
            case TensorElementType.UInt64: text.Append(BinaryPrimitives.ReadUInt64LittleEndian(bytes[(i * 8)..]).ToString(inv)); break;
            case TensorElementType.Int8: text.Append(((sbyte)bytes[i]).ToString(inv)); break;
            case TensorElementType.Bool: text.Append(bytes[i] != 0 ? "true" : "false"); break;
            default: text.Append(bytes[i].ToString(inv)); break;
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _thread?.Join(TimeSpan.FromSeconds(2));
    }
}
