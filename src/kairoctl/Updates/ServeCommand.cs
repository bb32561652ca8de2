using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Kairo.Updates.Http;

namespace Kairo.Ctl.Updates;

/// <summary>
/// <c>kairoctl serve DIR [--port P] [--bind ADDRESS]</c>: serves package directories and archives over HTTP/1.1 with
/// range requests, so devices can resume downloads; one log line per request; Ctrl-C stops.
/// </summary>
internal static class ServeCommand
{
    public const int DefaultPort = 8780;

    public static Command Create()
    {
        var directory = new Argument<string>("DIR") { Description = "The directory to serve (package directories and .kpkg files under it)." };
        var port = new Option<int>("--port") { Description = "The TCP port (0 picks a free one).", DefaultValueFactory = _ => DefaultPort };
        var bind = new Option<string>("--bind")
        {
            Description = "The IP address to listen on; loopback by default, 0.0.0.0 for every interface.",
            DefaultValueFactory = _ => "127.0.0.1",
        };
        port.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 0 or > 65535)
            {
                r.AddError("--port must be between 0 and 65535, for example --port 8780");
            }
        });
        bind.Validators.Add(r =>
        {
            if (!IPAddress.TryParse(r.GetValueOrDefault<string>(), out _))
            {
                r.AddError($"--bind '{r.GetValueOrDefault<string>()}' is not an IP address; for example --bind 127.0.0.1 or --bind 0.0.0.0");
            }
        });

        var command = new Command("serve", "Serve package directories over HTTP/1.1 with range requests (loopback by default).") { directory, port, bind };
        command.SetAction(parse =>
        {
            using var stop = new StopSignal();
            return Run(parse.GetValue(directory)!, IPAddress.Parse(parse.GetValue(bind)!), parse.GetValue(port), stop.Token);
        });
        return command;
    }

    private static int Run(string directory, IPAddress address, int port, CancellationToken stop)
    {
        if (!Directory.Exists(directory))
        {
            return UpdateText.Usage("serve", $"no such directory: {directory}");
        }

        var log = new Lock();
        RangeHttpServer server;
        try
        {
            server = RangeHttpServer.Start(directory, address, port, line =>
            {
                lock (log)
                {
                    Console.Out.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");
                }
            });
        }
        catch (SocketException ex)
        {
            return UpdateText.Fail("serve", $"cannot listen on {address}:{port}: {ex.Message}");
        }

        try
        {
            if (!IPAddress.IsLoopback(address))
            {
                Console.Out.WriteLine($"note: listening on {address}, reachable from the network; packages are signed, but anyone there can download them");
            }

            Console.Out.WriteLine($"serving {Path.GetFullPath(directory)} at {server.BaseUri} (Ctrl-C stops)");
            stop.WaitHandle.WaitOne();
            Console.Out.WriteLine("stopping");
        }
        finally
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        return UpdateText.Ok;
    }
}
