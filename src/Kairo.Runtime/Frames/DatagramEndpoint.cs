using System.Net;
using System.Net.Sockets;

namespace Kairo.Runtime.Frames;

/// <summary>Parses the endpoints of the <c>udp</c> and <c>unix</c> sources and sinks.</summary>
public static class DatagramEndpoint
{
    /// <summary>Largest payload one UDP datagram carries (IPv4); bigger frames need <c>unix</c> or the frame ring.</summary>
    public const int MaxUdpDatagram = 65_507;

    /// <summary><c>HOST:PORT</c> or <c>[IPv6]:PORT</c>, with a literal address.</summary>
    public static IPEndPoint ParseUdp(string address)
    {
        if (!IPEndPoint.TryParse(address, out var endpoint) || endpoint.Port == 0 && !address.EndsWith(":0", StringComparison.Ordinal))
        {
            throw new FormatException($"'{address}' is not a UDP address; expected IP:PORT such as 127.0.0.1:9000 or [::1]:9000");
        }

        return endpoint;
    }

    public static UnixDomainSocketEndPoint ParseUnix(string path)
    {
        if (string.IsNullOrWhiteSpace(path) || path.Length > 107)
        {
            throw new FormatException($"'{path}' is not a unix socket path; expected an absolute path of at most 107 bytes");
        }

        return new UnixDomainSocketEndPoint(path);
    }

    internal static Socket CreateSocket(bool unix, EndPoint endpoint) =>
        unix ? new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified)
             : new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
}
