using System.Globalization;
using Kairo.Updates.Packages;
using Kairo.Updates.Signing;

namespace Kairo.Updates.Device;

/// <summary>How a device fetches a package archive.</summary>
public sealed record DownloadOptions
{
    /// <summary>Attempts before the download fails; each resumes where the last one stopped.</summary>
    public int Attempts { get; init; } = 5;

    /// <summary>The pause before the second attempt; it doubles for each later one, up to 30 s.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>An attempt that moves fewer bytes than this per second, averaged over <see cref="ThroughputWindow"/>, is abandoned.</summary>
    public long MinBytesPerSecond { get; init; } = 1024;

    public TimeSpan ThroughputWindow { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long connecting and the response head may take.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Free bytes left on the state directory's file system after the archive and its staged copy.</summary>
    public long ReserveBytes { get; init; } = 16L << 20;

    /// <summary>A PEM file of CA certificates trusted for https:// instead of the system's; null: the system's.</summary>
    public string? CaFile { get; init; }
}

/// <summary>How far a download is: bytes in the part file, and the signed length once the manifest is known.</summary>
public readonly record struct DownloadProgress(long Bytes, long? Total);

/// <summary>
/// Fetches a package archive (<c>.kpkg</c>) over HTTP(S) into a part file that survives restarts: an interrupted
/// transfer resumes with <c>Range</c>. The archive starts with manifest.json and signatures.json; as soon as both
/// are in, <c>authorize</c> judges them (signatures, expiry, version, board) before a byte of the model is fetched,
/// and the signed manifest caps the length: a server that sends more fails with <see cref="UpdateFailure.FileLength"/>.
/// An attempt below the minimum throughput for a whole window is abandoned and retried; free space is checked before
/// any byte is written.
/// </summary>
public sealed partial class PackageDownloader
{
    /// <summary>The longest pause between attempts, however often the delay doubled.</summary>
    internal static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    private readonly DownloadOptions _options;
    private readonly HttpClient _client;

    /// <param name="options">Attempts, timeouts, throughput floor, reserve and the CA file.</param>
    /// <param name="handler">The HTTP stack to use instead of the downloader's own (which honours <see cref="DownloadOptions.CaFile"/>); the caller keeps owning it.</param>
    public PackageDownloader(DownloadOptions options, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        if (handler is not null && options.CaFile is not null)
        {
            throw new ArgumentException(
                $"DownloadOptions.CaFile ('{options.CaFile}') applies to the downloader's own HTTP handler; with a handler of your own, configure its TLS trust there instead",
                nameof(handler));
        }

        _options = options;

        // One client for the downloader's life: it pools connections and, with CaFile, holds the parsed authorities.
        _client = new HttpClient(handler ?? CreateHandler(options), disposeHandler: handler is null)
        {
            // Each attempt bounds its own head (ConnectTimeout) and body (the throughput floor); HttpClient's single
            // overall timeout would cut a slow but steady transfer of a large model.
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>
    /// Downloads <paramref name="url"/> into <paramref name="partPath"/>, resuming when the file exists. Returns the
    /// verified manifest <paramref name="authorize"/> returned, once the whole archive is in the file.
    /// </summary>
    /// <remarks>
    /// The part file is deleted when the package is refused (authorize threw, the archive is malformed, or it is longer
    /// than its signed manifest allows): those bytes can never become an installable package. It is kept, for the next
    /// call to resume, when the transfer failed, stalled, ran out of space or was cancelled.
    /// </remarks>
    /// <param name="authorize">Given manifest.json's exact bytes and signatures.json's (null when absent): returns the trusted
    /// manifest or throws <see cref="UpdateException"/> to refuse the package.</param>
    /// <exception cref="UpdateException">download_failed, download_stalled, no_space, file_length, package_invalid, or what authorize threw.</exception>
    public async Task<PackageManifest> DownloadAsync(
        Uri url,
        string partPath,
        Func<byte[], byte[]?, PackageManifest> authorize,
        IProgress<DownloadProgress>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentException.ThrowIfNullOrEmpty(partPath);
        ArgumentNullException.ThrowIfNull(authorize);
        if (!url.IsAbsoluteUri || url.Scheme is not ("http" or "https"))
        {
            throw new UpdateException(UpdateFailure.DownloadFailed,
                $"the package URL '{url}' is not an http:// or https:// URL; give the URL a package server (e.g. kairoctl serve) answers, like http://updates.local:8780/pilotnet-v3.kpkg");
        }

        cancellationToken.ThrowIfCancellationRequested();
        using var download = new Download(this, url, Path.GetFullPath(partPath), authorize, progress);
        download.Resume();

        TimeSpan delay = _options.RetryDelay < MaxRetryDelay ? _options.RetryDelay : MaxRetryDelay;
        Interruption? last = null;
        for (int attempt = 1; attempt <= _options.Attempts; attempt++)
        {
            if (last is { RetryAtOnce: false })
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = delay > MaxRetryDelay / 2 ? MaxRetryDelay : delay * 2;
            }

            cancellationToken.ThrowIfCancellationRequested();
            last = await download.AttemptAsync(cancellationToken).ConfigureAwait(false);
            if (last is null)
            {
                return download.Finish();
            }

            if (last.Untrusted)
            {
                break;
            }
        }

        throw download.GaveUp(last!);
    }

    /// <summary>
    /// The most bytes a <see cref="PackageArchive"/> of this manifest may have: its entries, their padding, the end
    /// blocks, rounded up to a tar record (10240 bytes, so that the same package packed by GNU tar fits too).
    /// </summary>
    /// <param name="manifest">The signed manifest; its files and their lengths decide the archive's entries.</param>
    /// <param name="manifestLength">manifest.json's length in bytes: the manifest it parses to does not know how its
    /// bytes were laid out, and those bytes are signed as they are.</param>
    /// <param name="signaturesLength">signatures.json's length in bytes, or null when the archive has none.</param>
    public static long SignedArchiveLength(PackageManifest manifest, long manifestLength, long? signaturesLength)
    {
        long exact = ExactArchiveLength(manifest, manifestLength, signaturesLength);
        return checked((exact + TarRecord - 1) / TarRecord * TarRecord);
    }

    /// <summary>The exact length of what <see cref="PackageArchive.Write"/> makes of this manifest (before rounding to a record).</summary>
    internal static long ExactArchiveLength(PackageManifest manifest, long manifestLength, long? signaturesLength)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentOutOfRangeException.ThrowIfNegative(manifestLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(manifestLength, PackageManifest.MaxBytes);
        if (signaturesLength is < 0 or > PackageSignatures.MaxBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(signaturesLength), signaturesLength, $"signatures.json holds 0 to {PackageSignatures.MaxBytes} bytes");
        }

        try
        {
            checked
            {
                long length = Entry(manifestLength);
                if (signaturesLength is { } signatures)
                {
                    length += Entry(signatures);
                }

                // PackageArchive.Write puts each parent directory in once, before the first file under it.
                var directories = new HashSet<string>(StringComparer.Ordinal);
                foreach (PackageFile file in manifest.Files)
                {
                    for (int slash = file.Path.IndexOf('/'); slash >= 0; slash = file.Path.IndexOf('/', slash + 1))
                    {
                        if (directories.Add(file.Path[..(slash + 1)]))
                        {
                            length += TarBlock;
                        }
                    }

                    length += Entry(file.Length);
                }

                return length + TarEndBlocks;
            }
        }
        catch (OverflowException ex)
        {
            throw new UpdateException(UpdateFailure.ManifestInvalid,
                "manifest.json: the files' \"length\" values add up to more bytes than an archive can hold; the manifest was not made by kairoctl pack", ex);
        }

        static long Entry(long dataLength) => checked(TarBlock + ((dataLength + TarBlock - 1) / TarBlock * TarBlock));
    }

    private static void Validate(DownloadOptions options)
    {
        if (options.Attempts < 1)
        {
            throw Option(nameof(DownloadOptions.Attempts), options.Attempts, "at least 1");
        }

        if (options.RetryDelay < TimeSpan.Zero)
        {
            throw Option(nameof(DownloadOptions.RetryDelay), options.RetryDelay, "zero or more, e.g. 00:00:01");
        }

        if (options.MinBytesPerSecond < 0)
        {
            throw Option(nameof(DownloadOptions.MinBytesPerSecond), options.MinBytesPerSecond, "zero (no floor) or more, e.g. 1024");
        }

        if (options.ThroughputWindow <= TimeSpan.Zero || options.ThroughputWindow > TimeSpan.FromDays(1))
        {
            throw Option(nameof(DownloadOptions.ThroughputWindow), options.ThroughputWindow, "more than zero and at most a day, e.g. 00:00:30");
        }

        if (options.ConnectTimeout <= TimeSpan.Zero || options.ConnectTimeout > TimeSpan.FromDays(1))
        {
            throw Option(nameof(DownloadOptions.ConnectTimeout), options.ConnectTimeout, "more than zero and at most a day, e.g. 00:00:15");
        }

        if (options.ReserveBytes < 0)
        {
            throw Option(nameof(DownloadOptions.ReserveBytes), options.ReserveBytes, "zero or more bytes");
        }

        static ArgumentOutOfRangeException Option(string name, object value, string expected) =>
            new($"DownloadOptions.{name}", value, string.Create(CultureInfo.InvariantCulture, $"DownloadOptions.{name} is {value}; it must be {expected}"));
    }

    /// <summary>Why an attempt ended short of the whole archive, when another attempt may do better.</summary>
    /// <param name="Reason">What went wrong, for the final error: the HTTP status, socket error or timeout.</param>
    /// <param name="Stalled">The transfer fell under the throughput floor for a whole window.</param>
    /// <param name="RetryAtOnce">The part file was emptied because the server holds another file; start over without waiting.</param>
    /// <param name="Untrusted">The server's TLS certificate was refused: no other attempt is made.</param>
    private sealed record Interruption(string Reason, bool Stalled = false, bool RetryAtOnce = false, bool Untrusted = false);
}
