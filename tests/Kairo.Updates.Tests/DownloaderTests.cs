using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Kairo.Updates.Device;
using Kairo.Updates.Http;
using Kairo.Updates.Packages;
using Kairo.Updates.Signing;

namespace Kairo.Updates.Tests;

/// <summary>
/// The package downloader against real servers on 127.0.0.1: the package server for the well-behaved case, scripted
/// servers for the ones that drop, stall, lie about lengths, ignore Range or never stop sending.
/// </summary>
public sealed class DownloaderTests : IClassFixture<DownloaderPackages>, IDisposable
{
    /// <summary>Every test ends well before this; it only keeps a broken downloader from hanging the run.</summary>
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(30);

    private readonly DownloaderPackages _packages;
    private readonly ScratchDirectory _scratch = new();

    public DownloaderTests(DownloaderPackages packages)
    {
        _packages = packages;
        PartPath = _scratch.Combine("state", "job-1.part");
    }

    private string PartPath { get; }

    /// <summary>
    /// Quick retries, so that the failure cases take well under a second. The throughput window stays long: on a busy
    /// machine a first authorize (crypto start-up) can take longer than a short window, and only the stall tests want one.
    /// </summary>
    private static DownloadOptions Fast => new()
    {
        Attempts = 3,
        RetryDelay = TimeSpan.FromMilliseconds(10),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    };

    /// <summary>A 300 ms window with the default floor of 1 KiB/s: a trickle of 100 bytes is a stall within a third of a second.</summary>
    private static DownloadOptions ShortWindow => Fast with { ThroughputWindow = TimeSpan.FromMilliseconds(300), MinBytesPerSecond = 1024 };

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task AWholeDownloadIsTheArchiveAndItsHeadIsAuthorizedOnce()
    {
        ServedArchive archive = _packages.Signed;
        var log = new PackageServerLog();
        await using RangeHttpServer server = RangeHttpServer.Start(_packages.Root, log: log.Add);
        var judge = new HeadJudge(threshold: 2);
        var progress = new DownloadProgressLog();
        var clock = Stopwatch.StartNew();

        PackageManifest manifest = await new PackageDownloader(Fast)
            .DownloadAsync(new Uri(server.BaseUri, archive.FileName), PartPath, judge.Authorize, progress, CancellationToken.None)
            .WaitAsync(s_bound);

        clock.Stop();
        Assert.Equal(archive.Bytes, File.ReadAllBytes(PartPath));
        Assert.Equal(archive.Manifest.Version, manifest.Version);
        (byte[] judgedManifest, byte[]? judgedSignatures) = Assert.Single(judge.Calls);
        Assert.Equal(archive.ManifestBytes, judgedManifest);
        Assert.Equal(archive.SignatureBytes, judgedSignatures);
        await server.StopAsync(); // it logs a request once done with it, which may be after the client is
        Assert.Equal("200", Assert.Single(log.Lines).Status);

        IReadOnlyList<DownloadProgress> reports = progress.Reports;
        Assert.Equal(new DownloadProgress(archive.Bytes.Length, archive.Bytes.Length), reports[^1]);
        Assert.True(reports.Count <= 2 + (clock.Elapsed.TotalSeconds * 10) + 1, $"{reports.Count} progress reports in {clock.Elapsed}; at most ~10 a second plus the end");
        Assert.All(reports.Zip(reports.Skip(1)), pair => Assert.True(pair.First.Bytes <= pair.Second.Bytes));
        Assert.All(reports, r => Assert.True(r.Total is null || r.Total <= archive.Cap));
    }

    [Fact]
    public async Task AnUnsignedArchiveIsAuthorizedWithoutSignatures()
    {
        ServedArchive archive = _packages.Unsigned;
        await using RangeHttpServer server = RangeHttpServer.Start(_packages.Root);
        var judge = new HeadJudge(threshold: 0);

        PackageManifest manifest = await new PackageDownloader(Fast)
            .DownloadAsync(new Uri(server.BaseUri, archive.FileName), PartPath, judge.Authorize, null, CancellationToken.None)
            .WaitAsync(s_bound);

        Assert.Null(archive.SignatureBytes);
        (byte[] judgedManifest, byte[]? judgedSignatures) = Assert.Single(judge.Calls);
        Assert.Equal(archive.ManifestBytes, judgedManifest);
        Assert.Null(judgedSignatures);
        Assert.Equal(archive.Bytes, File.ReadAllBytes(PartPath));
        Assert.Equal("scale_add", manifest.Model);
    }

    [Fact]
    public async Task ADroppedConnectionIsResumedWithRange()
    {
        ServedArchive archive = _packages.Signed;
        int half = archive.Bytes.Length / 2;
        await using var server = new ScriptedServer(exchange =>
            exchange.Request.Index == 0 ? exchange.ServeAsync(archive.Bytes, stopAfter: half) : exchange.ServeAsync(archive.Bytes));
        var judge = new HeadJudge(threshold: 2);

        await new PackageDownloader(Fast).DownloadAsync(server.Url(), PartPath, judge.Authorize, null, CancellationToken.None).WaitAsync(s_bound);

        Assert.Equal(archive.Bytes, File.ReadAllBytes(PartPath));
        IReadOnlyList<ScriptedRequest> requests = server.Requests;
        Assert.Equal(2, requests.Count);
        Assert.Null(requests[0].Range);
        Assert.Equal($"bytes={half}-", requests[1].Range);
        Assert.Single(judge.Calls);
    }

    [Theory]
    [InlineData(300)] // inside manifest.json's header: the head is read across the file and the network
    [InlineData(5000)] // past the head: it is judged before the first request
    [InlineData(-2)] // half the archive
    [InlineData(-1)] // all of it: the server answers 416 with the same length
    public async Task AnotherDownloaderResumesThePartFile(int kept)
    {
        ServedArchive archive = _packages.Signed;
        int length = kept switch { -1 => archive.Bytes.Length, -2 => archive.Bytes.Length / 2, _ => kept };
        Directory.CreateDirectory(Path.GetDirectoryName(PartPath)!);
        File.WriteAllBytes(PartPath, archive.Bytes[..length]);
        var log = new PackageServerLog();
        await using RangeHttpServer server = RangeHttpServer.Start(_packages.Root, log: log.Add);
        var judge = new HeadJudge(threshold: 2);

        await new PackageDownloader(Fast)
            .DownloadAsync(new Uri(server.BaseUri, archive.FileName), PartPath, judge.Authorize, null, CancellationToken.None)
            .WaitAsync(s_bound);

        Assert.Equal(archive.Bytes, File.ReadAllBytes(PartPath));
        await server.StopAsync();
        (string status, long sent) = Assert.Single(log.Lines);
        Assert.Equal(length == archive.Bytes.Length ? "416" : "206", status);
        Assert.Equal(archive.Bytes.Length - length, sent);
        (byte[] judgedManifest, byte[]? judgedSignatures) = Assert.Single(judge.Calls);
        Assert.Equal(archive.ManifestBytes, judgedManifest);
        Assert.Equal(archive.SignatureBytes, judgedSignatures);
    }

    [Fact]
    public async Task APartFileLongerThanTheServersFileStartsOver()
    {
        ServedArchive archive = _packages.Signed;
        int extra = (int)Math.Min(100, archive.Cap - archive.Bytes.Length);
        Assert.True(extra > 0, "the test needs an archive shorter than its cap");
        Directory.CreateDirectory(Path.GetDirectoryName(PartPath)!);
        File.WriteAllBytes(PartPath, [.. archive.Bytes, .. new byte[extra]]);
        var log = new PackageServerLog();
        await using RangeHttpServer server = RangeHttpServer.Start(_packages.Root, log: log.Add);

        await new PackageDownloader(Fast)
            .DownloadAsync(new Uri(server.BaseUri, archive.FileName), PartPath, new HeadJudge(threshold: 2).Authorize, null, CancellationToken.None)
            .WaitAsync(s_bound);

        Assert.Equal(archive.Bytes, File.ReadAllBytes(PartPath));
        await server.StopAsync();
        Assert.Equal(new[] { "416", "200" }, log.Lines.Select(l => l.Status));
    }

    [Fact]
    public async Task AServerThatIgnoresRangeIsReadFromByteZero()
    {
        ServedArchive archive = _packages.Signed;
        int kept = archive.Bytes.Length / 2;
        byte[] stale = archive.Bytes[..kept];
        stale[^1] ^= 0xFF; // were the part file appended to, this byte would survive into the result
        Directory.CreateDirectory(Path.GetDirectoryName(PartPath)!);
        File.WriteAllBytes(PartPath, stale);
        await using var server = new ScriptedServer(exchange => exchange.ServeAsync(archive.Bytes, ignoreRange: true));
        var judge = new HeadJudge(threshold: 2);

        await new PackageDownloader(Fast).DownloadAsync(server.Url(), PartPath, judge.Authorize, null, CancellationToken.None).WaitAsync(s_bound);

        Assert.Equal(archive.Bytes, File.ReadAllBytes(PartPath));
        Assert.Equal($"bytes={kept}-", Assert.Single(server.Requests).Range);
        Assert.Single(judge.Calls); // the same head again is not judged twice
    }

    [Fact]
    public async Task AServerThatSendsNoLengthIsReadToTheEndOfTheStream()
    {
        ServedArchive archive = _packages.Signed;
        await using var server = new ScriptedServer(async exchange =>
        {
            await exchange.HeadAsync(200);
            await exchange.BodyAsync(archive.Bytes);
        });

        await new PackageDownloader(Fast).DownloadAsync(server.Url(), PartPath, new HeadJudge(threshold: 2).Authorize, null, CancellationToken.None).WaitAsync(s_bound);

        Assert.Equal(archive.Bytes, File.ReadAllBytes(PartPath));
        Assert.Single(server.Requests);
    }

    [Theory]
    [InlineData("Attempts")]
    [InlineData("ThroughputWindow")]
    [InlineData("ReserveBytes")]
    public void AnOptionOutOfRangeNamesItself(string option)
    {
        DownloadOptions options = option switch
        {
            "Attempts" => new DownloadOptions { Attempts = 0 },
            "ThroughputWindow" => new DownloadOptions { ThroughputWindow = TimeSpan.Zero },
            _ => new DownloadOptions { ReserveBytes = -1 },
        };

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new PackageDownloader(options));

        Assert.Contains($"DownloadOptions.{option} is", ex.Message);
    }

    [Fact]
    public async Task EndlessDataIsFileLengthWithinTheCap()
    {
        ServedArchive archive = _packages.Signed;
        var sending = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new ScriptedServer(async exchange =>
        {
            try
            {
                // No Content-Length: the body runs until the connection closes, and this one never stops by itself.
                await exchange.HeadAsync(200);
                await exchange.BodyAsync(archive.Bytes);
                byte[] zeros = new byte[64 << 10];
                for (int i = 0; i < 4096; i++)
                {
                    await exchange.BodyAsync(zeros);
                }
            }
            finally
            {
                sending.TrySetResult();
            }
        });
        var progress = new DownloadProgressLog();

        var ex = await Assert.ThrowsAsync<UpdateException>(() =>
            new PackageDownloader(Fast).DownloadAsync(server.Url(), PartPath, new HeadJudge(threshold: 2).Authorize, progress, CancellationToken.None).WaitAsync(s_bound));

        Assert.Equal(UpdateFailure.FileLength, ex.Failure);
        Assert.Contains($"longer than the {archive.Cap} bytes its signed manifest allows", ex.Message);
        Assert.False(File.Exists(PartPath));
        Assert.All(progress.Reports, r => Assert.True(r.Bytes <= archive.Cap));
        Assert.Single(server.Requests); // not retried

        // The server stops only because the downloader hung up; what it managed to send is the cap plus socket buffers.
        await sending.Task.WaitAsync(s_bound);
        Assert.True(server.BodyBytes < archive.Cap + (64L << 20), $"the server sent {server.BodyBytes} bytes");
    }

    [Fact]
    public async Task AContentLengthAboveTheCapIsFileLength()
    {
        ServedArchive archive = _packages.Signed;
        long announced = archive.Cap + 1;
        await using var server = new ScriptedServer(async exchange =>
        {
            await exchange.HeadAsync(200, $"Content-Length: {announced}");
            await exchange.BodyAsync(archive.Bytes);
            await exchange.BodyAsync(new byte[announced - archive.Bytes.Length]);
        });

        var ex = await Assert.ThrowsAsync<UpdateException>(() =>
            new PackageDownloader(Fast).DownloadAsync(server.Url(), PartPath, new HeadJudge(threshold: 2).Authorize, null, CancellationToken.None).WaitAsync(s_bound));

        Assert.Equal(UpdateFailure.FileLength, ex.Failure);
        Assert.Contains($"announced {announced} bytes", ex.Message);
        Assert.False(File.Exists(PartPath));
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task ARefusedHeadEndsTheTransferBeforeTheModel()
    {
        ServedArchive archive = _packages.Tampered;
        const int FirstChunk = 16 << 10;
        Assert.True(archive.Bytes.Length > 50 * FirstChunk, "the model must dwarf the first chunk");
        bool? hungUp = null;
        await using var server = new ScriptedServer(async exchange =>
        {
            try
            {
                await exchange.HeadAsync(200, $"Content-Length: {archive.Bytes.Length}");
                await exchange.BodyAsync(archive.Bytes.AsMemory(0, FirstChunk));
                hungUp = await exchange.WaitForCloseAsync(TimeSpan.FromSeconds(10));
            }
            catch (IOException)
            {
                hungUp = true; // the downloader hung up while the first chunk was still on its way
            }

            if (hungUp == false)
            {
                await exchange.BodyAsync(archive.Bytes.AsMemory(FirstChunk));
            }
        });
        var judge = new HeadJudge(threshold: 2);

        var ex = await Assert.ThrowsAsync<UpdateException>(() =>
            new PackageDownloader(Fast).DownloadAsync(server.Url(), PartPath, judge.Authorize, null, CancellationToken.None).WaitAsync(s_bound));

        Assert.Same(judge.Thrown, ex);
        Assert.Equal(UpdateFailure.SignatureInvalid, ex.Failure);
        await server.DisposeAsync(); // waits for the script
        Assert.True(hungUp);
        Assert.True(server.BodyBytes <= FirstChunk, $"the server sent {server.BodyBytes} bytes");
        Assert.Single(server.Requests);
        Assert.Single(judge.Calls);
        Assert.False(File.Exists(PartPath));
    }

    [Fact]
    public async Task ARefusedHeadInThePartFileIsDeletedBeforeAnyRequest()
    {
        ServedArchive archive = _packages.Tampered;
        Directory.CreateDirectory(Path.GetDirectoryName(PartPath)!);
        File.WriteAllBytes(PartPath, archive.Bytes[..5000]);
        await using var server = new ScriptedServer(exchange => exchange.ServeAsync(archive.Bytes));
        var judge = new HeadJudge(threshold: 2);

        var ex = await Assert.ThrowsAsync<UpdateException>(() =>
            new PackageDownloader(Fast).DownloadAsync(server.Url(), PartPath, judge.Authorize, null, CancellationToken.None).WaitAsync(s_bound));

        Assert.Same(judge.Thrown, ex);
        Assert.False(File.Exists(PartPath));
        Assert.Equal(0, server.Connections);
    }

    [Fact]
    public async Task AStalledTransferIsRetriedWithRangeThenDownloadStalled()
    {
        ServedArchive archive = _packages.Signed;
        const int Trickle = 100;
        await using var server = new ScriptedServer(async exchange =>
        {
            await exchange.ServeAsync(archive.Bytes, stopAfter: Trickle, hold: true);
        });
        var clock = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<UpdateException>(() =>
            new PackageDownloader(ShortWindow with { Attempts = 2 }).DownloadAsync(server.Url(), PartPath, new HeadJudge(threshold: 2).Authorize, null, CancellationToken.None).WaitAsync(s_bound));

        Assert.Equal(UpdateFailure.DownloadStalled, ex.Failure);
        Assert.Contains("MinBytesPerSecond", ex.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"two 300 ms windows took {clock.Elapsed}");
        IReadOnlyList<ScriptedRequest> requests = server.Requests;
        Assert.Equal(2, requests.Count);
        Assert.Equal($"bytes={Trickle}-", requests[1].Range);
        Assert.Equal(archive.Bytes[..(2 * Trickle)], File.ReadAllBytes(PartPath)); // kept for the next try
    }

    [Fact]
    public async Task AServerThatNeverAnswersFailsAfterTheConnectTimeout()
    {
        await using var server = new ScriptedServer(exchange => exchange.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
        var clock = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<UpdateException>(() =>
            new PackageDownloader(Fast with { Attempts = 2, ConnectTimeout = TimeSpan.FromMilliseconds(500) })
                .DownloadAsync(server.Url(), PartPath, new HeadJudge(threshold: 2).Authorize, null, CancellationToken.None).WaitAsync(s_bound));

        clock.Stop();
        Assert.Equal(UpdateFailure.DownloadFailed, ex.Failure);
        Assert.Contains("no response within 0.5 s (DownloadOptions.ConnectTimeout)", ex.Message);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.95), $"two attempts of 0.5 s each ended after {clock.Elapsed}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"two attempts of 0.5 s each took {clock.Elapsed}");

        // Connections, not request heads, and not an exact count: on a busy machine an attempt can time out while its
        // connection is still being set up, and that connection may reach the server late or never.
        Assert.True(await server.CountConnectionsAsync(1, s_bound) >= 1);
        Assert.InRange(server.Connections, 1, 2);
    }

    [Fact]
    public async Task ARefusedConnectionNamesTheSocketError()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var ex = await Assert.ThrowsAsync<UpdateException>(() =>
            new PackageDownloader(Fast with { Attempts = 2 })
                .DownloadAsync(new Uri($"http://127.0.0.1:{port}/pkg.kpkg"), PartPath, new HeadJudge(threshold: 2).Authorize, null, CancellationToken.None).WaitAsync(s_bound));

        Assert.Equal(UpdateFailure.DownloadFailed, ex.Failure);
        Assert.Contains("ConnectionRefused", ex.Message);
        Assert.Contains("each of 2 attempts", ex.Message);
    }

    [Fact]
    public async Task NotFoundFailsAtOnce()
    {
        var log = new PackageServerLog();
        await using RangeHttpServer server = RangeHttpServer.Start(_packages.Root, log: log.Add);
        Uri url = new(server.BaseUri, "missing-v1.kpkg");

        var ex = await Assert.ThrowsAsync<UpdateException>(() =>
            new PackageDownloader(Fast).DownloadAsync(url, PartPath, new HeadJudge(threshold: 2).Authorize, null, CancellationToken.None).WaitAsync(s_bound));

        Assert.Equal(UpdateFailure.DownloadFailed, ex.Failure);
        Assert.Contains("HTTP 404", ex.Message);
        Assert.Contains(url.ToString(), ex.Message);
        await server.StopAsync();
        Assert.Equal("404", Assert.Single(log.Lines).Status);
    }

    [Fact]
    public async Task AServiceUnavailableIsRetried()
    {
        ServedArchive archive = _packages.Signed;
        await using var server = new ScriptedServer(async exchange =>
        {
            if (exchange.Request.Index == 0)
            {
                await exchange.HeadAsync(503, "Content-Length: 0");
                return;
            }

            await exchange.ServeAsync(archive.Bytes);
        });

        await new PackageDownloader(Fast).DownloadAsync(server.Url(), PartPath, new HeadJudge(threshold: 2).Authorize, null, CancellationToken.None).WaitAsync(s_bound);

        Assert.Equal(archive.Bytes, File.ReadAllBytes(PartPath));
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task CancellationEndsTheDownloadAndKeepsThePartFile()
    {
        ServedArchive archive = _packages.Signed;
        const int Trickle = 1000;
        using var cancel = new CancellationTokenSource();
        var progress = new DownloadProgressLog { OnReport = _ => cancel.Cancel() };
        await using var server = new ScriptedServer(exchange => exchange.ServeAsync(archive.Bytes, stopAfter: Trickle, hold: true));
        var clock = Stopwatch.StartNew();

        // A window far longer than the test: only the token can end this attempt.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            new PackageDownloader(Fast with { ThroughputWindow = TimeSpan.FromMinutes(5) })
                .DownloadAsync(server.Url(), PartPath, new HeadJudge(threshold: 2).Authorize, progress, cancel.Token).WaitAsync(s_bound));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"cancelling took {clock.Elapsed}");
        Assert.Equal(archive.Bytes[..Trickle], File.ReadAllBytes(PartPath));
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task NoSpaceIsFoundBeforeAByteIsWritten()
    {
        ServedArchive archive = _packages.Signed;
        var judge = new HeadJudge(threshold: 2);

        // A scripted server rather than the package server: the downloader hangs up mid-body, and RangeHttpServer's
        // StopAsync can then throw (its graceful close calls GetStream on the reset socket).
        await using var server = new ScriptedServer(exchange => exchange.ServeAsync(archive.Bytes));

        var ex = await Assert.ThrowsAsync<UpdateException>(() =>
            new PackageDownloader(Fast with { ReserveBytes = long.MaxValue / 4 })
                .DownloadAsync(server.Url(), PartPath, judge.Authorize, null, CancellationToken.None).WaitAsync(s_bound));

        Assert.Equal(UpdateFailure.NoSpace, ex.Failure);
        Assert.Contains($"{long.MaxValue / 4} kept free (DownloadOptions.ReserveBytes)", ex.Message);
        Assert.False(File.Exists(PartPath) && new FileInfo(PartPath).Length > 0, "no byte may be written without room for the whole");
        Assert.Empty(judge.Calls); // the headers' Content-Length was enough to know
        Assert.Single(server.Requests); // not retried
    }

    [Theory]
    [InlineData("ftp://updates.example/pilotnet-v3.kpkg")]
    [InlineData("file:///var/lib/kairo/pilotnet-v3.kpkg")]
    public async Task AUrlThatIsNotHttpIsRefused(string url)
    {
        var judge = new HeadJudge(threshold: 2);

        var ex = await Assert.ThrowsAsync<UpdateException>(() =>
            new PackageDownloader(Fast).DownloadAsync(new Uri(url), PartPath, judge.Authorize, null, CancellationToken.None));

        Assert.Equal(UpdateFailure.DownloadFailed, ex.Failure);
        Assert.Contains(url, ex.Message);
        Assert.Contains("http:// or https://", ex.Message);
        Assert.Empty(judge.Calls);
        Assert.False(File.Exists(PartPath));
    }

    [Fact]
    public async Task AFileThatIsNotATarIsPackageInvalid()
    {
        await using RangeHttpServer server = RangeHttpServer.Start(_packages.Root);
        var judge = new HeadJudge(threshold: 2);

        var ex = await Assert.ThrowsAsync<UpdateException>(() =>
            new PackageDownloader(Fast).DownloadAsync(new Uri(server.BaseUri, DownloaderPackages.NotATar), PartPath, judge.Authorize, null, CancellationToken.None).WaitAsync(s_bound));

        Assert.Equal(UpdateFailure.PackageInvalid, ex.Failure);
        Assert.Contains("not a tar header", ex.Message);
        Assert.Empty(judge.Calls);
        Assert.False(File.Exists(PartPath));
    }

    [Fact]
    public async Task AManifestHeaderOverTheLimitIsRefusedBeforeItsData()
    {
        byte[] huge = TarOf(("manifest.json", new byte[PackageManifest.MaxBytes + 1]));
        await using var server = new ScriptedServer(exchange => exchange.ServeAsync(huge));
        var judge = new HeadJudge(threshold: 2);

        var ex = await Assert.ThrowsAsync<UpdateException>(() =>
            new PackageDownloader(Fast).DownloadAsync(server.Url(), PartPath, judge.Authorize, null, CancellationToken.None).WaitAsync(s_bound));

        Assert.Equal(UpdateFailure.ManifestInvalid, ex.Failure);
        Assert.Contains($"{PackageManifest.MaxBytes + 1} bytes, more than the {PackageManifest.MaxBytes}", ex.Message);
        Assert.Empty(judge.Calls);
        Assert.False(File.Exists(PartPath));
    }

    [Fact]
    public async Task AnArchiveThatDoesNotStartWithTheManifestIsPackageInvalid()
    {
        byte[] archive = TarOf(("model.onnx", new byte[3000]), ("manifest.json", "{}"u8.ToArray()));
        await using var server = new ScriptedServer(exchange => exchange.ServeAsync(archive));

        var ex = await Assert.ThrowsAsync<UpdateException>(() =>
            new PackageDownloader(Fast).DownloadAsync(server.Url(), PartPath, new HeadJudge(threshold: 2).Authorize, null, CancellationToken.None).WaitAsync(s_bound));

        Assert.Equal(UpdateFailure.PackageInvalid, ex.Failure);
        Assert.Contains("first entry is 'model.onnx'", ex.Message);
    }

    [Fact]
    public async Task AnOversizedSignaturesFileIsRefusedFromItsHeader()
    {
        byte[] archive = TarOf(("manifest.json", _packages.Signed.ManifestBytes), ("signatures.json", new byte[PackageSignatures.MaxBytes + 1]));
        await using var server = new ScriptedServer(exchange => exchange.ServeAsync(archive));
        var judge = new HeadJudge(threshold: 2);

        var ex = await Assert.ThrowsAsync<UpdateException>(() =>
            new PackageDownloader(Fast).DownloadAsync(server.Url(), PartPath, judge.Authorize, null, CancellationToken.None).WaitAsync(s_bound));

        Assert.Equal(UpdateFailure.SignatureInvalid, ex.Failure);
        Assert.Empty(judge.Calls);
    }

    [Fact]
    public async Task HttpsWithTheCaFileDownloads()
    {
        ServedArchive archive = _packages.Signed;
        (string caFile, X509Certificate2 leaf) = TestCertificates.Make(_scratch, host: null);
        await using var server = new ScriptedServer(exchange => exchange.ServeAsync(archive.Bytes), leaf);

        await new PackageDownloader(Fast with { CaFile = caFile })
            .DownloadAsync(server.Url(), PartPath, new HeadJudge(threshold: 2).Authorize, null, CancellationToken.None).WaitAsync(s_bound);

        Assert.Equal(archive.Bytes, File.ReadAllBytes(PartPath));
        Assert.StartsWith("https://", server.Url().ToString());
    }

    [Fact]
    public async Task HttpsWithoutTheCaFileIsRefused()
    {
        (_, X509Certificate2 leaf) = TestCertificates.Make(_scratch, host: null);
        await using var server = new ScriptedServer(exchange => exchange.ServeAsync(_packages.Signed.Bytes), leaf);

        var ex = await Assert.ThrowsAsync<UpdateException>(() =>
            new PackageDownloader(Fast) // three attempts allowed; a refused certificate is not worth a second
                .DownloadAsync(server.Url(), PartPath, new HeadJudge(threshold: 2).Authorize, null, CancellationToken.None).WaitAsync(s_bound));

        Assert.Equal(UpdateFailure.DownloadFailed, ex.Failure);
        Assert.Contains("SSL", ex.Message);
        Assert.Contains("certificate was not accepted", ex.Message);
        Assert.Contains("not retried", ex.Message);
        Assert.Contains("caFile", ex.Message);
        Assert.Empty(server.Requests); // no request leaves the device over an untrusted connection
        Assert.Equal(1, server.Connections);
    }

    [Fact]
    public async Task HttpsToAHostTheCertificateDoesNotNameIsRefused()
    {
        (string caFile, X509Certificate2 leaf) = TestCertificates.Make(_scratch, host: "updates.example");
        await using var server = new ScriptedServer(exchange => exchange.ServeAsync(_packages.Signed.Bytes), leaf);

        var ex = await Assert.ThrowsAsync<UpdateException>(() =>
            new PackageDownloader(Fast with { Attempts = 1, CaFile = caFile })
                .DownloadAsync(server.Url(), PartPath, new HeadJudge(threshold: 2).Authorize, null, CancellationToken.None).WaitAsync(s_bound));

        Assert.Equal(UpdateFailure.DownloadFailed, ex.Failure);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public void ACaFileWithoutCertificatesNamesTheOption()
    {
        string caFile = _scratch.Combine("ca.pem");
        File.WriteAllText(caFile, "not a certificate\n");

        var ex = Assert.Throws<ArgumentException>(() => new PackageDownloader(new DownloadOptions { CaFile = caFile }));

        Assert.Contains("DownloadOptions.CaFile", ex.Message);
        Assert.Contains(caFile, ex.Message);
    }

    [Fact]
    public void SignedArchiveLengthBoundsRealArchives()
    {
        Repo.LoadOnnxRuntime();
        string plain = _scratch.Combine("plain");
        Packages.Make(plain);
        string nested = _scratch.Combine("nested");
        Packages.Make(nested);
        AddFiles(nested,
            ("assets/labels/names.txt", 100),
            ("assets/labels/empty.txt", 0),
            ("assets/block.bin", 1024),
            ($"assets/{new string('a', 90)}/{new string('b', 90)}.bin", 513));

        var cases = new List<(string Name, string Directory)> { ("unsigned", plain), ("unsigned nested", nested) };
        foreach ((string name, string directory) in cases.ToArray())
        {
            string signed = _scratch.Combine($"{name} signed".Replace(' ', '-'));
            CopyDirectory(directory, signed);
            PackageSigner.Sign(signed, Keys.Alice);
            PackageSigner.Sign(signed, Keys.Bob);
            cases.Add(($"{name} signed", signed));
        }

        foreach ((string name, string directory) in cases)
        {
            string archivePath = _scratch.Combine($"{name.Replace(' ', '-')}.kpkg");
            PackageArchive.Write(directory, archivePath);
            long real = new FileInfo(archivePath).Length;
            byte[] manifestBytes = File.ReadAllBytes(Path.Combine(directory, PackagePaths.Manifest));
            string signatures = Path.Combine(directory, PackagePaths.Signatures);
            long? signaturesLength = File.Exists(signatures) ? new FileInfo(signatures).Length : null;
            PackageManifest manifest = PackageManifest.Parse(manifestBytes);

            long cap = PackageDownloader.SignedArchiveLength(manifest, manifestBytes.Length, signaturesLength);

            Assert.Equal(real, PackageDownloader.ExactArchiveLength(manifest, manifestBytes.Length, signaturesLength));
            Assert.True(real <= cap, $"{name}: the archive is {real} bytes, over its cap {cap}");
            Assert.True(cap - real < 10240 + 1024, $"{name}: the cap {cap} leaves {cap - real} bytes of slack");
            Assert.Equal(0, cap % 10240);
        }

        Assert.Contains(PackageManifest.Parse(File.ReadAllBytes(Path.Combine(nested, PackagePaths.Manifest))).Files, f => f.Path.Length > 100);
    }

    /// <summary>Adds files of the given lengths to a package and rewrites its manifest to list them.</summary>
    private static void AddFiles(string directory, params (string Path, int Length)[] files)
    {
        PackageManifest manifest = Packages.ReadManifest(directory);
        var listed = manifest.Files.ToList();
        foreach ((string path, int length) in files)
        {
            byte[] bytes = Enumerable.Range(0, length).Select(i => (byte)(i * 31)).ToArray();
            string full = Path.Combine(directory, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllBytes(full, bytes);
            listed.Add(new PackageFile(path, Convert.ToHexStringLower(SHA256.HashData(bytes)), length));
        }

        Packages.Republish(directory, manifest with { Files = listed });
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    /// <summary>A ustar archive of the given entries, in order: the archives no packer would write.</summary>
    private static byte[] TarOf(params (string Name, byte[] Data)[] entries)
    {
        using var stream = new MemoryStream();
        using (var writer = new System.Formats.Tar.TarWriter(stream, System.Formats.Tar.TarEntryFormat.Ustar, leaveOpen: true))
        {
            foreach ((string name, byte[] data) in entries)
            {
                writer.WriteEntry(new System.Formats.Tar.UstarTarEntry(System.Formats.Tar.TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) });
            }
        }

        return stream.ToArray();
    }
}

/// <summary>The packages the downloader tests fetch, built once: a signed pilotnet (about 1.5 MB), an unsigned scale_add, a tampered copy.</summary>
public sealed class DownloaderPackages : IDisposable
{
    public const string NotATar = "notes.kpkg";

    private readonly ScratchDirectory _scratch = new();

    public DownloaderPackages()
    {
        Root = _scratch.Combine("served");
        Directory.CreateDirectory(Root);
        Signed = Pack("pilotnet", Packages.Options("pilotnet.onnx", "pilotnet", 3), Keys.Alice, Keys.Bob);
        Unsigned = Pack("scale_add", Packages.Options());

        // Signed by both trusted keys, then changed: what a device must refuse with signature_invalid.
        string tampered = _scratch.Combine("tampered");
        foreach (string file in Directory.EnumerateFiles(Signed.PackageDirectory, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(tampered, Path.GetRelativePath(Signed.PackageDirectory, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        File.WriteAllBytes(Path.Combine(tampered, PackagePaths.Manifest), (Signed.Manifest with { Release = "tampered" }).ToUtf8Json());
        Tampered = ServedArchive.Of(tampered, Root, "tampered-v3.kpkg");

        File.WriteAllText(Path.Combine(Root, NotATar), string.Concat(Enumerable.Repeat("this is a text file, not a package archive\n", 100)));
    }

    /// <summary>The directory a package server serves the archives from.</summary>
    public string Root { get; }

    public ServedArchive Signed { get; }

    public ServedArchive Unsigned { get; }

    public ServedArchive Tampered { get; }

    public void Dispose() => _scratch.Dispose();

    private ServedArchive Pack(string name, PackageBuildOptions options, params SigningKey[] signers)
    {
        string directory = _scratch.Combine(name);
        Packages.Make(directory, options, signers);
        return ServedArchive.Of(directory, Root, PackagePaths.ArchiveName(options.Name, options.Version));
    }
}

/// <summary>A package archive and the head a downloader must hand to authorize.</summary>
public sealed record ServedArchive(string PackageDirectory, string FileName, byte[] Bytes, byte[] ManifestBytes, byte[]? SignatureBytes, PackageManifest Manifest)
{
    public long Cap => PackageDownloader.SignedArchiveLength(Manifest, ManifestBytes.Length, SignatureBytes?.Length);

    public static ServedArchive Of(string directory, string root, string fileName)
    {
        string path = Path.Combine(root, fileName);
        PackageArchive.Write(directory, path);
        byte[] manifest = File.ReadAllBytes(Path.Combine(directory, PackagePaths.Manifest));
        string signatures = Path.Combine(directory, PackagePaths.Signatures);
        return new ServedArchive(directory, fileName, File.ReadAllBytes(path), manifest, File.Exists(signatures) ? File.ReadAllBytes(signatures) : null, PackageManifest.Parse(manifest));
    }
}

/// <summary>An authorize callback that judges like a device (signatures, expiry) and records what it was given.</summary>
internal sealed class HeadJudge(int threshold)
{
    private readonly List<(byte[] Manifest, byte[]? Signatures)> _calls = [];

    public IReadOnlyList<(byte[] Manifest, byte[]? Signatures)> Calls
    {
        get
        {
            lock (_calls)
            {
                return [.. _calls];
            }
        }
    }

    /// <summary>The refusal it threw, to check that the downloader passed on that very exception.</summary>
    public UpdateException? Thrown { get; private set; }

    public PackageManifest Authorize(byte[] manifestBytes, byte[]? signatureBytes)
    {
        lock (_calls)
        {
            _calls.Add((manifestBytes, signatureBytes));
        }

        try
        {
            PackageManifest manifest = PackageManifest.Parse(manifestBytes);
            if (threshold > 0)
            {
                var verifier = Packages.Verifier(threshold);
                verifier.CheckSignatures(manifestBytes, signatureBytes is null ? [] : PackageSignatures.Parse(signatureBytes)).Check.ThrowIfFailed();
                verifier.CheckExpiry(manifest).ThrowIfFailed();
            }

            return manifest;
        }
        catch (UpdateException ex)
        {
            Thrown = ex;
            throw;
        }
    }
}

/// <summary>Collects progress reports on the downloader's own thread.</summary>
internal sealed class DownloadProgressLog : IProgress<DownloadProgress>
{
    private readonly List<DownloadProgress> _reports = [];

    public Action<DownloadProgress>? OnReport { get; init; }

    public IReadOnlyList<DownloadProgress> Reports
    {
        get
        {
            lock (_reports)
            {
                return [.. _reports];
            }
        }
    }

    public void Report(DownloadProgress value)
    {
        lock (_reports)
        {
            _reports.Add(value);
        }

        OnReport?.Invoke(value);
    }
}

/// <summary>The package server's log lines as (status, body bytes sent).</summary>
internal sealed class PackageServerLog
{
    private readonly List<(string Status, long Sent)> _lines = [];

    public IReadOnlyList<(string Status, long Sent)> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public void Add(string line)
    {
        // client "GET /x HTTP/1.1" 206 12345 [(aborted)]
        string[] after = line[(line.LastIndexOf('"') + 2)..].Split(' ');
        lock (_lines)
        {
            _lines.Add((after[0], long.Parse(after[1], CultureInfo.InvariantCulture)));
        }
    }
}

/// <summary>A request a scripted server received: its order of arrival and its head.</summary>
internal sealed record ScriptedRequest(int Index, string Head)
{
    /// <summary>The Range header's value, or null.</summary>
    public string? Range => Head.Split("\r\n").Select(l => l.Split(':', 2)).Where(p => p.Length == 2 && p[0].Trim().Equals("Range", StringComparison.OrdinalIgnoreCase))
        .Select(p => p[1].Trim()).SingleOrDefault();

    /// <summary>N of <c>Range: bytes=N-</c>, the only form the downloader sends.</summary>
    public long? RangeStart => Range is { } range && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-')
        ? long.Parse(range["bytes=".Length..^1], CultureInfo.InvariantCulture)
        : null;
}

/// <summary>One connection of a scripted server: the request, and what the script may answer.</summary>
internal sealed class ScriptedExchange(ScriptedServer server, ScriptedRequest request, Stream stream, CancellationToken token)
{
    public ScriptedRequest Request => request;

    public Task HeadAsync(int status, params string[] headers)
    {
        var head = new StringBuilder().Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {status} Scripted\r\n");
        foreach (string header in headers)
        {
            head.Append(header).Append("\r\n");
        }

        head.Append("Connection: close\r\n\r\n");
        return stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), token).AsTask();
    }

    public async Task BodyAsync(ReadOnlyMemory<byte> bytes)
    {
        await stream.WriteAsync(bytes, token);
        await stream.FlushAsync(token);
        server.CountBody(bytes.Length);
    }

    /// <summary>
    /// Answers as a range-honouring server would: 206 from the requested byte (416 past the end), else 200 with
    /// everything. <paramref name="stopAfter"/> ends the body early; <paramref name="hold"/> then keeps the connection
    /// open and silent until the client hangs up.
    /// </summary>
    public async Task ServeAsync(byte[] content, long? stopAfter = null, bool hold = false, bool ignoreRange = false)
    {
        long start = ignoreRange ? 0 : request.RangeStart ?? 0;
        if (start >= content.Length && start > 0)
        {
            await HeadAsync(416, $"Content-Range: bytes */{content.Length}", "Content-Length: 0");
            return;
        }

        long length = content.Length - start;
        if (start > 0)
        {
            await HeadAsync(206, $"Content-Range: bytes {start}-{content.Length - 1}/{content.Length}", $"Content-Length: {length}");
        }
        else
        {
            await HeadAsync(200, $"Content-Length: {length}");
        }

        long send = Math.Min(length, stopAfter ?? length);
        await BodyAsync(content.AsMemory((int)start, (int)send));
        if (hold)
        {
            await WaitForCloseAsync(TimeSpan.FromSeconds(20));
        }
    }

    /// <summary>True once the client closed the connection; false when it was still open after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForCloseAsync(TimeSpan timeout)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(token);
        wait.CancelAfter(timeout);
        byte[] buffer = new byte[4096];
        try
        {
            while (await stream.ReadAsync(buffer, wait.Token) > 0)
            {
            }

            return true;
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            return false;
        }
        catch (IOException)
        {
            return true; // reset by the client
        }
    }
}

/// <summary>
/// A small HTTP/1.1 server on 127.0.0.1 (with a certificate, HTTPS) that reads each request head and lets a script
/// answer it byte by byte: the servers that drop, stall, lie or never stop, which the package server is not.
/// </summary>
internal sealed class ScriptedServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<ScriptedExchange, Task> _script;
    private readonly X509Certificate2? _certificate;
    private readonly ConcurrentQueue<ScriptedRequest> _requests = new();
    private readonly ConcurrentQueue<Task> _connections = new();
    private readonly SemaphoreSlim _accepted = new(0);
    private readonly Task _accepting;
    private long _bodyBytes;
    private int _count;
    private int _disposed;
    private int _connected;

    public ScriptedServer(Func<ScriptedExchange, Task> script, X509Certificate2? certificate = null)
    {
        _script = script;
        _certificate = certificate;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public IReadOnlyList<ScriptedRequest> Requests => [.. _requests.OrderBy(r => r.Index)];

    /// <summary>Body bytes the scripts handed to the socket.</summary>
    public long BodyBytes => Interlocked.Read(ref _bodyBytes);

    public Uri Url() => new($"{(_certificate is null ? "http" : "https")}://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/pkg.kpkg");

    public void CountBody(int bytes) => Interlocked.Add(ref _bodyBytes, bytes);

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connected);

    /// <summary>Waits until <paramref name="expected"/> connections were accepted (or the timeout); how many were.</summary>
    public async Task<int> CountConnectionsAsync(int expected, TimeSpan timeout)
    {
        using var wait = new CancellationTokenSource(timeout);
        int arrived = 0;
        try
        {
            while (arrived < expected)
            {
                await _accepted.WaitAsync(wait.Token);
                arrived++;
            }
        }
        catch (OperationCanceledException)
        {
        }

        return arrived;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        await Task.WhenAll(_connections);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _connected);
            _accepted.Release();
            _connections.Enqueue(Task.Run(() => ServeAsync(client)));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            Stream stream;
            try
            {
                stream = client.GetStream();
            }
            catch (InvalidOperationException)
            {
                return; // reset by the client between accept and here
            }

            try
            {
                if (_certificate is not null)
                {
                    var tls = new SslStream(stream);
                    stream = tls;
                    await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, _stop.Token);
                }

                string? head = await ReadHeadAsync(stream);
                if (head is null)
                {
                    return;
                }

                var request = new ScriptedRequest(Interlocked.Increment(ref _count) - 1, head);
                _requests.Enqueue(request);
                await _script(new ScriptedExchange(this, request, stream, _stop.Token));

                // End the response cleanly: a close with unread input could reset it before the client read it all.
                if (stream is SslStream secure)
                {
                    await secure.ShutdownAsync();
                }

                client.Client.Shutdown(SocketShutdown.Send);
                await new ScriptedExchange(this, request, stream, _stop.Token).WaitForCloseAsync(TimeSpan.FromSeconds(2));
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or AuthenticationException or ObjectDisposedException)
            {
                // The client hung up, or the test is over.
            }
            finally
            {
                await stream.DisposeAsync();
            }
        }
    }

    private async Task<string?> ReadHeadAsync(Stream stream)
    {
        var head = new List<byte>();
        byte[] one = new byte[1];
        while (head.Count < 16 << 10)
        {
            if (await stream.ReadAsync(one, _stop.Token) == 0)
            {
                return null;
            }

            head.Add(one[0]);
            if (head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n')
            {
                return Encoding.Latin1.GetString([.. head]);
            }
        }

        return null;
    }
}

/// <summary>A test CA (its PEM file) and a server certificate it issued for 127.0.0.1 or for another host name.</summary>
internal static class TestCertificates
{
    public static (string CaFile, X509Certificate2 Leaf) Make(ScratchDirectory scratch, string? host)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Kairo Test Update CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using X509Certificate2 ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(1));

        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var leafRequest = new CertificateRequest($"CN={host ?? "127.0.0.1"}", leafKey, HashAlgorithmName.SHA256);
        leafRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        leafRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        leafRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var names = new SubjectAlternativeNameBuilder();
        if (host is null)
        {
            names.AddIpAddress(IPAddress.Loopback);
        }
        else
        {
            names.AddDnsName(host);
        }

        leafRequest.CertificateExtensions.Add(names.Build());
        using X509Certificate2 issued = leafRequest.Create(ca, now.AddHours(-1), now.AddDays(1), RandomNumberGenerator.GetBytes(8));
        using X509Certificate2 withKey = issued.CopyWithPrivateKey(leafKey);

        // Through PKCS#12 so that the private key is one the TLS stack can use on every platform.
        X509Certificate2 leaf = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pfx), null);
        string caFile = scratch.Combine($"ca-{Guid.NewGuid():N}.pem");
        File.WriteAllText(caFile, ca.ExportCertificatePem());
        return (caFile, leaf);
    }
}
