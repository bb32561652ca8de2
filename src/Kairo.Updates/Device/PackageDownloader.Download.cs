using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Kairo.Updates.Packages;

namespace Kairo.Updates.Device;

// One call of DownloadAsync: the part file, the archive's head, the authorized manifest and its cap, the attempts.
public sealed partial class PackageDownloader
{
    /// <summary>The most read from the network at once.</summary>
    private const int ChunkBytes = 64 << 10;

    /// <summary>Progress is reported at most this often (and once more at the end).</summary>
    private static readonly TimeSpan s_progressInterval = TimeSpan.FromMilliseconds(100);

    private sealed class Download(PackageDownloader owner, Uri url, string partPath, Func<byte[], byte[]?, PackageManifest> authorize, IProgress<DownloadProgress>? progress)
        : IDisposable
    {
        private readonly DownloadOptions _options = owner._options;
        private readonly PartFile _part = new(partPath);
        private ArchiveHead _head = new(url.ToString());

        /// <summary>The manifest authorize returned for the head now in the part file; null until then.</summary>
        private PackageManifest? _manifest;

        /// <summary>The last head authorize judged and what it returned: a server that starts over sends the same head, judged once.</summary>
        private (byte[] Manifest, byte[]? Signatures, PackageManifest Trusted)? _judged;

        /// <summary>The most bytes the part file may hold: the head's bound until the manifest is authorized, then its signed length.</summary>
        private long _cap = HeadLimit;

        /// <summary>The archive's length as the current response announced it (Content-Length or Content-Range); null when it did not.</summary>
        private long? _total;

        private long _lastReport;

        /// <summary>Picks up an earlier attempt's part file: its head is judged before anything is requested.</summary>
        public void Resume()
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_part.Path)!);
            if (_part.Length == 0)
            {
                return;
            }

            Observe(_part.ReadStart(HeadLimit));
            if (_part.Length > _cap)
            {
                throw TooLong(string.Create(CultureInfo.InvariantCulture, $"the part file {_part.Path} already holds {_part.Length} bytes"));
            }

            Report(force: true);
        }

        /// <summary>One request; null once the whole archive is in the part file, else why another attempt may help.</summary>
        public async Task<Interruption?> AttemptAsync(CancellationToken cancellationToken)
        {
            long offset = _part.Length;
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (offset > 0)
            {
                request.Headers.Range = new RangeHeaderValue(offset, null);
            }

            attempt.CancelAfter(_options.ConnectTimeout);
            HttpResponseMessage response;
            try
            {
                response = await owner._client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attempt.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return NoResponseHead();
            }
            catch (HttpRequestException ex) when (IsCertificateRefused(ex))
            {
                return new Interruption(Describe(ex), Untrusted: true);
            }
            catch (HttpRequestException ex)
            {
                return new Interruption(Describe(ex));
            }

            using (response)
            {
                attempt.CancelAfter(Timeout.InfiniteTimeSpan);
                if (attempt.IsCancellationRequested)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    return NoResponseHead(); // the head came just as the timeout fired
                }

                if (Start(response, offset) is { } refused)
                {
                    return refused;
                }

                if (_total is { } known && _part.Length >= known)
                {
                    return Completed();
                }

                return await ReceiveAsync(response, attempt, cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>The whole archive is in: flushes it to disk and reports the end.</summary>
        public PackageManifest Finish()
        {
            _part.FlushToDisk();
            progress?.Report(new DownloadProgress(_part.Length, _part.Length));
            return _manifest!;
        }

        /// <summary>The error after the last attempt: stalled when the last one stalled, else failed with its reason.</summary>
        public UpdateException GaveUp(Interruption last)
        {
            string kept = string.Create(CultureInfo.InvariantCulture,
                $"{_part.Length} bytes had arrived");
            if (last.Untrusted)
            {
                return new UpdateException(UpdateFailure.DownloadFailed, string.Create(CultureInfo.InvariantCulture,
                    $"{url}: the server's TLS certificate was not accepted ({last.Reason}); not retried, since another attempt would meet the same certificate; {kept}. Give the device the CA that issued it (updates.download.caFile in the profile), or check that the URL names the host the certificate was issued for"));
            }

            return last.Stalled
                ? new UpdateException(UpdateFailure.DownloadStalled, string.Create(CultureInfo.InvariantCulture,
                    $"{url}: the transfer moved fewer than {_options.MinBytesPerSecond} bytes/s over a whole {_options.ThroughputWindow.TotalSeconds:0.###} s window in the last of {_options.Attempts} attempts; {kept}. Check the device's network, or for a slow link lower DownloadOptions.MinBytesPerSecond or widen ThroughputWindow"))
                : new UpdateException(UpdateFailure.DownloadFailed, string.Create(CultureInfo.InvariantCulture,
                    $"{url}: the download failed in each of {_options.Attempts} attempts, the last with {last.Reason}; {kept}. Check that the server is up and reachable from the device"));
        }

        public void Dispose() => _part.Dispose();

        /// <summary>Reads the response's status and headers into where the body starts and how long the archive is.</summary>
        private Interruption? Start(HttpResponseMessage response, long offset)
        {
            int status = (int)response.StatusCode;
            long? contentLength = response.Content.Headers.ContentLength;
            ContentRangeHeaderValue? range = response.Content.Headers.ContentRange;
            long start;
            switch (status)
            {
                case 200:
                    start = 0;
                    _total = contentLength;
                    break;

                case 206:
                    if (range is not { HasRange: true, From: { } from } || from != offset || !string.Equals(range.Unit, "bytes", StringComparison.OrdinalIgnoreCase))
                    {
                        StartOver();
                        return new Interruption($"HTTP 206 with Content-Range '{range}' to 'Range: bytes={offset}-' (the part file was emptied)", RetryAtOnce: true);
                    }

                    start = offset;
                    _total = range.Length ?? offset + contentLength;
                    break;

                case 416:
                    if (offset > 0 && range?.Length == offset)
                    {
                        _total = offset; // the part file holds the server's whole file
                        return null;
                    }

                    StartOver();
                    return new Interruption(string.Create(CultureInfo.InvariantCulture,
                        $"HTTP 416: the server's file is {(range?.Length is { } length ? $"{length} bytes" : "of unknown length")}, not the {offset} bytes in the part file (the part file was emptied)"), RetryAtOnce: true);

                case 408 or 429 or >= 500:
                    return new Interruption($"HTTP {status} {response.ReasonPhrase}");

                default:
                    throw Refused(status, response.ReasonPhrase);
            }

            if (start == 0 && _part.Length > 0)
            {
                StartOver(); // the server ignored Range and sends the archive from its first byte
            }

            if (_manifest is not null && _total > _cap)
            {
                throw TooLong(string.Create(CultureInfo.InvariantCulture, $"the server announced {_total} bytes"));
            }

            CheckSpace();
            return null;
        }

        /// <summary>Reads the body into the part file until the archive is whole, the connection fails or the transfer stalls.</summary>
        private async Task<Interruption?> ReceiveAsync(HttpResponseMessage response, CancellationTokenSource attempt, CancellationToken cancellationToken)
        {
            ThroughputWatch watch = ThroughputWatch.Start(_options, attempt);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
            Stream? body = null;
            try
            {
                body = await response.Content.ReadAsStreamAsync(attempt.Token).ConfigureAwait(false);

                // With a known total nothing past it is read: a server that keeps the connection open after the body
                // must not hold the download, and the announced total was checked against the cap.
                while (_total is not { } total || _part.Length < total)
                {
                    int want = _total is { } t ? (int)Math.Min(ChunkBytes, t - _part.Length) : ChunkBytes;
                    int read;
                    try
                    {
                        read = await body.ReadAsync(buffer.AsMemory(0, want), attempt.Token).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException or ObjectDisposedException)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        return watch.Stalled ? new Interruption("a stall", Stalled: true) : new Interruption(Describe(ex));
                    }

                    if (read == 0)
                    {
                        if (_total is { } expected)
                        {
                            return new Interruption(string.Create(CultureInfo.InvariantCulture, $"the connection closed after {_part.Length} of {expected} bytes"));
                        }

                        break; // no length announced: the end of the stream is the end of the archive
                    }

                    watch.Moved(read);
                    Accept(buffer.AsSpan(0, read));
                }

                return Completed();
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                return watch.Stalled ? new Interruption("a stall", Stalled: true) : new Interruption(Describe(ex));
            }
            finally
            {
                await attempt.CancelAsync().ConfigureAwait(false);
                await watch.StopAsync().ConfigureAwait(false);
                ArrayPool<byte>.Shared.Return(buffer);
                if (body is not null)
                {
                    await body.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

        /// <summary>The next bytes of the archive: judged while they are the head, held to the cap, then written.</summary>
        private void Accept(ReadOnlySpan<byte> bytes)
        {
            if (_manifest is null)
            {
                Observe(bytes);
            }

            if (_part.Length + bytes.Length > _cap)
            {
                throw TooLong(string.Create(CultureInfo.InvariantCulture, $"the server sent more than {_cap - _part.Length} bytes past the {_part.Length} in the part file"));
            }

            _part.Write(bytes);
            Report(force: false);
        }

        /// <summary>Feeds the head; once manifest.json and signatures.json are in, has them authorized and sets the cap.</summary>
        private void Observe(ReadOnlySpan<byte> bytes)
        {
            try
            {
                _head.Feed(bytes);
            }
            catch (UpdateException)
            {
                _part.Delete(); // a malformed head can never become a package
                throw;
            }

            if (!_head.IsComplete)
            {
                return;
            }

            byte[] manifestBytes = _head.Manifest!;
            byte[]? signatureBytes = _head.Signatures;
            PackageManifest manifest;
            try
            {
                if (_judged is { } judged && judged.Manifest.AsSpan().SequenceEqual(manifestBytes)
                    && (judged.Signatures is null ? signatureBytes is null : signatureBytes is not null && judged.Signatures.AsSpan().SequenceEqual(signatureBytes)))
                {
                    manifest = judged.Trusted;
                }
                else
                {
                    manifest = authorize(manifestBytes, signatureBytes)
                        ?? throw new InvalidOperationException("authorize returned null; it returns the trusted manifest or throws UpdateException");
                    _judged = (manifestBytes, signatureBytes, manifest);
                }

                _cap = SignedArchiveLength(manifest, manifestBytes.Length, signatureBytes?.Length);
            }
            catch (UpdateException)
            {
                _part.Delete(); // a refused package's bytes can never be installed
                throw;
            }

            _manifest = manifest;
            if (_total > _cap)
            {
                throw TooLong(string.Create(CultureInfo.InvariantCulture, $"the server announced {_total} bytes"));
            }

            CheckSpace();
        }

        /// <summary>Room for what is still to come, the staged copy of the manifest's files and the reserve.</summary>
        private void CheckSpace()
        {
            long remaining = _total is { } total ? total - _part.Length : _manifest is not null ? _cap - _part.Length : 0;
            _part.CheckSpace(remaining, _manifest?.TotalLength ?? 0, _options.ReserveBytes);
        }

        /// <summary>Empties the part file and forgets its head: the server sends another file, or from the start.</summary>
        private void StartOver()
        {
            _part.Truncate();
            _head = new ArchiveHead(url.ToString());
            _manifest = null;
            _cap = HeadLimit;
        }

        /// <summary>The end of the archive: it must at least have held a head that was authorized.</summary>
        private Interruption? Completed()
        {
            if (_manifest is null)
            {
                _part.Delete();
                throw new UpdateException(UpdateFailure.PackageInvalid, string.Create(CultureInfo.InvariantCulture,
                    $"{url}: the archive ends after {_part.Length} bytes, before manifest.json and signatures.json are complete; the URL must name a whole package archive (.kpkg)"));
            }

            return null;
        }

        private void Report(bool force)
        {
            if (progress is null)
            {
                return;
            }

            long now = Stopwatch.GetTimestamp();
            if (!force && _lastReport != 0 && Stopwatch.GetElapsedTime(_lastReport, now) < s_progressInterval)
            {
                return;
            }

            _lastReport = now;
            progress.Report(new DownloadProgress(_part.Length, _manifest is null ? null : _total ?? _cap));
        }

        private Interruption NoResponseHead() =>
            new(string.Create(CultureInfo.InvariantCulture, $"no response within {_options.ConnectTimeout.TotalSeconds:0.###} s (DownloadOptions.ConnectTimeout)"));

        private UpdateException TooLong(string detail)
        {
            _part.Delete();
            return new UpdateException(UpdateFailure.FileLength, string.Create(CultureInfo.InvariantCulture,
                $"{url}: the download is longer than the {_cap} bytes its signed manifest allows ({detail}); the server holds another or a damaged archive under this URL: publish the signed package's .kpkg there again"));
        }

        private UpdateException Refused(int status, string? reason)
        {
            string fix = status switch
            {
                404 or 410 => "the server has no file at this URL: check the URL and that the package was published there",
                401 or 403 => "the server refuses this device: check the URL and the server's access rules",
                _ => "check the URL and the server",
            };
            return new UpdateException(UpdateFailure.DownloadFailed, string.Create(CultureInfo.InvariantCulture,
                $"{url}: the server answered HTTP {status} {reason}; {fix}"));
        }

        /// <summary>An exception as a reason for the final error: its message and the socket error under it, if any.</summary>
        /// <summary>The TLS handshake ended because the server's certificate was refused, not because the connection broke.</summary>
        private static bool IsCertificateRefused(HttpRequestException ex)
        {
            for (Exception? inner = ex.InnerException; inner is not null; inner = inner.InnerException)
            {
                if (inner is System.Security.Authentication.AuthenticationException)
                {
                    return true;
                }
            }

            return false;
        }

        private static string Describe(Exception ex)
        {
            string text = ex.Message;
            for (Exception? inner = ex.InnerException; inner is not null; inner = inner.InnerException)
            {
                if (inner is SocketException socket)
                {
                    return $"{text} (socket error {socket.SocketErrorCode})";
                }

                if (!text.Contains(inner.Message, StringComparison.Ordinal))
                {
                    text = $"{text}: {inner.Message}";
                }
            }

            return text;
        }
    }
}
