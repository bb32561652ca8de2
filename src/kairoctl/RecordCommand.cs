using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Kairo.Runtime.Frames;

namespace Kairo.Ctl;

/// <summary>
/// <c>kairoctl record --model MODEL (--udp HOST:PORT | --unix PATH) --out FILE</c>: listens where a loop would, and
/// writes every valid input frame that arrives, as it arrived, into a recording that a <c>replay</c> source (or
/// <c>kairoctl send --from-replay</c>) plays back. Datagrams that are not input frames of the model are counted by
/// cause and left out. Exit code 0 when frames were recorded, 1 when none arrived or the socket or file could not be
/// used, 2 on a usage error.
/// </summary>
internal static class RecordCommand
{
    public const int Recorded = 0;
    public const int NothingRecorded = 1;

    private static readonly TimeSpan s_pollSlice = TimeSpan.FromMilliseconds(100);

    public static Command Create()
    {
        var model = new FrameModelOptions();
        var udp = new Option<string?>("--udp") { Description = "Listen on this UDP address, IP:PORT (port 0 picks a free port and prints it)." };
        var unix = new Option<string?>("--unix") { Description = "Listen on this unix datagram socket path." };
        var output = new Option<string>("--out") { Description = "The recording to write (replaced if it exists).", Required = true };
        var count = new Option<long?>("--count") { Description = "Stop after this many valid frames." };
        var seconds = new Option<double?>("--seconds") { Description = "Stop after this many seconds." };
        count.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<long?>() is < 1)
            {
                r.AddError("--count must be 1 or more, for example --count 1000");
            }
        });
        seconds.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double?>() is double s && !(s > 0 && s < 1e7))
            {
                r.AddError("--seconds must be a positive number, for example --seconds 30");
            }
        });

        var command = new Command("record", "Record the input frames arriving on a UDP port or unix socket into a replay file (valid frames only; drops are counted).");
        model.AddTo(command);
        foreach (var option in new Option[] { udp, unix, output, count, seconds })
        {
            command.Options.Add(option);
        }

        command.Validators.Add(r =>
        {
            if ((r.GetResult(udp) is { Implicit: false }) == (r.GetResult(unix) is { Implicit: false }))
            {
                r.AddError("give exactly one of --udp HOST:PORT or --unix PATH");
            }
        });

        command.SetAction(parse =>
        {
            var layout = model.Load(parse, "record", out int exitCode);
            if (layout == null)
            {
                return exitCode;
            }

            using var stop = new StopSignal();
            return Run(layout.Input, parse.GetValue(udp), parse.GetValue(unix), parse.GetValue(output)!, parse.GetValue(count), parse.GetValue(seconds), stop.Token);
        });
        return command;
    }

    private static int Run(FrameLayout frame, string? udp, string? unix, string path, long? count, double? seconds, CancellationToken cancel)
    {
        EndPoint endpoint;
        try
        {
            endpoint = unix != null ? DatagramEndpoint.ParseUnix(unix) : DatagramEndpoint.ParseUdp(udp!);
        }
        catch (FormatException ex)
        {
            Console.Error.WriteLine($"kairoctl record: {ex.Message}");
            return CtlCommand.UsageError;
        }

        int datagramLength = FrameHeader.Size + frame.TotalBytes;
        if (unix == null && datagramLength > DatagramEndpoint.MaxUdpDatagram)
        {
            Console.Error.WriteLine($"kairoctl record: a frame of this model is {datagramLength} bytes on the wire, more than one UDP datagram carries ({DatagramEndpoint.MaxUdpDatagram}); record from --unix PATH");
            return CtlCommand.UsageError;
        }

        using var socket = unix != null ? new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) : new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        ReplayFileWriter writer;
        try
        {
            if (unix != null && File.Exists(unix))
            {
                File.Delete(unix); // a stale socket file from an earlier run
            }

            // Room for bursts while the disk is written.
            socket.ReceiveBufferSize = Math.Max(socket.ReceiveBufferSize, Math.Min(datagramLength * 256, 8 << 20));
            socket.Bind(endpoint);
            writer = new ReplayFileWriter(path, frame.LayoutId);
        }
        catch (Exception ex) when (ex is SocketException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"kairoctl record: {ex.Message}");
            return NothingRecorded;
        }

        string where = unix != null ? $"unix {unix}" : $"udp {socket.LocalEndPoint}";
        var drops = new long[Enum.GetValues<FrameError>().Length];
        try
        {
            using (writer)
            {
                // Scripts and tests wait for this line: from here on, nothing sent is missed.
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"recording input frames on {where} into {path}: {frame.TotalBytes}-byte frames, layout 0x{frame.LayoutId:X8}" +
                    $"{(count is long n ? $", {n} frames" : "")}{(seconds is double s ? $", at most {s} s" : "")}"));
                Console.Out.Flush();

                var receive = new byte[datagramLength + 1]; // +1 tells an oversized datagram from an exact one
                var clock = Stopwatch.StartNew();
                TimeSpan limit = seconds is double sec ? TimeSpan.FromSeconds(sec) : TimeSpan.MaxValue;
                while ((count is not long wanted || writer.Count < wanted) && !cancel.IsCancellationRequested)
                {
                    TimeSpan left = limit - clock.Elapsed;
                    if (left <= TimeSpan.Zero)
                    {
                        break;
                    }

                    TimeSpan wait = left < s_pollSlice ? left : s_pollSlice;
                    if (!socket.Poll(wait, SelectMode.SelectRead))
                    {
                        continue;
                    }

                    int received = socket.Receive(receive, 0, receive.Length, SocketFlags.None, out SocketError socketError);
                    if (socketError != SocketError.Success)
                    {
                        continue;
                    }

                    var datagram = receive.AsSpan(0, received);
                    var error = FrameHeader.TryRead(datagram, out var header);
                    if (error == FrameError.None)
                    {
                        error = header.Check(FrameKind.Input, frame);
                    }

                    if (error == FrameError.None && received != FrameHeader.Size + header.PayloadLength)
                    {
                        error = FrameError.WrongSize;
                    }

                    if (error != FrameError.None)
                    {
                        drops[(int)error]++;
                        continue;
                    }

                    writer.AppendDatagram(datagram);
                }

                int recorded = writer.Count;
                long bytes = writer.Length;
                long dropped = drops.Sum();
                string dropText = dropped == 0 ? "no datagrams dropped" : $"dropped {dropped} {(dropped == 1 ? "datagram" : "datagrams")}: {DescribeDrops(drops)}";
                if (recorded == 0)
                {
                    writer.Dispose();
                    File.Delete(path); // a recording with no frames is not a valid replay file
                    Console.Error.WriteLine($"kairoctl record: no input frames of this model arrived on {where}; {dropText}; nothing written");
                    return NothingRecorded;
                }

                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"recorded {recorded} frames ({bytes} bytes) to {path}; {dropText}"));
                return Recorded;
            }
        }
        catch (Exception ex) when (ex is SocketException or IOException or InvalidOperationException)
        {
            Console.Error.WriteLine($"kairoctl record: {ex.Message}");
            return NothingRecorded;
        }
        finally
        {
            if (unix != null)
            {
                File.Delete(unix);
            }
        }
    }

    private static string DescribeDrops(long[] drops) => string.Join(", ",
        Enumerable.Range(1, drops.Length - 1).Where(i => drops[i] > 0).Select(i => string.Create(CultureInfo.InvariantCulture, $"{drops[i]} {Cause((FrameError)i)}")));

    private static string Cause(FrameError error) => error switch
    {
        FrameError.Truncated => "truncated",
        FrameError.BadMagic => "bad magic",
        FrameError.BadVersion => "bad version",
        FrameError.WrongKind => "not input frames",
        FrameError.WrongLayout => "wrong layout",
        FrameError.WrongSize => "wrong size",
        _ => error.ToString().ToLowerInvariant(),
    };
}
