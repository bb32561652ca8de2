using System.Net;
using System.Net.Sockets;
using Kairo.Runtime.Frames;

namespace Kairo.Runtime.Sinks;

/// <summary>
/// Output frames as datagrams (docs/wire-formats.md) to a UDP address or a unix datagram socket, for an actuator
/// process. Non-blocking: a full queue or an absent receiver counts a failure, never stalls the loop.
/// </summary>
public sealed class DatagramSink : IFrameSink
{
    private readonly bool _unix;
    private readonly EndPoint _endpoint;
    private Socket? _socket;
    private byte[] _send = [];
    private uint _layoutId;
    private long _nextConnectNanoseconds;

    private DatagramSink(bool unix, EndPoint endpoint, string description)
    {
        _unix = unix;
        _endpoint = endpoint;
        Description = description;
    }

    public static DatagramSink Udp(string address) => new(false, DatagramEndpoint.ParseUdp(address), $"udp {address}");

    public static DatagramSink Unix(string path) => new(true, DatagramEndpoint.ParseUnix(path), $"unix {path}");

    public string Description { get; }

    public SinkCounters Counters { get; } = new();

    public void Open(FrameLayout layout)
    {
        int datagram = FrameHeader.Size + layout.TotalBytes;
        if (!_unix && datagram > DatagramEndpoint.MaxUdpDatagram)
        {
            throw new InvalidOperationException($"{Description}: an output frame is {datagram} bytes, more than one UDP datagram carries");
        }

        _send = GC.AllocateUninitializedArray<byte>(datagram, pinned: true);
        _layoutId = layout.LayoutId;
        _socket = DatagramEndpoint.CreateSocket(_unix, _endpoint);
        _socket.Blocking = false;
        if (!_unix)
        {
            _socket.Connect(_endpoint); // a connected UDP socket sends without resolving the address each time
        }
    }

    public void Write(in TickFrame tick, ReadOnlySpan<byte> outputs)
    {
        new FrameHeader(FrameKind.Output, tick.Flags, tick.Sequence, tick.TimestampNanoseconds, _layoutId, outputs.Length).Write(_send);
        outputs.CopyTo(_send.AsSpan(FrameHeader.Size));
        var socket = _socket!;
        if (_unix && !socket.Connected)
        {
            // The actuator may start after us or restart: connect lazily, at most once a second, counting failures.
            if (tick.TimestampNanoseconds < _nextConnectNanoseconds)
            {
                Counters.CountFailed();
                return;
            }

            try
            {
                socket.Connect(_endpoint);
            }
            catch (SocketException)
            {
                _nextConnectNanoseconds = tick.TimestampNanoseconds + 1_000_000_000L;
                Counters.CountFailed();
                return;
            }
        }

        socket.Send(_send, 0, FrameHeader.Size + outputs.Length, SocketFlags.None, out SocketError error);
        if (error == SocketError.Success)
        {
            Counters.CountWritten();
        }
        else
        {
            Counters.CountFailed();
        }
    }

    public void Dispose() => _socket?.Dispose();
}
