using System.Text.Json;
using System.Text.Json.Nodes;
using Kairo.Control.Plane;
using Kairo.Daemon.Config;
using Kairo.Daemon.Logging;
using Kairo.Onnx;
using Kairo.Runtime.Loops;

namespace Kairo.Daemon;

/// <summary>The commands of docs/control-plane.md that act on this device's loops, models and settings.</summary>
internal sealed class DeviceCommands(Daemon daemon, ConsoleLog log)
{
    private static readonly string[] LogLevels = ProfileValidator.LogLevels;

    public void Register(CommandDispatcher dispatcher)
    {
        var ping = CommandReply.Success(WritePong);
        dispatcher.Register("ping", _ => ping);
        var status = CommandReply.Success(WriteStatus);
        dispatcher.Register("status", _ => status);
        dispatcher.Register("loop.start", LoopStart);
        dispatcher.Register("loop.stop", LoopStop);
        dispatcher.Register("loop.set-rate", LoopSetRate);
        dispatcher.Register("model.list", _ => CommandReply.Success(Models()));
        dispatcher.Register("model.activate", ModelActivate);
        dispatcher.Register("config.get", _ => CommandReply.Success(JsonSerializer.SerializeToNode(daemon.Profile.Profile, ProfileJsonContext.Default.Profile)));
        dispatcher.Register("metrics.get", MetricsGet);
        dispatcher.Register("log.level", LogLevel);
        dispatcher.Register("gpio.simulate", GpioSimulate);
        if (daemon.Updates is { } updates)
        {
            foreach (string name in (string[])["ota.start", "ota.status", "ota.cancel", "ota.rollback"])
            {
                dispatcher.Register(name, updates);
            }
        }
        else
        {
            dispatcher.RegisterFamily("ota.", request => CommandReply.Error(ErrorCodes.Unavailable,
                $"{request.Name}: over-the-air updates are off on this device: its profile trusts no key ($.updates.trustedKeys)"));
        }
    }

    /// <summary>The <c>status</c> reply's data, written straight into the reply.</summary>
    public void WriteStatus(Utf8JsonWriter w)
    {
        var plane = daemon.ControlPlane;
        w.WriteStartObject();
        w.WriteString("deviceId"u8, daemon.DeviceId);
        w.WriteString("board"u8, daemon.Profile.Profile.Board);
        w.WriteString("kairo"u8, DaemonCommand.KairoVersion);
        w.WriteString("onnxRuntime"u8, OnnxRuntimeLibrary.Version);
        w.WriteNumber("uptimeSeconds"u8, Math.Round(daemon.Uptime.TotalSeconds, 3));
        w.WriteString("logLevel"u8, LowerName.Of(log.Minimum));
        if (plane == null)
        {
            w.WriteNull("mqtt"u8);
        }
        else
        {
            w.WriteStartObject("mqtt"u8);
            w.WriteBoolean("connected"u8, plane.IsConnected);
            w.WriteString("protocol"u8, plane.Client.ProtocolVersion == Control.Mqtt.MqttProtocolVersion.Mqtt5 ? "5" : "3.1.1");
            w.WriteStartObject("requests"u8);
            w.WriteNumber("received"u8, plane.Counters.Received);
            w.WriteNumber("executed"u8, plane.Counters.Executed);
            w.WriteNumber("rejected"u8, plane.Counters.Rejected);
            w.WriteNumber("busy"u8, plane.Counters.Busy);
            w.WriteNumber("unanswerable"u8, plane.Counters.Unanswerable);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        if (daemon.Hardware is { } hw)
        {
            w.WriteStartObject("gpio"u8);
            w.WriteString("chip"u8, hw.Chip);
            w.WriteString("estop"u8, hw.HasEmergencyStop ? (hw.EmergencyStopEngaged ? "engaged" : "released") : "none");
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("gpio"u8);
        }

        w.WriteStartArray("loops"u8);
        foreach (var loop in daemon.Loops)
        {
            LoopReport.WriteDescription(w, loop);
        }

        w.WriteEndArray();
        w.WritePropertyName("gc"u8);
        ProcessReport.WriteGc(w, daemon.Pacer);
        w.WriteEndObject();
    }

    /// <summary>Drives an input line of the simulated chip, as a wire would: for demos and tests of boards without GPIO.</summary>
    private CommandReply GpioSimulate(CommandRequest request)
    {
        var simulated = daemon.Hardware?.Simulated
            ?? throw new CommandException(ErrorCodes.Unavailable, "gpio.simulate drives the simulated chip only; this device's profile has gpio.chip other than \"simulated\"");
        double line = request.RequireNumber("line");
        if (line != Math.Floor(line) || line < 0 || line >= simulated.LineCount)
        {
            throw new CommandException(ErrorCodes.InvalidArgument, $"line {line} is not a line of the simulated chip (0 to {simulated.LineCount - 1})");
        }

        if (!request.Arguments.ContainsKey("level"))
        {
            throw new CommandException(ErrorCodes.InvalidArgument, "'level' is required: true (high) or false (low)");
        }

        if (request.Arguments["level"] is not JsonValue value || !value.TryGetValue(out bool level))
        {
            throw new CommandException(ErrorCodes.BadRequest, "'level' must be true (high) or false (low)");
        }

        simulated.SetInput((int)line, level);
        return CommandReply.Success(new JsonObject { ["line"] = (int)line, ["level"] = level });
    }

    public JsonArray Models()
    {
        var models = new JsonArray();
        foreach (var m in daemon.Profile.Profile.Models ?? [])
        {
            // The version that runs: one an update installed, else the profile's.
            var installed = daemon.UpdateAgent?.Store.Find(m.Name!)?.Active;
            models.Add((JsonNode)new JsonObject
            {
                ["name"] = m.Name,
                ["version"] = installed?.Version ?? m.Version ?? 0,
                ["release"] = installed?.Release ?? m.Release ?? "",
                ["path"] = installed is null ? m.Path : $"store/packages/{installed.Digest}/model.onnx",
                ["activeIn"] = new JsonArray(daemon.Loops.Where(l => l.Model.Name == m.Name).Select(l => (JsonNode?)l.Name).ToArray()),
            });
        }

        return models;
    }

    private ControlLoop FindLoop(CommandRequest request)
    {
        string name = request.RequireString("loop");
        return daemon.Loops.FirstOrDefault(l => l.Name == name)
            ?? throw new CommandException(ErrorCodes.NotFound, $"no loop '{name}'; loops: {string.Join(", ", daemon.Loops.Select(l => l.Name))}");
    }

    private CommandReply LoopStart(CommandRequest request)
    {
        var loop = FindLoop(request);
        bool wasRunning = loop.State == LoopState.Running;
        loop.Start();
        if (!wasRunning)
        {
            daemon.LoopChanged(loop, "loop.started");
        }

        return CommandReply.Success(LoopReport.Describe(loop), wasRunning ? "already running" : "started");
    }

    private CommandReply LoopStop(CommandRequest request)
    {
        var loop = FindLoop(request);
        bool wasRunning = loop.State == LoopState.Running;
        loop.Stop();
        if (wasRunning)
        {
            daemon.LoopChanged(loop, "loop.stopped");
        }

        return CommandReply.Success(LoopReport.Describe(loop), wasRunning ? "stopped; its last output was the safe output" : "already stopped");
    }

    private CommandReply LoopSetRate(CommandRequest request)
    {
        var loop = FindLoop(request);
        double rate = request.RequireNumber("rateHz");
        if (!(rate >= LoopOptions.MinRateHz && rate <= LoopOptions.MaxRateHz))
        {
            throw new CommandException(ErrorCodes.InvalidArgument, $"rateHz {rate} is out of range; expected {LoopOptions.MinRateHz} to {LoopOptions.MaxRateHz}");
        }

        double previous = loop.RateHz;
        loop.SetRate(rate);
        daemon.LoopChanged(loop, "loop.rate", new JsonObject { ["previousRateHz"] = previous });
        return CommandReply.Success(LoopReport.Describe(loop), $"{previous:0.###} Hz -> {rate:0.###} Hz from the next tick");
    }

    private CommandReply ModelActivate(CommandRequest request)
    {
        var loop = FindLoop(request);
        if (daemon.UpdateAgent?.IsBusy == true)
        {
            // The update judges and may roll back the model it swapped in; a swap beside it would be judged as its own.
            throw new CommandException(ErrorCodes.Busy, "an over-the-air update or rollback is running (ota.status); activate a model once it has ended");
        }

        string model = request.RequireString("model");
        if (daemon.Profile.Profile.Models?.Any(m => m.Name == model) != true)
        {
            throw new CommandException(ErrorCodes.NotFound, $"no model '{model}'; models: {string.Join(", ", (daemon.Profile.Profile.Models ?? []).Select(m => m.Name))}");
        }

        ModelInstance next;
        try
        {
            next = ModelInstance.Load(daemon.Factory.ModelSource(model), loop.Options, loop.Layout);
        }
        catch (Exception e) when (e is LoopConfigurationException or OnnxRuntimeException)
        {
            throw new CommandException(ErrorCodes.Conflict, e.Message);
        }

        var previous = loop.Swap(next, TimeSpan.FromSeconds(5));
        string from = $"{previous.Name} v{previous.Version}";
        previous.Dispose();
        daemon.LoopChanged(loop, "model.activated", new JsonObject { ["previous"] = from });
        return CommandReply.Success(LoopReport.Describe(loop), $"{loop.Name}: {from} -> {next.Name} v{next.Version} between two ticks");
    }

    private void WritePong(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteBoolean("pong"u8, true);
        w.WriteString("ts"u8, DateTimeOffset.UtcNow);
        w.WriteNumber("uptimeSeconds"u8, Math.Round(daemon.Uptime.TotalSeconds, 3));
        w.WriteEndObject();
    }

    private CommandReply MetricsGet(CommandRequest request)
    {
        if (request.OptionalString("loop") is not null)
        {
            var loop = FindLoop(request);
            return CommandReply.Success(w => LoopReport.WriteMetrics(w, loop, recentMisses: true));
        }

        return CommandReply.Success(w =>
        {
            w.WriteStartArray();
            foreach (var loop in daemon.Loops)
            {
                LoopReport.WriteMetrics(w, loop, recentMisses: true);
            }

            w.WriteEndArray();
        });
    }

    private CommandReply LogLevel(CommandRequest request)
    {
        string level = request.RequireString("level");
        if (Array.IndexOf(LogLevels, level) < 0)
        {
            throw new CommandException(ErrorCodes.InvalidArgument, $"level '{level}' is not one of {string.Join(", ", LogLevels)}");
        }

        var previous = log.Minimum;
        log.Minimum = ConsoleLog.ParseLevel(level);
        return CommandReply.Success(new JsonObject { ["level"] = level, ["previous"] = previous.ToString().ToLowerInvariant() });
    }
}
