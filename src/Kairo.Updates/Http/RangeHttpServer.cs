using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Kairo.Updates.Http;

/// <summary>
/// A small HTTP/1.1 server for the files under one directory, made to hand packages to devices: GET and HEAD,
/// <c>Range: bytes=a-b</c> / <c>a-</c> / <c>-n</c> answered with 206 and <c>Content-Range</c> (416 when unsatisfiable),
/// <c>Content-Length</c> always, one request per connection. It lists no directories and serves nothing outside its
/// root: no <c>..</c>, no hidden files, no symbolic links, no <c>.key</c> files. Every request is logged as one line. It listens on
/// loopback unless told otherwise.
/// </summary>
public sealed partial class RangeHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<long, Task> _connections = new();
    private readonly Action<string>? _log;
    private Task? _accepting;
    private long _nextConnection;
    private int _stopped;

    /// <param name="rootDirectory">The directory whose files are served.</param>
    /// <param name="endpoint">Where to listen; port 0 picks a free one (see <see cref="LocalEndPoint"/>).</param>
    /// <param name="log">Receives one line per request: client, request line, status, body bytes sent.</param>
    public RangeHttpServer(string rootDirectory, IPEndPoint endpoint, Action<string>? log = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(rootDirectory);
        ArgumentNullException.ThrowIfNull(endpoint);
        RootDirectory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(rootDirectory));
        if (!Directory.Exists(RootDirectory))
        {
            throw new DirectoryNotFoundException($"no such directory: {rootDirectory}");
        }

        _listener = new TcpListener(endpoint);
        _log = log;
    }

    public string RootDirectory { get; }

    /// <summary>Connections served at once; more are closed at once. A package server has a handful of clients.</summary>
    public int MaxConnections { get; init; } = 64;

    /// <summary>How long a client may take to send its request head.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long one write of the body may wait on a client that does not read.</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The address and port listened on, once started.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary><c>http://127.0.0.1:PORT/</c>, once started.</summary>
    public Uri BaseUri => new($"http://{(LocalEndPoint.Address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{LocalEndPoint.Address}]" : LocalEndPoint.Address.ToString())}:{LocalEndPoint.Port}/");

    /// <summary>Starts a server on <paramref name="address"/> (loopback by default) and <paramref name="port"/> (0: any free one).</summary>
    public static RangeHttpServer Start(string rootDirectory, IPAddress? address = null, int port = 0, Action<string>? log = null)
    {
        var server = new RangeHttpServer(rootDirectory, new IPEndPoint(address ?? IPAddress.Loopback, port), log);
        server.Start();
        return server;
    }

    /// <summary>Binds and starts accepting; throws <see cref="SocketException"/> when the address is taken or not local.</summary>
    public void Start()
    {
        if (_accepting is not null)
        {
            throw new InvalidOperationException("the server is already started");
        }

        _listener.Start(backlog: 64);
        _accepting = Task.Run(AcceptAsync);
    }

    /// <summary>Stops listening, ends every connection and waits for them.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        if (_accepting is not null)
        {
            await _accepting.ConfigureAwait(false);
        }

        await Task.WhenAll(_connections.Values).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stop.IsCancellationRequested)
                {
                    return;
                }

                // A client that vanished between SYN and accept, or no file descriptors left: pause rather than spin.
                try
                {
                    await Task.Delay(50, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            if (_connections.Count >= MaxConnections)
            {
                client.Dispose();
                continue;
            }

            long id = Interlocked.Increment(ref _nextConnection);
            var started = new TaskCompletionSource();
            Task connection = Task.Run(async () =>
            {
                await started.Task.ConfigureAwait(false);
                try
                {
                    await ServeAsync(client).ConfigureAwait(false);
                }
                finally
                {
                    client.Dispose();
                    _connections.TryRemove(id, out _);
                }
            });
            _connections[id] = connection;
            started.SetResult(); // only now may it remove itself
        }
    }

    private void Log(string line)
    {
        try
        {
            _log?.Invoke(line);
        }
        catch (Exception)
        {
            // A failing log must not take the server down; the request was served either way.
        }
    }
}
