using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Kairo.Daemon.Config;

/// <summary>Checks a parsed profile; each error is "$.json.path: what is wrong; what is expected".</summary>
public static partial class ProfileValidator
{
    public static readonly string[] MissPolicies = ["skip", "hold", "safe"];
    public static readonly string[] SourceTypes = ["synthetic", "udp", "unix", "ring", "replay"];
    public static readonly string[] SinkTypes = ["udp", "unix", "log", "mqtt"];
    public static readonly string[] MqttProtocols = ["5", "3.1.1"];
    public static readonly string[] Patterns = ["wave", "noise", "constant"];
    public static readonly string[] GraphOptimizations = ["disabled", "basic", "extended", "layout", "all"];
    public static readonly string[] OrtSeverities = ["verbose", "info", "warning", "error", "fatal"];
    public static readonly string[] LogLevels = ["trace", "debug", "information", "warning", "error", "critical"];

    public static List<string> Validate(Profile profile)
    {
        var errors = new List<string>();
        void Error(string path, string message) => errors.Add($"{path}: {message}");

        OneOf(profile.OnnxRuntime?.LogSeverity, OrtSeverities, "$.onnxRuntime.logSeverity", Error);
        OneOf(profile.Log?.Level, LogLevels, "$.log.level", Error);
        if (profile.Log?.MetricsIntervalSeconds is < 0 or > 3600)
        {
            Error("$.log.metricsIntervalSeconds", $"{Num(profile.Log.MetricsIntervalSeconds.Value)} is out of range; expected 0 (off) to 3600 seconds");
        }

        if (profile.DeviceId is { } id && !NamePattern().IsMatch(id))
        {
            Error("$.deviceId", $"'{id}' is not a device id; use letters, digits, '-', '_' and '.' (it becomes part of MQTT topics)");
        }

        ValidateMqtt(profile.Mqtt, Error);
        ValidateGpio(profile.Gpio, Error);
        ValidateUpdates(profile.Updates, Error);

        var models = profile.Models ?? [];
        var modelNames = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < models.Count; i++)
        {
            var m = models[i];
            string at = $"$.models[{i}]";
            if (m == null)
            {
                Error(at, "expected a model object, found null");
                continue;
            }

            if (string.IsNullOrEmpty(m.Name))
            {
                Error($"{at}.name", "missing; every model needs a name that loops refer to");
            }
            else if (!NamePattern().IsMatch(m.Name))
            {
                Error($"{at}.name", $"'{m.Name}' is not a name; use letters, digits, '-', '_' and '.'");
            }
            else if (!modelNames.Add(m.Name))
            {
                Error($"{at}.name", $"'{m.Name}' is used by an earlier model; names must be unique");
            }

            if (string.IsNullOrEmpty(m.Path))
            {
                Error($"{at}.path", "missing; give the .onnx file, relative to the profile's directory");
            }

            if (m.Version is < 0)
            {
                Error($"{at}.version", $"{m.Version} is negative; versions count up from 0");
            }

            Range(m.IntraOpThreads, 0, 64, $"{at}.intraOpThreads", "threads (0 lets ONNX Runtime choose)", Error);
            Range(m.InterOpThreads, 0, 64, $"{at}.interOpThreads", "threads (0 lets ONNX Runtime choose)", Error);
            OneOf(m.GraphOptimization, GraphOptimizations, $"{at}.graphOptimization", Error);
            var providers = m.Providers ?? [];
            for (int p = 0; p < providers.Count; p++)
            {
                if (string.IsNullOrWhiteSpace(providers[p]?.Name))
                {
                    Error($"{at}.providers[{p}].name", "missing; e.g. CANN, CUDA, XNNPACK or CPU");
                }
            }
        }

        var loops = profile.Loops ?? [];
        var loopNames = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < loops.Count; i++)
        {
            var l = loops[i];
            string at = $"$.loops[{i}]";
            if (l == null)
            {
                Error(at, "expected a loop object, found null");
                continue;
            }

            if (string.IsNullOrEmpty(l.Name))
            {
                Error($"{at}.name", "missing; every loop needs a name (it appears in topics and logs)");
            }
            else if (!NamePattern().IsMatch(l.Name))
            {
                Error($"{at}.name", $"'{l.Name}' is not a name; use letters, digits, '-', '_' and '.'");
            }
            else if (!loopNames.Add(l.Name))
            {
                Error($"{at}.name", $"'{l.Name}' is used by an earlier loop; names must be unique");
            }

            if (string.IsNullOrEmpty(l.Model))
            {
                Error($"{at}.model", "missing; name one of the profile's models");
            }
            else if (!modelNames.Contains(l.Model))
            {
                Error($"{at}.model", $"'{l.Model}' is not a model of this profile (models: {string.Join(", ", modelNames)})");
            }

            if (l.RateHz is not double rate)
            {
                Error($"{at}.rateHz", "missing; give the loop's rate, 1 to 1000 Hz");
            }
            else if (!(rate >= 1 && rate <= 1000))
            {
                Error($"{at}.rateHz", $"{Num(rate)} is out of range; expected 1 to 1000 Hz");
            }
            else if (l.DeadlineMs is double deadline && !(deadline > 0 && deadline <= 1000 / rate))
            {
                Error($"{at}.deadlineMs", $"{Num(deadline)} ms does not fit the period; expected above 0 and at most {Num(1000 / rate)} ms at {Num(rate)} Hz");
            }

            OneOf(l.MissPolicy, MissPolicies, $"{at}.missPolicy", Error);
            foreach (var (name, values) in l.SafeOutput ?? [])
            {
                if (values == null || values.Length == 0)
                {
                    Error($"{at}.safeOutput.{name}", "empty; give one value (fills the output) or one per element");
                }
            }

            var cpus = l.CpuAffinity ?? [];
            for (int c = 0; c < cpus.Count; c++)
            {
                Range(cpus[c], 0, 1023, $"{at}.cpuAffinity[{c}]", "CPU numbers", Error);
            }

            Range(l.Priority, 1, 99, $"{at}.priority", "SCHED_FIFO priorities", Error);
            foreach (var (name, shape) in l.Inputs ?? [])
            {
                if (shape == null || shape.Any(d => d < 1))
                {
                    Error($"{at}.inputs.{name}", "expected a shape of positive dimensions, e.g. [1, 48]");
                }
            }

            var state = l.State ?? [];
            for (int s = 0; s < state.Count; s++)
            {
                if (string.IsNullOrEmpty(state[s]?.From) || string.IsNullOrEmpty(state[s]?.To))
                {
                    Error($"{at}.state[{s}]", "expected {\"from\": OUTPUT, \"to\": INPUT}");
                }
            }

            ValidateSource(l.Source, $"{at}.source", Error);
            var sinks = l.Sinks ?? [];
            for (int s = 0; s < sinks.Count; s++)
            {
                ValidateSink(sinks[s], $"{at}.sinks[{s}]", Error);
            }
        }

        return errors;
    }

    private static void ValidateSource(SourceSection? source, string at, Action<string, string> error)
    {
        if (source == null)
        {
            error(at, $"missing; every loop needs a source ({string.Join(", ", SourceTypes)})");
            return;
        }

        if (!OneOf(source.Type, SourceTypes, $"{at}.type", error, required: true))
        {
            return;
        }

        OneOf(source.Pattern, Patterns, $"{at}.pattern", error);
        switch (source.Type)
        {
            case "udp":
                Address(source.Address, $"{at}.address", error);
                break;
            case "unix":
            case "ring":
            case "replay":
                if (string.IsNullOrEmpty(source.Path))
                {
                    error($"{at}.path", $"missing; a {source.Type} source needs a path");
                }

                break;
        }

        Range(source.Slots, 2, 1024, $"{at}.slots", "ring slots", error);
    }

    private static void ValidateSink(SinkSection? sink, string at, Action<string, string> error)
    {
        if (sink == null)
        {
            error(at, "expected a sink object, found null");
            return;
        }

        if (!OneOf(sink.Type, SinkTypes, $"{at}.type", error, required: true))
        {
            return;
        }

        switch (sink.Type)
        {
            case "udp":
                Address(sink.Address, $"{at}.address", error);
                break;
            case "unix":
                if (string.IsNullOrEmpty(sink.Path))
                {
                    error($"{at}.path", "missing; a unix sink needs the actuator's socket path");
                }

                break;
        }

        Range(sink.EveryTicks, 1, 1_000_000, $"{at}.everyTicks", "ticks", error);
        Range(sink.Qos, 0, 1, $"{at}.qos", "MQTT QoS for outputs", error);
        if (sink.Topic is { } topic && (topic.Length == 0 || topic.Contains('+') || topic.Contains('#')))
        {
            error($"{at}.topic", $"'{topic}' is not a topic to publish to; no '+' or '#'");
        }
    }

    /// <summary>Checks a broker URL as --broker and the profile give it; null when it is fine.</summary>
    public static string? CheckBroker(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != "mqtt" && uri.Scheme != "mqtts") || string.IsNullOrEmpty(uri.Host))
        {
            return $"'{url}' is not a broker URL; expected mqtt://HOST:PORT or mqtts://HOST:PORT";
        }

        return uri.AbsolutePath is "" or "/" ? null : $"'{url}' has a path; expected mqtt://HOST:PORT or mqtts://HOST:PORT";
    }

    public static readonly string[] ActiveLevels = ["high", "low"];
    public static readonly string[] Biases = ["as-is", "disabled", "pull-up", "pull-down"];

    private static void ValidateGpio(GpioSection? gpio, Action<string, string> error)
    {
        if (gpio == null)
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(gpio.Chip))
        {
            error("$.gpio.chip", "missing; give the chip (gpiochip0, /dev/gpiochip0, its label) or \"simulated\"");
        }

        var lines = new Dictionary<int, string>();
        void Line(int? line, string at)
        {
            if (line is not int l)
            {
                error($"{at}.line", "missing; give the line offset on the chip");
            }
            else if (l is < 0 or > 1023)
            {
                error($"{at}.line", $"{l} is out of range; expected 0 to 1023");
            }
            else if (!lines.TryAdd(l, at))
            {
                error($"{at}.line", $"line {l} is already used by {lines[l]}");
            }
        }

        if (gpio.Estop is { } estop)
        {
            Line(estop.Line, "$.gpio.estop");
            OneOf(estop.ActiveLevel, ActiveLevels, "$.gpio.estop.activeLevel", error);
            OneOf(estop.Bias, Biases, "$.gpio.estop.bias", error);
            if (estop.DebounceMs is < 0 or > 1000)
            {
                error("$.gpio.estop.debounceMs", $"{Num(estop.DebounceMs.Value)} is out of range; expected 0 to 1000 ms");
            }
        }

        if (gpio.Heartbeat is { } heartbeat)
        {
            Line(heartbeat.Line, "$.gpio.heartbeat");
            if (heartbeat.PeriodMs is < 10 or > 60_000)
            {
                error("$.gpio.heartbeat.periodMs", $"{Num(heartbeat.PeriodMs.Value)} is out of range; expected 10 to 60000 ms");
            }
        }

        if (gpio.Status is { } status)
        {
            Line(status.Line, "$.gpio.status");
        }
    }

    private static void ValidateMqtt(MqttSection? mqtt, Action<string, string> error)
    {
        if (mqtt == null)
        {
            return;
        }

        if (mqtt.Broker is { } broker && CheckBroker(broker) is { } problem)
        {
            error("$.mqtt.broker", problem);
        }

        OneOf(mqtt.Protocol, MqttProtocols, "$.mqtt.protocol", error);
        if (mqtt.Prefix is { } prefix && (prefix.Length == 0 || prefix.Contains('+') || prefix.Contains('#') || prefix.EndsWith('/')))
        {
            error("$.mqtt.prefix", $"'{prefix}' is not a topic prefix; no '+', '#' or trailing '/'");
        }

        if (mqtt.KeepAliveSeconds is < 5 or > 3600 || mqtt.KeepAliveSeconds is double k && k != Math.Floor(k))
        {
            error("$.mqtt.keepAliveSeconds", $"{Num(mqtt.KeepAliveSeconds.Value)} is not a whole number of seconds from 5 to 3600");
        }

        if (mqtt.TelemetryIntervalSeconds is < 0 or > 3600)
        {
            error("$.mqtt.telemetryIntervalSeconds", $"{Num(mqtt.TelemetryIntervalSeconds.Value)} is out of range; expected 0 (off) to 3600 seconds");
        }

        Range(mqtt.MaxPayloadBytes, 256, 16 * 1024 * 1024, "$.mqtt.maxPayloadBytes", "bytes", error);
        if (mqtt.Tls != null && mqtt.Tls.CertFile is null != mqtt.Tls.KeyFile is null)
        {
            error("$.mqtt.tls", "certFile and keyFile go together: give both for a client certificate, or neither");
        }
    }

    private static void ValidateUpdates(UpdatesSection? updates, Action<string, string> error)
    {
        if (updates == null)
        {
            return;
        }

        var keys = updates.TrustedKeys ?? [];
        for (int i = 0; i < keys.Count; i++)
        {
            if (string.IsNullOrEmpty(keys[i]))
            {
                error($"$.updates.trustedKeys[{i}]", "empty; give a public key file (PEM, from kairoctl keygen), relative to the profile");
            }
        }

        if (updates.Threshold is int threshold && (threshold < 1 || (keys.Count > 0 && threshold > keys.Count)))
        {
            error("$.updates.threshold", keys.Count > 0
                ? $"{threshold} is out of range; expected 1 to the {keys.Count} trusted keys"
                : $"{threshold} is out of range; expected 1 or more, and no more than the trusted keys listed");
        }

        Range(updates.KeepVersions, 0, 100, "$.updates.keepVersions", "older versions kept besides the active one and the rollback target", error);
        if (updates.HealthWindowSeconds is < 0.1 or > 3600)
        {
            error("$.updates.healthWindowSeconds", $"{Num(updates.HealthWindowSeconds.Value)} is out of range; expected 0.1 to 3600 seconds");
        }

        if (updates.MaxMissRatio is < 0 or > 1)
        {
            error("$.updates.maxMissRatio", $"{Num(updates.MaxMissRatio.Value)} is out of range; expected 0 (no miss allowed) to 1");
        }

        if (updates.Download is { } download)
        {
            Range(download.Attempts, 1, 100, "$.updates.download.attempts", "attempts", error);
            if (download.MinBytesPerSecond is < 0)
            {
                error("$.updates.download.minBytesPerSecond", $"{download.MinBytesPerSecond} is negative; expected 0 (no minimum) or more bytes per second");
            }

            if (download.ThroughputWindowSeconds is < 1 or > 3600)
            {
                error("$.updates.download.throughputWindowSeconds", $"{Num(download.ThroughputWindowSeconds.Value)} is out of range; expected 1 to 3600 seconds");
            }

            if (download.ConnectTimeoutSeconds is < 1 or > 600)
            {
                error("$.updates.download.connectTimeoutSeconds", $"{Num(download.ConnectTimeoutSeconds.Value)} is out of range; expected 1 to 600 seconds");
            }

            if (download.ReserveMegabytes is < 0 or > 1 << 20)
            {
                error("$.updates.download.reserveMegabytes", $"{download.ReserveMegabytes} is out of range; expected 0 to 1048576 MiB (1 TiB)");
            }
        }
    }

    private static void Address(string? address, string at, Action<string, string> error)
    {
        if (string.IsNullOrEmpty(address))
        {
            error(at, "missing; expected IP:PORT such as 127.0.0.1:9000");
        }
        else if (!IPEndPoint.TryParse(address, out var endpoint) || endpoint.Port == 0)
        {
            error(at, $"'{address}' is not an address; expected IP:PORT such as 127.0.0.1:9000 or [::1]:9000");
        }
    }

    private static bool OneOf(string? value, string[] allowed, string at, Action<string, string> error, bool required = false)
    {
        if (value == null)
        {
            if (required)
            {
                error(at, $"missing; expected one of {string.Join(", ", allowed)}");
            }

            return !required;
        }

        if (Array.IndexOf(allowed, value) < 0)
        {
            error(at, $"'{value}' is not allowed; expected one of {string.Join(", ", allowed)}");
            return false;
        }

        return true;
    }

    private static void Range(int? value, int min, int max, string at, string what, Action<string, string> error)
    {
        if (value is int v && (v < min || v > max))
        {
            error(at, $"{v} is out of range; expected {min} to {max} ({what})");
        }
    }

    private static string Num(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex NamePattern();
}
