using System.Collections.Concurrent;
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kairo.Control.Mqtt;

namespace Kairo.Ctl.Device;

/// <summary>
/// <c>kairoctl watch --device ID</c>: follows a device's telemetry, state and events. On a terminal, a table of its
/// loops redrawn in place every <c>--interval</c>; otherwise one line per message, for logs and scripts. Runs until
/// Ctrl-C (or SIGTERM), or until <c>--count</c> telemetry messages have arrived. Exit code 0, or as
/// <see cref="DeviceExit"/> when it cannot connect.
/// </summary>
internal static class WatchCommand
{
    private const int EventsShown = 5;

    public static Command Create()
    {
        var device = new DeviceOptions();
        var interval = new Option<double>("--interval")
        {
            Description = "Seconds between redraws of the table on a terminal.",
            DefaultValueFactory = _ => 1,
        };
        var count = new Option<int?>("--count") { Description = "Stop after this many telemetry messages (default: until interrupted)." };
        interval.Validators.Add(r =>
        {
            double seconds = r.GetValueOrDefault<double>();
            if (!(seconds >= 0.05 && seconds <= 3600))
            {
                r.AddError(string.Create(CultureInfo.InvariantCulture, $"--interval must be from 0.05 to 3600 seconds (got {seconds}), for example --interval 1"));
            }
        });
        count.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is < 1)
            {
                r.AddError("--count must be 1 or more, for example --count 3");
            }
        });

        var command = new Command("watch", "Follow a device's loops live over MQTT: rates, ticks, latencies, misses, allocations, models, state and events.");
        device.AddTo(command);
        command.Options.Add(interval);
        command.Options.Add(count);
        command.SetAction(parse => DeviceCommandRunner.Run("watch", () =>
            Run(device.Read(parse), TimeSpan.FromSeconds(parse.GetValue(interval)), parse.GetValue(count))));
        return command;
    }

    private static int Run(DeviceSettings settings, TimeSpan interval, int? count)
    {
        using var stop = new StopSignal();
        using var messages = new BlockingCollection<MqttMessage>();
        string telemetryPrefix = $"{settings.Prefix}/telemetry/";
        string eventsTopic = $"{settings.Prefix}/events";
        using var connection = DeviceConnection.Open(settings, [telemetryPrefix + "+", eventsTopic], m =>
        {
            try
            {
                messages.Add(m);
            }
            catch (InvalidOperationException)
            {
                // Watch is ending: CompleteAdding came first.
            }
        });

        var view = new WatchView(settings);
        bool live = !Console.IsOutputRedirected;
        TextWriter output = Console.Out;
        if (live)
        {
            output.Write("\u001b[?25l\u001b[2J"); // hide the cursor, clear the screen
        }

        long received = 0;
        long nextDraw = Environment.TickCount64;
        try
        {
            while (count is null || received < count)
            {
                if (live && Environment.TickCount64 >= nextDraw)
                {
                    output.Write(view.Render(connection.State));
                    output.Flush();
                    nextDraw = Environment.TickCount64 + (long)interval.TotalMilliseconds;
                }

                int wait = live ? (int)Math.Max(0, nextDraw - Environment.TickCount64) : Timeout.Infinite;
                if (!messages.TryTake(out var message, wait, stop.Token))
                {
                    continue;
                }

                if (message.Topic.StartsWith(telemetryPrefix, StringComparison.Ordinal))
                {
                    received++;
                    if (view.Telemetry(message.Payload) is { } loop && !live)
                    {
                        output.WriteLine(WatchView.TelemetryLine(loop));
                    }
                }
                else if (message.Topic == eventsTopic)
                {
                    if (view.Event(message.Payload) is { } line && !live)
                    {
                        output.WriteLine(line);
                    }
                }
                else if (!live && message.Topic == settings.StateTopic)
                {
                    var state = DeviceState.Parse(message.Payload);
                    output.WriteLine($"{DeviceText.TimeOfDay(state?.Ts)} state {state?.Describe() ?? "cleared"}");
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C or SIGTERM: the end the user asked for.
        }
        finally
        {
            messages.CompleteAdding();
            if (live)
            {
                output.Write(view.Render(connection.State));
                output.Write("\u001b[?25h"); // the cursor back
                output.Flush();
            }
        }

        return DeviceExit.Ok;
    }

    /// <summary>What watch knows of the device: the last telemetry of each loop and the last few events.</summary>
    private sealed class WatchView(DeviceSettings settings)
    {
        private readonly SortedDictionary<string, (JsonObject Telemetry, DateTimeOffset At)> _loops = new(StringComparer.Ordinal);
        private readonly Queue<string> _events = new();

        /// <summary>Keeps a loop's telemetry; null when it is not telemetry.</summary>
        public JsonObject? Telemetry(byte[] payload)
        {
            if (Parse(payload) is not { } t || DeviceText.String(t["loop"]) is not { } loop)
            {
                return null;
            }

            _loops[loop] = (t, DateTimeOffset.UtcNow);
            return t;
        }

        /// <summary>Keeps the event's line among the last few, and returns it.</summary>
        public string? Event(byte[] payload)
        {
            if (Parse(payload) is not { } e)
            {
                return null;
            }

            string line = EventLine(e);
            _events.Enqueue(line);
            while (_events.Count > EventsShown)
            {
                _events.Dequeue();
            }

            // A stopped loop sends no more telemetry: its row shows the state the event gave it.
            if (DeviceText.String(e["name"]) is { } loop && DeviceText.String(e["state"]) is { } state && _loops.TryGetValue(loop, out var row))
            {
                row.Telemetry["state"] = state;
            }

            return line;
        }

        /// <summary>The whole screen: cursor home, each line cleared to its end, the rest of the screen cleared.</summary>
        public string Render(DeviceState? state)
        {
            var screen = new StringBuilder("\u001b[H");
            void Line(string text) => screen.Append(text).Append("\u001b[K\n");

            Line($"kairoctl watch: device {settings.DeviceId} on {settings.Broker}: {state?.Describe() ?? "never seen (nothing retained on " + settings.StateTopic + ")"}");
            Line($"{DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm:ss} UTC");
            Line("");
            if (_loops.Count == 0)
            {
                Line("waiting for telemetry...");
            }
            else
            {
                var rows = new List<string[]>
                {
                    new[] { "loop", "state", "rate Hz", "ticks", "infer p50 µs", "infer p99 µs", "late p99 µs", "misses", "safe", "held", "allocated", "model", "updated" },
                };
                foreach (var (name, (t, at)) in _loops)
                {
                    var outputs = t["outputs"] as JsonObject;
                    rows.Add(
                    [
                        name,
                        DeviceText.String(t["state"]) ?? "-",
                        DeviceText.Rate(DeviceText.Double(t["rateHz"])),
                        DeviceText.Count(DeviceText.Long(t["ticks"])),
                        DeviceText.Micros(Percentile(t, "inferenceNs", "p50")),
                        DeviceText.Micros(Percentile(t, "inferenceNs", "p99")),
                        DeviceText.Micros(Percentile(t, "latenessNs", "p99")),
                        DeviceText.Count(DeviceText.Long(t["deadlineMisses"])),
                        DeviceText.Count(DeviceText.Long(outputs?["safe"])),
                        DeviceText.Count(DeviceText.Long(outputs?["held"])),
                        DeviceText.Bytes(DeviceText.Long(t["allocatedBytes"])),
                        DeviceText.Model(t["model"]),
                        at.ToString("HH:mm:ss", CultureInfo.InvariantCulture),
                    ]);
                }

                foreach (string line in DeviceText.Table(rows, "llrrrrrrrrr"))
                {
                    Line(line);
                }
            }

            Line("");
            Line(_events.Count == 0 ? "no events yet" : $"last {Math.Min(_events.Count, EventsShown)} events:");
            foreach (string e in _events)
            {
                Line("  " + e);
            }

            Line("");
            Line("Ctrl-C to quit");
            screen.Append("\u001b[J");
            return screen.ToString();
        }

        /// <summary>One telemetry message as a line: <c>06:15:34 telemetry drive: rate 30 Hz, ticks 5400, ...</c>.</summary>
        public static string TelemetryLine(JsonObject t)
        {
            var outputs = t["outputs"] as JsonObject;
            return string.Create(CultureInfo.InvariantCulture,
                $"{DeviceText.TimeOfDay(DeviceText.String(t["ts"]))} telemetry {DeviceText.String(t["loop"])}: {DeviceText.String(t["state"]) ?? "-"}, " +
                $"rate {DeviceText.Rate(DeviceText.Double(t["rateHz"]))} Hz, ticks {DeviceText.Count(DeviceText.Long(t["ticks"]))}, " +
                $"inference p50 {DeviceText.Micros(Percentile(t, "inferenceNs", "p50"))} µs p99 {DeviceText.Micros(Percentile(t, "inferenceNs", "p99"))} µs, " +
                $"lateness p99 {DeviceText.Micros(Percentile(t, "latenessNs", "p99"))} µs, misses {DeviceText.Count(DeviceText.Long(t["deadlineMisses"]))}, " +
                $"safe {DeviceText.Count(DeviceText.Long(outputs?["safe"]))}, held {DeviceText.Count(DeviceText.Long(outputs?["held"]))}, " +
                $"allocated {DeviceText.Bytes(DeviceText.Long(t["allocatedBytes"]))}, model {DeviceText.Model(t["model"])}");
        }

        /// <summary><c>06:15:40 event loop.rate drive: 30 -> 50 Hz</c>.</summary>
        private static string EventLine(JsonObject e)
        {
            string type = DeviceText.String(e["type"]) ?? "?";
            string loop = DeviceText.String(e["name"]) is { } n ? $" {n}" : "";
            string detail = type switch
            {
                "loop.rate" => $": {DeviceText.Rate(DeviceText.Double(e["previousRateHz"]))} -> {DeviceText.Rate(DeviceText.Double(e["rateHz"]))} Hz",
                "model.activated" => $": {DeviceText.String(e["previous"]) ?? "?"} -> {DeviceText.Model(e["model"])}",
                _ when DeviceText.String(e["state"]) is { } state => $": {state}",
                _ => "",
            };
            return $"{DeviceText.TimeOfDay(DeviceText.String(e["ts"]))} event {type}{loop}{detail}";
        }

        private static long? Percentile(JsonObject t, string histogram, string percentile) =>
            DeviceText.Long((t[histogram] as JsonObject)?[percentile]);

        private static JsonObject? Parse(byte[] payload)
        {
            try
            {
                return JsonNode.Parse(payload) as JsonObject;
            }
            catch (JsonException)
            {
                return null;
            }
        }
    }
}
