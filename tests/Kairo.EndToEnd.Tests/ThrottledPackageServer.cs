using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Kairo.EndToEnd.Tests;

/// <summary>One GET the server answered: the path, the Range header as sent, the status, the first byte sent.</summary>
internal sealed record PackageRequest(string Path, string? Range, int Status, long From);

/// <summary>
/// A package server slow on purpose: HTTP/1.1 on 127.0.0.1 serving one archive under any path, a body in small chunks
/// with a pause after each, so that a device's download is certainly seen in the middle (its progress reports are at
/// most 10 a second). <c>Range: bytes=N-</c> gets 206 with Content-Range, or 416 with <c>bytes */LENGTH</c> at or past
/// the end, as a device resuming a complete part file expects; every response has Content-Length and
/// <c>Connection: close</c>. Each request is recorded, so a test can see what a restarted device asked for.
/// </summary>
internal sealed class ThrottledPackageServer : IDisposable
{
    private const int MaxHeadBytes = 8 << 10;

    private readonly byte[] _body;
    private readonly int _chunkBytes;
    private readonly TimeSpan _chunkDelay;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<PackageRequest> _requests = new();
    private readonly Task _accepting;

    public ThrottledPackageServer(byte[] body, int chunkBytes, TimeSpan chunkDelay)
    {
        _body = body;
        _chunkBytes = chunkBytes;
        _chunkDelay = chunkDelay;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync(_stop.Token);
    }

    public int Port { get; }

    public string Url(string path) => $"http://127.0.0.1:{Port}/{path}";

    /// <summary>The requests for <paramref name="path"/> so far, in the order they came.</summary>
    public IReadOnlyList<PackageRequest> RequestsFor(string path) => _requests.Where(r => r.Path == "/" + path).ToList();

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try
        {
            _accepting.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // Stopping the listener ends the accept loop with an exception; nothing to report.
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(client, token), CancellationToken.None);
        }
    }

    private async Task ServeAsync(TcpClient client, CancellationToken token)
    {
        using (client)
        {
            client.NoDelay = true; // each chunk leaves at once, so the device sees the transfer progress
            try
            {
                NetworkStream stream = client.GetStream();
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
                timeout.CancelAfter(TimeSpan.FromSeconds(30));
                string? head = await ReadHeadAsync(stream, timeout.Token);
                if (head is null)
                {
                    return;
                }

                string[] lines = head.Split("\r\n");
                string[] requestLine = lines[0].Split(' ');
                string path = requestLine.Length == 3 ? requestLine[1] : "";
                string? range = lines.Skip(1)
                    .Where(l => l.StartsWith("Range:", StringComparison.OrdinalIgnoreCase))
                    .Select(l => l["Range:".Length..].Trim())
                    .FirstOrDefault();
                if (requestLine[0] != "GET")
                {
                    _requests.Enqueue(new PackageRequest(path, range, 405, 0));
                    await WriteHeadAsync(stream, "405 Method Not Allowed", "Allow: GET\r\nContent-Length: 0", token);
                    return;
                }

                long length = _body.Length;
                if (range is not null && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-')
                    && long.TryParse(range["bytes=".Length..^1], NumberStyles.None, CultureInfo.InvariantCulture, out long from))
                {
                    if (from >= length)
                    {
                        _requests.Enqueue(new PackageRequest(path, range, 416, from));
                        await WriteHeadAsync(stream, "416 Range Not Satisfiable", $"Content-Range: bytes */{length}\r\nContent-Length: 0", token);
                        return;
                    }

                    _requests.Enqueue(new PackageRequest(path, range, 206, from));
                    await WriteHeadAsync(stream, "206 Partial Content",
                        $"Content-Range: bytes {from}-{length - 1}/{length}\r\nContent-Length: {length - from}\r\nAccept-Ranges: bytes\r\nContent-Type: application/octet-stream", token);
                    await WriteBodyAsync(stream, from, token);
                    return;
                }

                // No Range, or one this server does not use: the whole file, as HTTP allows.
                _requests.Enqueue(new PackageRequest(path, range, 200, 0));
                await WriteHeadAsync(stream, "200 OK", $"Content-Length: {length}\r\nAccept-Ranges: bytes\r\nContent-Type: application/octet-stream", token);
                await WriteBodyAsync(stream, 0, token);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The device went away mid-response (a test killed it) or the server stops: nothing to answer.
            }
        }
    }

    private static async Task<string?> ReadHeadAsync(NetworkStream stream, CancellationToken token)
    {
        var head = new List<byte>();
        byte[] buffer = new byte[1024];
        while (head.Count < MaxHeadBytes)
        {
            int read = await stream.ReadAsync(buffer, token);
            if (read == 0)
            {
                return null;
            }

            head.AddRange(buffer.AsSpan(0, read));
            string text = Encoding.ASCII.GetString(head.ToArray());
            int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                return text[..end];
            }
        }

        return null;
    }

    private static Task WriteHeadAsync(NetworkStream stream, string status, string headers, CancellationToken token) =>
        stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\n{headers}\r\nConnection: close\r\n\r\n"), token).AsTask();

    private async Task WriteBodyAsync(NetworkStream stream, long from, CancellationToken token)
    {
        for (long offset = from; offset < _body.Length; offset += _chunkBytes)
        {
            int count = (int)Math.Min(_chunkBytes, _body.Length - offset);
            await stream.WriteAsync(_body.AsMemory((int)offset, count), token);
            await stream.FlushAsync(token);
            if (offset + count < _body.Length)
            {
                await Task.Delay(_chunkDelay, token);
            }
        }
    }
}
