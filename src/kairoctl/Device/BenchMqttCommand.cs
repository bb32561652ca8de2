using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Kairo.Control.Mqtt;

namespace Kairo.Ctl.Device;

/// <summary>
/// <c>kairoctl bench-mqtt --device ID</c>: times the round trip of <c>ping</c> requests to a device's control plane,
/// one after another over one connection, and in the same run, interleaved request by request, the round trip of a
/// bare MQTT echo through the same broker (a second client in this process that republishes each message to its
/// Response Topic with its Correlation Data, on its network thread). Both sides send the same payload at QoS 1 and
/// wait for a QoS 1 reply the same way, so the difference is what Kairo's control plane adds: queueing to its command
/// thread, parsing, dispatching, running the command and writing the reply. Exact percentiles of all samples, in
/// microseconds. Exit code 0 after a run, 1 when the device refused a ping, 2 on a usage error, 3 when a reply did
/// not come (broker unreachable, device offline, timeout).
/// </summary>
internal static class BenchMqttCommand
{
    public static Command Create()
    {
        var device = new DeviceOptions();
        var count = new Option<int>("--count")
        {
            Description = "Measured round trips on each side, after the warm-up.",
            DefaultValueFactory = _ => 1000,
        };
        var warmup = new Option<int>("--warmup")
        {
            Description = "Round trips on each side run first and left out of every figure.",
            DefaultValueFactory = _ => 100,
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON document (microseconds) instead of the table." };
        count.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > 10_000_000)
            {
                r.AddError("--count must be between 1 and 10000000, for example --count 2000");
            }
        });
        warmup.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 0 or > 1_000_000)
            {
                r.AddError("--warmup must be between 0 and 1000000, for example --warmup 100");
            }
        });

        var command = new Command("bench-mqtt", "Time ping round trips to a device's control plane against a bare MQTT echo through the same broker.");
        device.AddTo(command);
        command.Options.Add(count);
        command.Options.Add(warmup);
        command.Options.Add(json);
        command.SetAction(parse => DeviceCommandRunner.Run("bench-mqtt", () =>
            Run(device.Read(parse), parse.GetValue(count), parse.GetValue(warmup), parse.GetValue(json))));
        return command;
    }

    private static int Run(DeviceSettings settings, int count, int warmup, bool json)
    {
        using var connection = DeviceConnection.Open(settings);
        connection.RequireOnline();
        if (!connection.IsMqtt5)
        {
            throw DeviceException.NoAnswer($"{settings.Broker} speaks only MQTT 3.1.1; the echo baseline needs MQTT 5 (Response Topic and Correlation Data)");
        }

        string echoTopic = connection.ReplyTopic[..^"reply".Length] + "echo";
        using var echo = EchoResponder.Start(settings, echoTopic);

        string pingTopic = settings.CommandTopic("ping");
        var kairo = new long[count];
        var plain = new long[count];
        var progress = Progress.Start(warmup + count, json);
        for (int i = -warmup; i < count; i++)
        {
            // Alternating which side goes first keeps a slow phase of the machine from falling on one side only.
            bool kairoFirst = (i & 1) == 0;
            long first = RoundTrip(connection, kairoFirst ? pingTopic : echoTopic, i, kairoFirst);
            long second = RoundTrip(connection, kairoFirst ? echoTopic : pingTopic, i, !kairoFirst);
            if (i >= 0)
            {
                kairo[i] = kairoFirst ? first : second;
                plain[i] = kairoFirst ? second : first;
            }

            progress.Report(i + warmup + 1);
        }

        progress.Finish();
        var report = BenchMqttReport.Of(settings, count, warmup, kairo, plain);
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(report, BenchMqttJson.Default.BenchMqttReport));
        }
        else
        {
            report.WriteTable(Console.Out);
        }

        return DeviceExit.Ok;
    }

    /// <summary>One request and its reply, in nanoseconds from just before the publish to the waiting thread waking with the reply.</summary>
    private static long RoundTrip(DeviceConnection connection, string topic, int index, bool isPing)
    {
        string id = index.ToString(CultureInfo.InvariantCulture);
        byte[] payload = Encoding.UTF8.GetBytes($"{{\"id\":\"{id}\"}}");
        long start = Stopwatch.GetTimestamp();
        byte[]? reply = connection.Exchange(topic, payload, id);
        long elapsed = (Stopwatch.GetTimestamp() - start) * 1_000_000_000 / Stopwatch.Frequency;
        if (reply == null)
        {
            throw DeviceException.NoAnswer(isPing
                ? $"no reply from device {connection.Settings.DeviceId} to ping {id} within {connection.Settings.TimeoutText}"
                : $"no echo through {connection.Settings.Broker} within {connection.Settings.TimeoutText}");
        }

        if (isPing && DeviceReply.Parse(reply) is not { Ok: true })
        {
            throw new DeviceException(DeviceExit.ErrorReply, $"device {connection.Settings.DeviceId} did not answer ping with ok: {Encoding.UTF8.GetString(reply)}");
        }

        return elapsed;
    }

    /// <summary>The baseline: a second client that sends every message on its topic straight back where it asks, from its network thread.</summary>
    private sealed class EchoResponder : IDisposable
    {
        private static readonly byte[] Probe = "probe"u8.ToArray();

        private readonly MqttClient _client;
        private readonly ManualResetEventSlim _ready = new();

        private EchoResponder(DeviceSettings settings, string topic)
        {
            string clientId = $"kairoctl-echo-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
            _client = new MqttClient(settings.ClientOptions(clientId));
            _client.Subscribe(topic, 1);
            _client.Connected += (_, _) => _client.Publish(topic, Probe, qos: 1, retain: false);
            _client.MessageReceived += (_, message) =>
            {
                if (message.ResponseTopic is { } replyTo)
                {
                    var properties = new MqttPublishProperties { CorrelationData = message.CorrelationData, ContentType = "application/json" };
                    _client.Publish(replyTo, message.Payload, qos: 1, retain: false, properties);
                }
                else if (message.Payload.AsSpan().SequenceEqual(Probe))
                {
                    _ready.Set(); // its own probe came back: the subscription is in place
                }
            };
        }

        public static EchoResponder Start(DeviceSettings settings, string topic)
        {
            var echo = new EchoResponder(settings, topic);
            try
            {
                echo._client.Start();
                if (!echo._ready.Wait(settings.Timeout))
                {
                    throw DeviceException.NoAnswer($"the echo client could not connect and subscribe to {topic} on {settings.Broker} within {settings.TimeoutText}");
                }

                return echo;
            }
            catch
            {
                echo.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            _client.Dispose();
            _ready.Dispose();
        }
    }

    /// <summary>One updating line on stderr (<c>kairoctl bench-mqtt: 1200/2100 round trips</c>), only on a terminal and for the table.</summary>
    private sealed class Progress
    {
        private readonly int _total;
        private long _lastReport;
        private bool _shown;

        private Progress(int total) => _total = total;

        public static Progress Start(int total, bool json) => new(json || Console.IsErrorRedirected ? 0 : total);

        public void Report(int done)
        {
            long now = Environment.TickCount64;
            if (_total == 0 || now - _lastReport < 500)
            {
                return;
            }

            _lastReport = now;
            _shown = true;
            Console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"\rkairoctl bench-mqtt: {done}/{_total} round trips on each side\u001b[K"));
        }

        public void Finish()
        {
            if (_shown)
            {
                Console.Error.Write("\r\u001b[K");
            }
        }
    }
}

/// <summary><c>kairoctl bench-mqtt --json</c>: every duration in microseconds, percentiles exact (nearest rank over all samples).</summary>
internal sealed record BenchMqttReport(
    string Program,
    string Broker,
    string Device,
    string Protocol,
    int Qos,
    int Count,
    int Warmup,
    BenchMqttReport.Summary KairoUs,
    BenchMqttReport.Summary EchoUs,
    BenchMqttReport.Ratio KairoOverEcho)
{
    public static BenchMqttReport Of(DeviceSettings settings, int count, int warmup, long[] kairoNs, long[] echoNs)
    {
        var kairo = Summary.Of(kairoNs);
        var echo = Summary.Of(echoNs);
        return new BenchMqttReport("kairoctl bench-mqtt", settings.Broker, settings.DeviceId, "5", 1, count, warmup, kairo, echo,
            new Ratio(Divide(kairo.P50, echo.P50), Divide(kairo.P90, echo.P90), Divide(kairo.P99, echo.P99), Divide(kairo.Max, echo.Max), Divide(kairo.Mean, echo.Mean)));
    }

    public void WriteTable(TextWriter output)
    {
        var text = CultureInfo.InvariantCulture;
        output.WriteLine($"kairoctl bench-mqtt: device {Device} via {Broker} (MQTT {Protocol}, QoS {Qos} both ways)");
        output.WriteLine(string.Create(text, $"{Count} round trips on each side after {Warmup} warm-up, interleaved one by one"));
        output.WriteLine();
        output.WriteLine(string.Create(text, $"{"(microseconds)",-22} {"p50",10} {"p90",10} {"p99",10} {"max",10} {"mean",10}"));
        output.WriteLine(string.Create(text, $"{"Kairo ping",-22} {KairoUs.P50,10:F1} {KairoUs.P90,10:F1} {KairoUs.P99,10:F1} {KairoUs.Max,10:F1} {KairoUs.Mean,10:F1}"));
        output.WriteLine(string.Create(text, $"{"plain MQTT echo",-22} {EchoUs.P50,10:F1} {EchoUs.P90,10:F1} {EchoUs.P99,10:F1} {EchoUs.Max,10:F1} {EchoUs.Mean,10:F1}"));
        output.WriteLine(string.Create(text,
            $"{"Kairo / echo",-22} {KairoOverEcho.P50,10:F3} {KairoOverEcho.P90,10:F3} {KairoOverEcho.P99,10:F3} {KairoOverEcho.Max,10:F3} {KairoOverEcho.Mean,10:F3}"));
        output.WriteLine(string.Create(text,
            $"{"Kairo - echo",-22} {KairoUs.P50 - EchoUs.P50,10:F1} {KairoUs.P90 - EchoUs.P90,10:F1} {KairoUs.P99 - EchoUs.P99,10:F1} {"",10} {KairoUs.Mean - EchoUs.Mean,10:F1}"));
    }

    private static double Divide(double a, double b) => b > 0 ? Math.Round(a / b, 3) : 0;

    /// <summary>Exact nearest-rank percentiles of the samples, in microseconds to 0.1 µs.</summary>
    internal sealed record Summary(double P50, double P90, double P99, double Max, double Mean)
    {
        public static Summary Of(long[] nanoseconds)
        {
            long[] sorted = (long[])nanoseconds.Clone();
            Array.Sort(sorted);
            return new Summary(Us(Rank(sorted, 0.50)), Us(Rank(sorted, 0.90)), Us(Rank(sorted, 0.99)), Us(sorted[^1]), Math.Round(sorted.Average() / 1e3, 1));
        }

        /// <summary>The smallest sample with at least <paramref name="fraction"/> of the samples at or below it.</summary>
        internal static long Rank(long[] sorted, double fraction) =>
            sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Length) - 1, 0, sorted.Length - 1)];

        private static double Us(long ns) => Math.Round(ns / 1e3, 1);
    }

    internal sealed record Ratio(double P50, double P90, double P99, double Max, double Mean);
}

/// <summary>Source-generated JSON for <c>kairoctl bench-mqtt --json</c> (kairoctl is NativeAOT: no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(BenchMqttReport))]
internal sealed partial class BenchMqttJson : JsonSerializerContext
{
}
