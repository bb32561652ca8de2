using System.Net;
using System.Net.Sockets;
using Kairo.Runtime.Frames;

namespace Kairo.Runtime.Sources;

/// <summary>
/// Input frames as datagrams (docs/wire-formats.md) on a UDP port or a unix datagram socket. Each tick drains what
/// is queued and keeps the newest valid frame; malformed or wrong-sized datagrams are counted and dropped.
/// </summary>
public sealed class DatagramSource : IFrameSource
{
    private const int MaxDatagramsPerTick = 256;

    private readonly bool _unix;
    private readonly EndPoint _endpoint;
    private Socket? _socket;
    private byte[] _receive = [];
    private FrameLayout? _layout;

    private DatagramSource(bool unix, EndPoint endpoint, string description)
    {
        _unix = unix;
        _endpoint = endpoint;
        Description = description;
    }

    public static DatagramSource Udp(string address) => new(false, DatagramEndpoint.ParseUdp(address), $"udp {address}");

    public static DatagramSource Unix(string path) => new(true, DatagramEndpoint.ParseUnix(path), $"unix {path}");

    public string Description { get; }

    public SourceCounters Counters { get; } = new();

    /// <summary>The bound endpoint (for UDP port 0, the port the system chose).</summary>
    public EndPoint? LocalEndPoint => _socket?.LocalEndPoint;

    public void Open(FrameLayout layout)
    {
        int datagram = FrameHeader.Size + layout.TotalBytes;
        if (!_unix && datagram > DatagramEndpoint.MaxUdpDatagram)
        {
            throw new InvalidOperationException(
                $"{Description}: a frame of {layout} is {datagram} bytes, more than one UDP datagram carries ({DatagramEndpoint.MaxUdpDatagram}); use a unix socket or the frame ring");
        }

        _layout = layout;
        _receive = GC.AllocateUninitializedArray<byte>(datagram + 1, pinned: true); // +1 tells an oversized datagram from an exact one
        var socket = DatagramEndpoint.CreateSocket(_unix, _endpoint);
        try
        {
            if (_unix && _endpoint is UnixDomainSocketEndPoint unixEndpoint)
            {
                string path = unixEndpoint.ToString();
                if (File.Exists(path))
                {
                    File.Delete(path); // a stale socket file from an earlier run
                }
            }

            socket.ReceiveBufferSize = Math.Max(socket.ReceiveBufferSize, datagram * 4);
            socket.Bind(_endpoint);
            socket.Blocking = false;
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        _socket = socket;
    }

    public bool TryRead(Span<byte> frame, out ulong sequence)
    {
        sequence = 0;
        bool fresh = false;
        var socket = _socket!;
        var layout = _layout!;
        for (int i = 0; i < MaxDatagramsPerTick; i++)
        {
            int received = socket.Receive(_receive, 0, _receive.Length, SocketFlags.None, out SocketError error);
            if (error != SocketError.Success || received <= 0)
            {
                break; // WouldBlock: the queue is empty
            }

            var datagram = new ReadOnlySpan<byte>(_receive, 0, received);
            var problem = FrameHeader.TryRead(datagram, out var header);
            if (problem == FrameError.None)
            {
                problem = header.Check(FrameKind.Input, layout);
            }

            if (problem == FrameError.None && received != FrameHeader.Size + header.PayloadLength)
            {
                problem = FrameError.WrongSize;
            }

            if (problem != FrameError.None)
            {
                Counters.CountDrop(problem);
                continue;
            }

            datagram.Slice(FrameHeader.Size, header.PayloadLength).CopyTo(frame);
            sequence = header.Sequence;
            fresh = true;
            Counters.CountFrame();
        }

        return fresh;
    }

    public void Dispose()
    {
        _socket?.Dispose();
        if (_unix && _endpoint is UnixDomainSocketEndPoint unixEndpoint)
        {
            try
            {
                File.Delete(unixEndpoint.ToString());
            }
            catch (IOException)
            {
            }
        }
    }
}
