using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Kairo.Updates.Http;

namespace Kairo.Updates.Tests;

/// <summary>The package server over real loopback sockets: ranges, HEAD, and the paths it refuses.</summary>
public sealed class RangeHttpServerTests : IAsyncLifetime
{
    private readonly ScratchDirectory _scratch = new();
    private readonly List<string> _log = [];
    private readonly byte[] _content = Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray();
    private RangeHttpServer _server = null!;
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        string root = _scratch.Combine("root");
        Directory.CreateDirectory(Path.Combine(root, "pkg", "test_data_set_0"));
        File.WriteAllBytes(Path.Combine(root, "pkg", "model.onnx"), _content);
        File.WriteAllText(Path.Combine(root, "pkg", "manifest.json"), "{}\n");
        File.WriteAllText(Path.Combine(root, "pkg", ".hidden"), "hidden");
        File.WriteAllText(Path.Combine(root, "release.key"), "-----BEGIN PRIVATE KEY-----");
        File.WriteAllText(Path.Combine(root, "empty.bin"), "");
        File.WriteAllText(_scratch.Combine("secret.txt"), "outside the root");
        File.CreateSymbolicLink(Path.Combine(root, "link.txt"), _scratch.Combine("secret.txt"));
        _server = RangeHttpServer.Start(root, log: line =>
        {
            lock (_log)
            {
                _log.Add(line);
            }
        });
        _client = new HttpClient { BaseAddress = _server.BaseUri, Timeout = TimeSpan.FromSeconds(30) };
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
        _scratch.Dispose();
    }

    private async Task<HttpResponseMessage> Get(string path, long? from, long? to)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Range = new RangeHeaderValue(from, to);
        return await _client.SendAsync(request);
    }

    /// <summary>Sends <paramref name="request"/> byte for byte (no client normalizes it) and returns the whole response.</summary>
    private async Task<string> Raw(string request)
    {
        using var socket = new TcpClient();
        await socket.ConnectAsync(_server.LocalEndPoint);
        NetworkStream stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.Latin1);
        return await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void ItListensOnLoopbackByDefault()
    {
        Assert.True(IPAddress.IsLoopback(_server.LocalEndPoint.Address));
        Assert.NotEqual(0, _server.LocalEndPoint.Port);
    }

    [Fact]
    public async Task AWholeFileIs200WithItsLength()
    {
        using HttpResponseMessage response = await _client.GetAsync("pkg/model.onnx");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1000, response.Content.Headers.ContentLength);
        Assert.Equal("bytes", response.Headers.AcceptRanges.Single());
        Assert.Equal(_content, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task AClosedRangeIs206WithContentRange()
    {
        using HttpResponseMessage response = await Get("pkg/model.onnx", 100, 199);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(100, response.Content.Headers.ContentLength);
        Assert.Equal("bytes 100-199/1000", response.Content.Headers.ContentRange!.ToString());
        Assert.Equal(_content[100..200], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task AnOpenRangeResumesToTheEnd()
    {
        using HttpResponseMessage response = await Get("pkg/model.onnx", 990, null);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal("bytes 990-999/1000", response.Content.Headers.ContentRange!.ToString());
        Assert.Equal(_content[990..], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task ARangePastTheEndIsCutToTheFile()
    {
        using HttpResponseMessage response = await Get("pkg/model.onnx", 900, 5000);

        Assert.Equal("bytes 900-999/1000", response.Content.Headers.ContentRange!.ToString());
        Assert.Equal(_content[900..], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task ASuffixRangeIsTheLastBytes()
    {
        using HttpResponseMessage response = await Get("pkg/model.onnx", null, 10);

        Assert.Equal("bytes 990-999/1000", response.Content.Headers.ContentRange!.ToString());
        Assert.Equal(_content[990..], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task ARangeStartingAtTheEndIs416()
    {
        using HttpResponseMessage response = await Get("pkg/model.onnx", 1000, null);

        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, response.StatusCode);
        Assert.Equal("bytes */1000", response.Content.Headers.ContentRange!.ToString());
    }

    [Fact]
    public async Task AnyRangeOfAnEmptyFileIs416()
    {
        using HttpResponseMessage response = await Get("empty.bin", 0, null);

        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, response.StatusCode);
        Assert.Equal("bytes */0", response.Content.Headers.ContentRange!.ToString());
    }

    [Fact]
    public async Task AnUnreadableRangeHeaderIsIgnored()
    {
        string response = await Raw("GET /pkg/model.onnx HTTP/1.1\r\nHost: x\r\nRange: bytes=5-2\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", response);
        Assert.Contains("\r\nContent-Length: 1000\r\n", response);
    }

    [Fact]
    public async Task HeadGivesTheHeadersWithoutABody()
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, "pkg/model.onnx");
        using HttpResponseMessage response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1000, response.Content.Headers.ContentLength);
        string raw = await Raw("HEAD /pkg/model.onnx HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.EndsWith("\r\n\r\n", raw); // nothing after the head
        Assert.Contains("\r\nContent-Length: 1000\r\n", raw);
    }

    [Theory]
    [InlineData("/../secret.txt")]
    [InlineData("/pkg/../../secret.txt")]
    [InlineData("/pkg/%2e%2e/%2e%2e/secret.txt")]
    [InlineData("/pkg/%2E%2E%2F%2E%2E%2Fsecret.txt")]
    [InlineData("/pkg/..%5c..%5csecret.txt")]
    [InlineData("/pkg/./model.onnx")]
    public async Task TraversalIsRefused(string target)
    {
        string response = await Raw($"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", response);
        Assert.DoesNotContain("outside the root", response);
    }

    [Theory]
    [InlineData("/pkg/")]
    [InlineData("/pkg")]
    [InlineData("/")]
    [InlineData("/pkg/.hidden")]
    [InlineData("/release.key")]
    [InlineData("/link.txt")]
    [InlineData("/pkg/missing.onnx")]
    public async Task DirectoriesHiddenFilesKeysAndLinksAreNotFound(string target)
    {
        string response = await Raw($"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 404 Not Found\r\n", response);
        Assert.DoesNotContain("outside the root", response);
        Assert.DoesNotContain("PRIVATE KEY", response);
    }

    [Fact]
    public async Task OtherMethodsAre405()
    {
        string response = await Raw("DELETE /pkg/model.onnx HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 405 Method Not Allowed\r\n", response);
        Assert.Contains("\r\nAllow: GET, HEAD\r\n", response);
        Assert.True(File.Exists(Path.Combine(_server.RootDirectory, "pkg", "model.onnx")));
    }

    [Fact]
    public async Task AnOversizedHeadIs431()
    {
        string response = await Raw($"GET /pkg/model.onnx HTTP/1.1\r\nX-Padding: {new string('a', 9000)}\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 431 ", response);
    }

    [Fact]
    public async Task EachRequestIsLoggedAsOneLine()
    {
        using (await Get("pkg/model.onnx", 0, 9))
        {
        }

        await Raw("GET /../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        string[] lines;
        lock (_log)
        {
            lines = [.. _log];
        }

        Assert.Contains(lines, l => l.Contains("\"GET /pkg/model.onnx HTTP/1.1\" 206 10", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("\"GET /../secret.txt HTTP/1.1\" 400 0", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ManyClientsAtOnceEachGetTheirRange()
    {
        Task<byte[]>[] downloads = Enumerable.Range(0, 20).Select(async i =>
        {
            using HttpResponseMessage response = await Get("pkg/model.onnx", i * 50, (i * 50) + 49);
            return await response.Content.ReadAsByteArrayAsync();
        }).ToArray();

        byte[][] parts = await Task.WhenAll(downloads);

        Assert.Equal(_content, parts.SelectMany(p => p).ToArray());
    }
}
