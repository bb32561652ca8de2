using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Kairo.Ctl.Device;

/// <summary>
/// <c>kairoctl status --device ID</c>: the device's retained state and its <c>status</c> reply as a summary (versions,
/// uptime, request counters, a table of loops with their tick counts from <c>metrics.get</c>); <c>--json</c> prints
/// the reply's data as it came. Exit codes as <see cref="DeviceExit"/>.
/// </summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var device = new DeviceOptions();
        var json = new Option<bool>("--json") { Description = "Print the data of the status reply as JSON instead of the summary." };
        var command = new Command("status", "Show a device's state, versions, uptime, request counters and loops, over MQTT.");
        device.AddTo(command);
        command.Options.Add(json);
        command.SetAction(parse => DeviceCommandRunner.Run("status", () => Run(device.Read(parse), parse.GetValue(json))));
        return command;
    }

    private static int Run(DeviceSettings settings, bool json)
    {
        using var connection = DeviceConnection.Open(settings);
        connection.RequireOnline();
        DeviceReply status = connection.Request("status");
        if (!status.Ok)
        {
            return DeviceCommandRunner.ErrorReply("status", status);
        }

        if (json)
        {
            Console.Out.WriteLine(DeviceText.Pretty(status.Data));
            return DeviceExit.Ok;
        }

        // Tick counts and misses are metrics, not part of status; a device that cannot give them still has a status.
        JsonArray? metrics = null;
        try
        {
            metrics = connection.Request("metrics.get") is { Ok: true, Data: JsonArray all } ? all : null;
        }
        catch (DeviceException)
        {
        }

        Write(Console.Out, connection, status.Data as JsonObject ?? [], metrics);
        return DeviceExit.Ok;
    }

    private static void Write(TextWriter output, DeviceConnection connection, JsonObject status, JsonArray? metrics)
    {
        var settings = connection.Settings;
        output.WriteLine($"device {settings.DeviceId} on {settings.Broker}: {connection.State?.Describe() ?? "state unknown"}");

        var about = new List<string>
        {
            $"kairo {DeviceText.String(status["kairo"]) ?? "?"}",
            $"ONNX Runtime {DeviceText.String(status["onnxRuntime"]) ?? "?"}",
        };
        if (DeviceText.String(status["board"]) is { } board)
        {
            about.Add($"board {board}");
        }

        if (DeviceText.Double(status["uptimeSeconds"]) is { } uptime)
        {
            about.Add($"up {DeviceText.Duration(uptime)}");
        }

        if (DeviceText.String(status["logLevel"]) is { } level)
        {
            about.Add($"log level {level}");
        }

        output.WriteLine(string.Join(", ", about));

        if (status["mqtt"] is JsonObject mqtt)
        {
            string link = DeviceText.Bool(mqtt["connected"]) == true ? "connected" : "not connected";
            string protocol = DeviceText.String(mqtt["protocol"]) is { } p ? $" (MQTT {p})" : "";
            string requests = mqtt["requests"] is JsonObject r
                ? string.Create(CultureInfo.InvariantCulture,
                    $"; requests: {DeviceText.Count(DeviceText.Long(r["received"]))} received, {DeviceText.Count(DeviceText.Long(r["executed"]))} executed, " +
                    $"{DeviceText.Count(DeviceText.Long(r["rejected"]))} rejected, {DeviceText.Count(DeviceText.Long(r["busy"]))} busy, " +
                    $"{DeviceText.Count(DeviceText.Long(r["unanswerable"]))} unanswerable")
                : "";
            output.WriteLine($"mqtt: {link}{protocol}{requests}");
        }

        var loops = (status["loops"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        output.WriteLine();
        if (loops.Count == 0)
        {
            output.WriteLine("no loops");
            return;
        }

        var byLoop = (metrics ?? []).OfType<JsonObject>()
            .Where(m => DeviceText.String(m["loop"]) != null)
            .ToDictionary(m => DeviceText.String(m["loop"])!, StringComparer.Ordinal);
        var rows = new List<string[]> { new[] { "loop", "state", "rate Hz", "model", "ticks", "misses", "infer p50 µs", "miss policy", "source" } };
        foreach (var loop in loops)
        {
            string name = DeviceText.String(loop["name"]) ?? "?";
            byLoop.TryGetValue(name, out var m);
            string state = DeviceText.String(loop["state"]) ?? "?";
            if (DeviceText.Bool(loop["safeOverride"]) == true)
            {
                state += " (safe override)";
            }

            string model = DeviceText.Model(loop["model"]);
            if (loop["model"] is JsonObject mo && DeviceText.String(mo["release"]) is { Length: > 0 } release)
            {
                model += $" ({release})";
            }

            rows.Add(
            [
                name,
                state,
                DeviceText.Rate(DeviceText.Double(loop["rateHz"])),
                model,
                DeviceText.Count(DeviceText.Long(m?["ticks"])),
                DeviceText.Count(DeviceText.Long(m?["deadlineMisses"])),
                DeviceText.Micros(DeviceText.Long((m?["inferenceNs"] as JsonObject)?["p50"])),
                DeviceText.String(loop["missPolicy"]) ?? "-",
                DeviceText.String(loop["source"]) ?? "-",
            ]);
        }

        foreach (string line in DeviceText.Table(rows, "llrlrrr"))
        {
            output.WriteLine(line);
        }
    }
}

/// <summary>What every device command does around its work: the errors it ends with, on stderr, and their exit codes.</summary>
internal static class DeviceCommandRunner
{
    public static int Run(string command, Func<int> work)
    {
        try
        {
            return work();
        }
        catch (DeviceException e)
        {
            Console.Error.WriteLine($"kairoctl {command}: {e.Message}");
            return e.ExitCode;
        }
    }

    /// <summary>Says what the device refused, by its stable code, and returns <see cref="DeviceExit.ErrorReply"/>.</summary>
    public static int ErrorReply(string command, DeviceReply reply)
    {
        Console.Error.WriteLine($"kairoctl {command}: the device refused: {reply.Code}: {reply.Message}");
        return DeviceExit.ErrorReply;
    }
}
