using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Loops;
using Kairo.Runtime.Sources;

namespace Kairo.Ctl;

/// <summary>
/// <c>kairoctl send --model MODEL (--udp HOST:PORT | --unix PATH | --ring PATH)</c>: feeds a running loop from another
/// process with input frames in the wire formats of docs/wire-formats.md, generated (wave, noise or constant) or
/// taken from a recording, at a fixed rate. Exit code 0 after sending, 1 when the model, recording or ring could not
/// be used, 2 on a usage error.
/// </summary>
internal static class SendCommand
{
    public const int Sent = 0;
    public const int CouldNotSend = 1;

    public static Command Create()
    {
        var model = new FrameModelOptions();
        var udp = new Option<string?>("--udp") { Description = "Send datagrams to this UDP address, IP:PORT." };
        var unix = new Option<string?>("--unix") { Description = "Send datagrams to this unix datagram socket." };
        var ring = new Option<string?>("--ring") { Description = "Write into this frame ring (a bare name lives under /dev/shm); created when absent." };
        var slots = new Option<int>("--slots")
        {
            Description = "Slots of a ring this command creates.",
            DefaultValueFactory = _ => FrameRing.DefaultSlotCount,
        };
        var rate = new Option<double>("--rate")
        {
            Description = "Frames per second.",
            DefaultValueFactory = _ => 50,
        };
        var count = new Option<long?>("--count") { Description = "Frames to send, then stop (default: until interrupted; with --from-replay, the recording once)." };
        var pattern = new Option<string>("--pattern")
        {
            Description = "Generated frames: wave (a moving sine), noise, or constant (every element --value). Float tensors follow it; others get a counting byte pattern.",
            DefaultValueFactory = _ => "wave",
        };
        pattern.AcceptOnlyFromAmong("wave", "noise", "constant");
        var value = new Option<float>("--value")
        {
            Description = "The element value of --pattern constant.",
            DefaultValueFactory = _ => 0.5f,
        };
        var fromReplay = new Option<string?>("--from-replay") { Description = "Send the frames of this recording (kairoctl record) instead of generated ones, looping when --count asks for more." };

        rate.Validators.Add(r =>
        {
            double hz = r.GetValueOrDefault<double>();
            if (!(hz > 0 && hz <= 100_000))
            {
                r.AddError(string.Create(CultureInfo.InvariantCulture, $"--rate must be above 0 and at most 100000 frames per second (got {hz}), for example --rate 30"));
            }
        });
        count.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<long?>() is < 1)
            {
                r.AddError("--count must be 1 or more, for example --count 100");
            }
        });
        slots.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < FrameRing.MinSlotCount or > FrameRing.MaxSlotCount)
            {
                r.AddError($"--slots must be {FrameRing.MinSlotCount}..{FrameRing.MaxSlotCount}, for example --slots 4");
            }
        });

        var command = new Command("send", "Send input frames to a running loop: over UDP, a unix socket or a frame ring; generated or from a recording.");
        model.AddTo(command);
        foreach (var option in new Option[] { udp, unix, ring, slots, rate, count, pattern, value, fromReplay })
        {
            command.Options.Add(option);
        }

        command.Validators.Add(r =>
        {
            bool Given(Option option) => r.GetResult(option) is { Implicit: false };
            int targets = (Given(udp) ? 1 : 0) + (Given(unix) ? 1 : 0) + (Given(ring) ? 1 : 0);
            if (targets != 1)
            {
                r.AddError("give exactly one of --udp HOST:PORT, --unix PATH or --ring PATH");
            }

            if (Given(fromReplay) && (Given(pattern) || Given(value)))
            {
                r.AddError("--from-replay sends recorded frames; leave out --pattern and --value");
            }
        });

        command.SetAction(parse =>
        {
            var layout = model.Load(parse, "send", out int exitCode);
            if (layout == null)
            {
                return exitCode;
            }

            var settings = new Settings(
                parse.GetValue(udp), parse.GetValue(unix), parse.GetValue(ring), parse.GetValue(slots), parse.GetValue(rate), parse.GetValue(count),
                parse.GetValue(pattern) switch
                {
                    "noise" => SyntheticPattern.Noise,
                    "constant" => SyntheticPattern.Constant,
                    _ => SyntheticPattern.Wave,
                },
                parse.GetValue(value), parse.GetValue(fromReplay));
            using var stop = new StopSignal();
            return Run(layout.Input, settings, stop.Token);
        });
        return command;
    }

    private sealed record Settings(string? Udp, string? Unix, string? Ring, int Slots, double RateHz, long? Count, SyntheticPattern Pattern, float Value, string? FromReplay);

    private static int Run(FrameLayout frame, Settings settings, CancellationToken cancel)
    {
        ReplayFile? recording = null;
        if (settings.FromReplay is { } replayPath)
        {
            try
            {
                recording = ReplayFile.Load(replayPath, frame);
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                return Failed(ex.Message);
            }
        }

        ITarget target;
        try
        {
            target = OpenTarget(frame, settings);
        }
        catch (FormatException ex)
        {
            Console.Error.WriteLine($"kairoctl send: {ex.Message}");
            return CtlCommand.UsageError;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or SocketException or InvalidOperationException)
        {
            return Failed(ex.Message);
        }

        using (target)
        {
            long total = settings.Count ?? (recording != null ? recording.Count : long.MaxValue);
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"sending {(recording != null ? $"{recording.Path} ({recording.Count} frames)" : $"{settings.Pattern.ToString().ToLowerInvariant()} frames")} to {target.Description}: " +
                $"{frame.TotalBytes}-byte input frame, layout 0x{frame.LayoutId:X8}, {settings.RateHz} Hz{(total == long.MaxValue ? ", until interrupted" : $", {total} frames")}"));
            Console.Out.Flush();

            var generator = new SyntheticSource(settings.Pattern, settings.Value);
            generator.Open(frame);
            var payload = new byte[frame.TotalBytes];
            long period = (long)Math.Round(1e9 / settings.RateHz);
            long release = MonotonicClock.NowNanoseconds();
            long sent = 0;
            while (sent < total && !cancel.IsCancellationRequested)
            {
                if (recording != null)
                {
                    recording.Payload((int)(sent % recording.Count)).CopyTo(payload);
                }
                else
                {
                    generator.TryRead(payload, out _);
                }

                sent++;
                target.Send((ulong)sent, MonotonicClock.NowNanoseconds(), payload);
                if (sent < total)
                {
                    release += period;
                    MonotonicClock.SleepUntil(release);
                }
            }

            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"sent {sent} frames to {target.Description}{(target.Failed > 0 ? $"; {target.Failed} could not be delivered ({target.LastError})" : "")}"));
        }

        return Sent;
    }

    private static int Failed(string message)
    {
        Console.Error.WriteLine($"kairoctl send: {message}");
        return CouldNotSend;
    }

    private static ITarget OpenTarget(FrameLayout frame, Settings settings)
    {
        if (settings.Ring is { } ring)
        {
            return new RingTarget(FrameRingWriter.Open(FrameRing.ResolvePath(ring), frame.TotalBytes, frame.LayoutId, settings.Slots));
        }

        bool unix = settings.Unix != null;
        EndPoint endpoint = unix ? DatagramEndpoint.ParseUnix(settings.Unix!) : DatagramEndpoint.ParseUdp(settings.Udp!);
        int datagram = FrameHeader.Size + frame.TotalBytes;
        if (!unix && datagram > DatagramEndpoint.MaxUdpDatagram)
        {
            throw new FormatException(
                $"a frame of this model is {datagram} bytes on the wire, more than one UDP datagram carries ({DatagramEndpoint.MaxUdpDatagram}); use --unix PATH or --ring PATH");
        }

        return new DatagramTarget(unix, endpoint, frame, unix ? $"unix {settings.Unix}" : $"udp {settings.Udp}");
    }

    private interface ITarget : IDisposable
    {
        string Description { get; }

        long Failed { get; }

        string? LastError { get; }

        void Send(ulong sequence, long timestampNanoseconds, ReadOnlySpan<byte> payload);
    }

    private sealed class RingTarget(FrameRingWriter writer) : ITarget
    {
        public string Description => $"ring {writer.Path} ({writer.SlotCount} slots)";

        public long Failed => 0;

        public string? LastError => null;

        // The ring numbers its frames itself (continuing after a previous writer), so the sequence here is not used.
        public void Send(ulong sequence, long timestampNanoseconds, ReadOnlySpan<byte> payload) => writer.Write(payload, timestampNanoseconds);

        public void Dispose() => writer.Dispose();
    }

    private sealed class DatagramTarget : ITarget
    {
        private readonly Socket _socket;
        private readonly EndPoint _endpoint;
        private readonly byte[] _datagram;
        private readonly uint _layoutId;

        public DatagramTarget(bool unix, EndPoint endpoint, FrameLayout frame, string description)
        {
            _socket = unix ? new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) : new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            _endpoint = endpoint;
            _datagram = new byte[FrameHeader.Size + frame.TotalBytes];
            _layoutId = frame.LayoutId;
            Description = description;
        }

        public string Description { get; }

        public long Failed { get; private set; }

        public string? LastError { get; private set; }

        public void Send(ulong sequence, long timestampNanoseconds, ReadOnlySpan<byte> payload)
        {
            new FrameHeader(FrameKind.Input, FrameFlags.None, sequence, timestampNanoseconds, _layoutId, payload.Length).Write(_datagram);
            payload.CopyTo(_datagram.AsSpan(FrameHeader.Size));
            try
            {
                _socket.SendTo(_datagram, _endpoint);
            }
            catch (SocketException ex)
            {
                // No receiver yet (a unix socket not bound, an ICMP refusal): the frame is lost, as on a real wire.
                Failed++;
                LastError = ex.Message;
            }
        }

        public void Dispose() => _socket.Dispose();
    }
}
