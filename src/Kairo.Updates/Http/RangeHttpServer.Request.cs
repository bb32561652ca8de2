using System.Buffers;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Kairo.Updates.Http;

// One connection: read the request head, answer it, close.
public sealed partial class RangeHttpServer
{
    private const int MaxHeadBytes = 8 << 10;
    private const int BodyChunkBytes = 64 << 10;
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private async Task ServeAsync(TcpClient client)
    {
        string remote = client.Client.RemoteEndPoint?.ToString() ?? "?";
        NetworkStream network = client.GetStream();
        string requestLine = "";
        int status = 0;
        long sent = 0;
        bool aborted = false;
        try
        {
            string? head;
            using (var headTimeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
            {
                headTimeout.CancelAfter(RequestTimeout);
                head = await ReadHeadAsync(network, headTimeout.Token).ConfigureAwait(false);
            }

            if (head is null)
            {
                status = 431;
                await RespondAsync(network, status, "request head larger than 8 KiB", isHead: false).ConfigureAwait(false);
                return;
            }

            int lineEnd = head.IndexOf("\r\n", StringComparison.Ordinal);
            requestLine = lineEnd >= 0 ? head[..lineEnd] : head;
            Request request = Parse(head);
            if (request.Status != 0)
            {
                status = request.Status;
                await RespondAsync(network, status, request.Problem, isHead: request.Method == "HEAD").ConfigureAwait(false);
                return;
            }

            (string? path, int refused, string? why) = Resolve(request.Target);
            if (path is null)
            {
                status = refused;
                await RespondAsync(network, status, why, isHead: request.Method == "HEAD").ConfigureAwait(false);
                return;
            }

            (status, sent, aborted) = await SendFileAsync(network, path, request).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            aborted = true; // the client went away, or the server is stopping
        }
        finally
        {
            if (requestLine.Length > 0 || status != 0)
            {
                Log($"{remote} \"{Printable(requestLine)}\" {(status == 0 ? "-" : status.ToString(CultureInfo.InvariantCulture))} {sent}{(aborted ? " (aborted)" : "")}");
            }
        }

        await CloseGracefullyAsync(client, network).ConfigureAwait(false);
    }

    /// <summary>The request head up to its blank line, as Latin-1 text; null when it outgrows <see cref="MaxHeadBytes"/>.</summary>
    private static async Task<string?> ReadHeadAsync(NetworkStream network, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(MaxHeadBytes);
        try
        {
            int total = 0;
            while (total < MaxHeadBytes)
            {
                int read = await network.ReadAsync(buffer.AsMemory(total, MaxHeadBytes - total), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new IOException("the client closed the connection before its request was complete");
                }

                int searchFrom = Math.Max(0, total - 3);
                total += read;
                int end = buffer.AsSpan(searchFrom, total - searchFrom).IndexOf("\r\n\r\n"u8);
                if (end >= 0)
                {
                    return Encoding.Latin1.GetString(buffer, 0, searchFrom + end);
                }
            }

            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private readonly record struct Request(string Method, string Target, string? Range, int Status, string? Problem);

    private static Request Parse(string head)
    {
        string[] lines = head.Split("\r\n");
        string[] parts = lines[0].Split(' ');
        if (parts.Length != 3 || parts[0].Length == 0 || parts[1].Length == 0)
        {
            return new Request("", "", null, 400, "the request line is not METHOD TARGET HTTP/1.1");
        }

        string method = parts[0];
        if (parts[2] is not ("HTTP/1.1" or "HTTP/1.0"))
        {
            return new Request(method, "", null, parts[2].StartsWith("HTTP/", StringComparison.Ordinal) ? 505 : 400, "HTTP/1.1 and HTTP/1.0 only");
        }

        string? range = null;
        for (int i = 1; i < lines.Length; i++)
        {
            string line = lines[i];
            int colon = line.IndexOf(':');
            if (line.Length == 0 || line[0] is ' ' or '\t' || colon <= 0 || line.AsSpan(0, colon).ContainsAny(" \t"))
            {
                return new Request(method, "", null, 400, "a header line is not NAME: VALUE");
            }

            if (line.AsSpan(0, colon).Equals("Range", StringComparison.OrdinalIgnoreCase))
            {
                if (range is not null)
                {
                    return new Request(method, "", null, 400, "more than one Range header");
                }

                range = line[(colon + 1)..].Trim(' ', '\t');
            }
        }

        if (method is not ("GET" or "HEAD"))
        {
            return new Request(method, "", null, 405, "GET and HEAD only");
        }

        return new Request(method, parts[1], range, 0, null);
    }

    /// <summary>The file a request target names under the root, or the status that refuses it and why.</summary>
    private (string? Path, int Status, string? Why) Resolve(string target)
    {
        if (target[0] != '/')
        {
            return (null, 400, "the target is not an absolute path");
        }

        int cut = target.AsSpan().IndexOfAny('?', '#');
        string decoded = PercentDecode(cut >= 0 ? target[..cut] : target) ?? "";
        if (decoded.Length == 0 || decoded.Any(c => char.IsControl(c) || c == '\\'))
        {
            return (null, 400, "the path is not valid percent-encoded UTF-8, or holds control characters or '\\'");
        }

        string[] segments = decoded[1..].Split('/');
        if (segments.Any(s => s is "." or ".."))
        {
            return (null, 400, "path traversal refused");
        }

        // Directories are not listed; hidden files (".git", ".env") are not package files, and a signing key kept
        // next to the packages (kairoctl keygen writes NAME.key) must never leave the machine.
        if (segments.Any(s => s.Length == 0 || s[0] == '.') || segments[^1].EndsWith(".key", StringComparison.OrdinalIgnoreCase))
        {
            return (null, 404, null);
        }

        string current = RootDirectory;
        for (int i = 0; i < segments.Length; i++)
        {
            current = Path.Combine(current, segments[i]);
            FileSystemInfo info = i < segments.Length - 1 ? new DirectoryInfo(current) : new FileInfo(current);
            if (!info.Exists || info.LinkTarget is not null)
            {
                return (null, 404, null); // a link could lead out of the root
            }
        }

        string full = Path.GetFullPath(current);
        return full.StartsWith(RootDirectory + Path.DirectorySeparatorChar, StringComparison.Ordinal) ? (full, 200, null) : (null, 400, "path traversal refused");
    }

    private async Task<(int Status, long Sent, bool Aborted)> SendFileAsync(NetworkStream network, string path, Request request)
    {
        bool isHead = request.Method == "HEAD";
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or FileNotFoundException or DirectoryNotFoundException)
        {
            await RespondAsync(network, 404, null, isHead).ConfigureAwait(false);
            return (404, 0, false);
        }

        using var owned = file;
        long length = file.Length;

        // Range is defined for GET only; HEAD reports the whole file.
        ByteRange range = new(0, length);
        ByteRange.Outcome outcome = isHead ? ByteRange.Outcome.Whole : ByteRange.Parse(request.Range, length, out range);
        if (outcome == ByteRange.Outcome.Unsatisfiable)
        {
            await RespondAsync(network, 416, null, isHead, $"Content-Range: bytes */{length}\r\n").ConfigureAwait(false);
            return (416, 0, false);
        }

        if (outcome == ByteRange.Outcome.Whole)
        {
            range = new ByteRange(0, length);
        }

        int status = outcome == ByteRange.Outcome.Partial ? 206 : 200;
        var headers = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {status} {Reason(status)}\r\n")
            .Append(CultureInfo.InvariantCulture, $"Date: {DateTime.UtcNow:R}\r\n")
            .Append(CultureInfo.InvariantCulture, $"Last-Modified: {File.GetLastWriteTimeUtc(path):R}\r\n")
            .Append("Accept-Ranges: bytes\r\n")
            .Append(CultureInfo.InvariantCulture, $"Content-Type: {ContentType(path)}\r\n")
            .Append(CultureInfo.InvariantCulture, $"Content-Length: {range.Length}\r\n");
        if (status == 206)
        {
            headers.Append(CultureInfo.InvariantCulture, $"Content-Range: bytes {range.Start}-{range.End}/{length}\r\n");
        }

        headers.Append("Connection: close\r\n\r\n");
        await WriteAsync(network, Encoding.ASCII.GetBytes(headers.ToString())).ConfigureAwait(false);
        if (isHead || range.Length == 0)
        {
            return (status, 0, false);
        }

        file.Seek(range.Start, SeekOrigin.Begin);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BodyChunkBytes);
        long sent = 0;
        try
        {
            while (sent < range.Length)
            {
                int read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(BodyChunkBytes, range.Length - sent)), _stop.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    // The file shrank under us: the promised length cannot be kept, so the client must see a cut connection.
                    return (status, sent, true);
                }

                await WriteAsync(network, buffer.AsMemory(0, read)).ConfigureAwait(false);
                sent += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return (status, sent, false);
    }

    private async Task RespondAsync(NetworkStream network, int status, string? problem, bool isHead, string extraHeaders = "")
    {
        byte[] body = Encoding.UTF8.GetBytes($"{status} {Reason(status)}{(problem is null ? "" : ": " + problem)}\n");
        string head = string.Create(CultureInfo.InvariantCulture,
            $"HTTP/1.1 {status} {Reason(status)}\r\nDate: {DateTime.UtcNow:R}\r\n{(status == 405 ? "Allow: GET, HEAD\r\n" : "")}{extraHeaders}" +
            $"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        await WriteAsync(network, Encoding.ASCII.GetBytes(head)).ConfigureAwait(false);
        if (!isHead)
        {
            await WriteAsync(network, body).ConfigureAwait(false);
        }
    }

    private async Task WriteAsync(NetworkStream network, ReadOnlyMemory<byte> bytes)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(WriteTimeout);
        await network.WriteAsync(bytes, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Ends the send side first and reads what the client still sends for a moment: closing a socket with unread
    /// input resets it, and a reset can destroy the end of a response the client has not read yet.
    /// </summary>
    private static async Task CloseGracefullyAsync(TcpClient client, NetworkStream network)
    {
        try
        {
            client.Client.Shutdown(SocketShutdown.Send);
            using var linger = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            byte[] drain = new byte[4096];
            for (int total = 0; total < 64 << 10;)
            {
                int read = await network.ReadAsync(drain, linger.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // The client is gone (a reset mid-body included): nothing is left to drain.
        }
    }

    /// <summary>Decodes %XX escapes of an ASCII path into UTF-8 text; null for a bad escape, a non-ASCII byte or invalid UTF-8.</summary>
    private static string? PercentDecode(string path)
    {
        var bytes = new List<byte>(path.Length);
        for (int i = 0; i < path.Length; i++)
        {
            char c = path[i];
            if (c > 0x7E || c < 0x21)
            {
                return null;
            }

            if (c != '%')
            {
                bytes.Add((byte)c);
                continue;
            }

            if (i + 2 >= path.Length || !byte.TryParse(path.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte value))
            {
                return null;
            }

            bytes.Add(value);
            i += 2;
        }

        try
        {
            return s_strictUtf8.GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private static string ContentType(string path) =>
        path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? "application/json" : "application/octet-stream";

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        206 => "Partial Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    };

    /// <summary>The request line as it may appear in a log: control characters escaped, at most 200 characters.</summary>
    private static string Printable(string text)
    {
        var printable = new StringBuilder(Math.Min(text.Length, 200));
        foreach (char c in text.Length > 200 ? text[..200] : text)
        {
            printable.Append(c is < ' ' or '\x7f' or '"' ? $"\\x{(int)c:x2}" : c);
        }

        return printable.Append(text.Length > 200 ? "..." : "").ToString();
    }
}
