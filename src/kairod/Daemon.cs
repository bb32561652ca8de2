using System.Globalization;
using System.Runtime.InteropServices;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Kairo.Control.Mqtt;
using Kairo.Control.Plane;
using Kairo.Daemon.Config;
using Kairo.Daemon.Logging;
using Kairo.Daemon.Updates;
using Kairo.Hardware.Systemd;
using Kairo.Onnx;
using Kairo.Runtime.Loops;
using Kairo.Runtime.Metrics;
using Kairo.Runtime.Sinks;
using Kairo.Runtime.Sources;
using Kairo.Updates.Device;
using Kairo.Updates.Packages;
using Kairo.Updates.Signing;
using Microsoft.Extensions.Logging;

namespace Kairo.Daemon;

/// <summary>What differs per machine and may be given on the command line instead of in the profile.</summary>
internal sealed record Overrides(string? DeviceId, string? StateDir, string? Broker = null, string? OnnxRuntime = null);

/// <summary>The daemon's life: load the profile's models, run its loops, report, and stop cleanly on a signal.</summary>
internal sealed class Daemon : IDisposable
{
    private readonly LoadedProfile _loaded;
    private readonly ConsoleLog _log;
    private readonly ILogger _logger;
    private readonly List<ControlLoop> _loops = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly string _stateDirectory;
    private readonly string _deviceId;
    private readonly string? _broker;
    private readonly string? _onnxRuntime;
    private readonly long _started = Stopwatch.GetTimestamp();
    private LoopFactory? _factory;
    private readonly SystemdNotifier _systemd;
    private IDisposable? _watchdog;
    private Dictionary<ControlLoop, long> _watchdogTicks = [];
    private bool _estopReported;

    public Daemon(LoadedProfile loaded, Overrides overrides, ConsoleLog log)
    {
        _loaded = loaded;
        _log = log;
        _logger = log.CreateLogger("kairod");
        _deviceId = overrides.DeviceId ?? loaded.Profile.DeviceId ?? Environment.MachineName;
        _stateDirectory = Path.GetFullPath(overrides.StateDir ?? loaded.Profile.StateDir ?? "/var/lib/kairo");
        _broker = overrides.Broker ?? loaded.Profile.Mqtt?.Broker;
        _onnxRuntime = overrides.OnnxRuntime ?? loaded.Profile.OnnxRuntime?.LibraryPath;
        _systemd = SystemdNotifier.FromEnvironment(log.CreateLogger("systemd"));
    }

    /// <summary>The board's GPIO, when the profile has a gpio section.</summary>
    public HardwareHost? Hardware { get; private set; }

    public IReadOnlyList<ControlLoop> Loops => _loops;

    public LoadedProfile Profile => _loaded;

    public string DeviceId => _deviceId;

    public TimeSpan Uptime => Stopwatch.GetElapsedTime(_started);

    internal LoopFactory Factory => _factory ?? throw new InvalidOperationException("the daemon has not started");

    /// <summary>Runs garbage collections in the loops' idle time, while any loop is configured.</summary>
    public CollectionPacer? Pacer { get; private set; }

    /// <summary>The MQTT control plane, when a broker is configured.</summary>
    public ControlPlane? ControlPlane { get; private set; }

    /// <summary>The handler of the <c>ota.*</c> commands, when updates are configured.</summary>
    public Func<CommandRequest, CommandReply>? Updates { get; set; }

    /// <summary>Over-the-air updates, when the profile trusts at least one key ($.updates.trustedKeys).</summary>
    public UpdateAgent? UpdateAgent { get; private set; }

    /// <summary>Crash-test pause points of the update flow (<c>KAIRO_UPDATE_PAUSE</c>, comma-separated); empty in service.</summary>
    public IReadOnlySet<string> UpdatePausePoints { get; init; } = new HashSet<string>();

    /// <summary>Tells the control plane a loop changed: an event, and a fresh birth.</summary>
    public void LoopChanged(ControlLoop loop, string eventType, JsonObject? extra = null)
    {
        var fields = LoopReport.Describe(loop);
        foreach (var (key, value) in extra ?? [])
        {
            fields[key] = value?.DeepClone();
        }

        _logger.LogInformation("{Event}: loop {Loop} {State} at {Rate} Hz, model {Model} v{Version}", eventType, loop.Name, loop.State.ToString().ToLowerInvariant(), loop.RateHz, loop.Model.Name, loop.Model.Version);
        ControlPlane?.PublishEvent(eventType, fields);
        ControlPlane?.PublishBirth();
    }

    /// <summary>Runs until SIGTERM or SIGINT; returns the process exit code.</summary>
    public int Run()
    {
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnStopSignal);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnStopSignal);
        using var hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            Reload();
        });

        try
        {
            Start();
        }
        catch (Exception e) when (e is ProfileException or LoopConfigurationException or OnnxRuntimeException or DllNotFoundException or IOException or UnauthorizedAccessException or InvalidOperationException or FormatException or ArgumentException or MosquittoException or Kairo.Updates.UpdateException or InvalidDataException)
        {
            _logger.LogCritical("cannot start: {Message}", e.Message);
            return 1;
        }

        ReportUntilStopped();
        _watchdog?.Dispose();
        Pacer?.Dispose();
        UpdateAgent?.Dispose(); // an update in progress stays in the journal; the next start resumes or settles it
        StopLoops();
        Hardware?.SetStatus(false);
        ControlPlane?.Stop(TimeSpan.FromSeconds(3)); // says offline, then disconnects without the will
        _logger.LogInformation("stopped");
        return 0;
    }

    private void OnStopSignal(PosixSignalContext context)
    {
        context.Cancel = true; // stop gracefully instead of the runtime's immediate exit
        _logger.LogInformation("{Signal}: stopping", context.Signal);
        _systemd.Stopping($"{context.Signal}: stopping");
        _stop.Cancel();
    }

    private void Start()
    {
        var profile = _loaded.Profile;
        OnnxRuntimeLibrary.Load(_onnxRuntime, OrtSeverity(profile.OnnxRuntime?.LogSeverity));
        Directory.CreateDirectory(_stateDirectory);
        _logger.LogInformation(
            "kairod {Version} device {Device} board {Board}, profile {Profile}, state {State}; onnxruntime {Ort} with {Providers}",
            DaemonCommand.KairoVersion, _deviceId, profile.Board ?? "unnamed", _loaded.Source, _stateDirectory,
            OnnxRuntimeLibrary.Version, string.Join(", ", OnnxRuntimeLibrary.AvailableProviders));

        if (profile.Gpio is { } gpio)
        {
            Hardware = new HardwareHost(gpio, _log.CreateLogger("gpio"));
        }

        UpdateAgent = CreateUpdateAgent(); // before the control plane, whose birth lists the ota commands
        UpdateAgent?.Recover(); // before any loop loads a model: an interrupted commit decides which version that is
        ControlPlane = CreateControlPlane();
        var factory = _factory = new LoopFactory(_loaded, _stateDirectory, _log, ControlPlane, UpdateAgent);
        var sections = profile.Loops ?? [];
        for (int i = 0; i < sections.Count; i++)
        {
            var section = sections[i];
            try
            {
                _loops.Add(CreateLoop(factory, section));
            }
            catch (Exception e) when (e is LoopConfigurationException or OnnxRuntimeException or IOException or InvalidOperationException or FormatException or System.Net.Sockets.SocketException)
            {
                throw new LoopConfigurationException($"$.loops[{i}] ({section.Name}): {e.Message}");
            }
        }

        if (Hardware != null)
        {
            Hardware.EmergencyStopChanged += OnEmergencyStop;
            try
            {
                Hardware.Start();
            }
            catch (Kairo.Hardware.Gpio.GpioException e)
            {
                throw new LoopConfigurationException($"$.gpio.chip: {e.Message}");
            }
        }

        // Start-up's garbage (the profile, model loading, warm-up) is collected now, while no loop runs, so that
        // neither this collection nor the heap it leaves behind falls on a tick.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        foreach (var (loop, section) in _loops.Zip(sections))
        {
            if (section.AutoStart ?? true)
            {
                loop.Start();
                foreach (string warning in loop.Warnings)
                {
                    _logger.LogWarning("{Warning}", warning);
                }
            }
        }

        if (_loops.Count == 0)
        {
            _logger.LogWarning("the profile has no loops: nothing runs until one is configured");
        }
        else
        {
            // Collections in the loops' idle time, on a thread above every normal one when the loops run real-time.
            Pacer = new CollectionPacer(() => _loops, new CollectionPacerOptions { Priority = _loops.Any(l => l.Options.Priority != null) ? 1 : null });
            Pacer.Start();
            foreach (string warning in Pacer.Warnings)
            {
                _logger.LogWarning("{Warning}", warning);
            }
        }

        if (UpdateAgent?.Recovered is { } recovered && ControlPlane is { } plane)
        {
            // The end of an update settled at start reaches ota/{jobId} and events once the broker is there.
            void Announce(object? sender, Control.Mqtt.MqttConnectedEventArgs e)
            {
                plane.Client.Connected -= Announce;
                UpdateCommands.Publish(plane, recovered);
            }

            plane.Client.Connected += Announce;
        }

        ControlPlane?.Start();
        UpdateAgent?.ResumeInterrupted();
        Hardware?.SetStatus(true);
        _watchdogTicks = _loops.ToDictionary(l => l, l => l.Metrics.Ticks);
        _watchdog = _systemd.StartWatchdog(Healthy);
        _systemd.Ready(Summary());
    }

    private string Summary() =>
        $"{_loops.Count(l => l.State == LoopState.Running)} of {_loops.Count} loops running" +
        (Hardware?.EmergencyStopEngaged == true ? "; emergency stop engaged" : "") +
        (ControlPlane != null ? $"; MQTT {(ControlPlane.IsConnected ? "connected" : "connecting")}" : "");

    /// <summary>Healthy while every running loop has ticked since the last keep-alive: a stuck loop stops them.</summary>
    private bool Healthy()
    {
        bool healthy = true;
        foreach (var loop in _loops)
        {
            long ticks = loop.Metrics.Ticks;
            if (loop.State == LoopState.Running && _watchdogTicks.TryGetValue(loop, out long last) && ticks == last)
            {
                healthy = false;
            }

            _watchdogTicks[loop] = ticks;
        }

        return healthy;
    }

    private void OnEmergencyStop(bool engaged)
    {
        foreach (var loop in _loops)
        {
            loop.SetSafeOverride(engaged);
        }

        bool first = !_estopReported;
        _estopReported = true;
        if (first)
        {
            _logger.Log(engaged ? LogLevel.Warning : LogLevel.Information, "emergency stop {State} at start", engaged ? "engaged: every loop starts on its safe output" : "released");
        }
        else if (engaged)
        {
            _logger.LogWarning("emergency stop engaged: every loop emits its safe output until it is released");
        }
        else
        {
            _logger.LogInformation("emergency stop released: loops run their models again");
        }

        ControlPlane?.PublishEvent(engaged ? "estop.engaged" : "estop.released");
        _systemd.Status(Summary());
    }

    private ControlPlane? CreateControlPlane()
    {
        var mqtt = _loaded.Profile.Mqtt;
        if (_broker == null)
        {
            _logger.LogInformation("no MQTT broker configured ($.mqtt.broker or --broker): the control plane is off");
            return null;
        }

        long sequence = NextBirthSequence();
        var options = new ControlPlaneOptions
        {
            DeviceId = _deviceId,
            Prefix = mqtt?.Prefix ?? "kairo/{deviceId}",
            BirthSequence = sequence,
            MaxPayloadBytes = mqtt?.MaxPayloadBytes ?? 64 * 1024,
            TelemetryInterval = TimeSpan.FromSeconds(mqtt?.TelemetryIntervalSeconds ?? 1),
            Mqtt = new MqttClientOptions
            {
                Uri = _broker,
                ClientId = mqtt?.ClientId ?? $"kairod-{_deviceId}",
                KeepAlive = TimeSpan.FromSeconds(mqtt?.KeepAliveSeconds ?? 30),
                Username = mqtt?.Username,
                PasswordFile = mqtt?.PasswordFile is { } file ? Resolve(file) : null,
                Tls = mqtt?.Tls is { } tls ? new MqttTlsOptions
                {
                    CaFile = tls.CaFile is { } ca ? Resolve(ca) : null,
                    CertFile = tls.CertFile is { } cert ? Resolve(cert) : null,
                    KeyFile = tls.KeyFile is { } key ? Resolve(key) : null,
                } : null,
                ProtocolVersion = mqtt?.Protocol == "3.1.1" ? MqttProtocolVersion.Mqtt311 : MqttProtocolVersion.Mqtt5,
            },
        };
        var dispatcher = new CommandDispatcher();
        new DeviceCommands(this, _log).Register(dispatcher);
        var plane = new ControlPlane(options, dispatcher, Birth, Telemetry, _log.CreateLogger("mqtt"));
        _logger.LogInformation("control plane: {Broker} as {Prefix}, birth sequence {Sequence}", _broker, plane.Prefix, sequence);
        return plane;
    }

    private string Resolve(string path) => Path.GetFullPath(path, _loaded.BaseDirectory);

    private UpdateAgent? CreateUpdateAgent()
    {
        var section = _loaded.Profile.Updates;
        var keyFiles = section?.TrustedKeys ?? [];
        if (keyFiles.Count == 0)
        {
            _logger.LogInformation("over-the-air updates are off: the profile trusts no key ($.updates.trustedKeys)");
            return null;
        }

        var problems = new List<string>();
        var keys = UpdateSettings.LoadTrustedKeys(_loaded, problems);
        if (problems.Count > 0)
        {
            throw new ProfileException(_loaded.Source, problems);
        }

        var download = section!.Download;
        var options = new UpdateAgentOptions
        {
            HealthWindow = TimeSpan.FromSeconds(section.HealthWindowSeconds ?? 10),
            MaxMissRatio = section.MaxMissRatio ?? 0.01,
            PauseAt = UpdatePausePoints,
            Download = new DownloadOptions
            {
                Attempts = download?.Attempts ?? 5,
                MinBytesPerSecond = download?.MinBytesPerSecond ?? 1024,
                ThroughputWindow = TimeSpan.FromSeconds(download?.ThroughputWindowSeconds ?? 30),
                ConnectTimeout = TimeSpan.FromSeconds(download?.ConnectTimeoutSeconds ?? 15),
                ReserveBytes = (download?.ReserveMegabytes ?? 16) << 20,
                CaFile = download?.CaFile is { } ca ? Resolve(ca) : null,
            },
        };
        var verifier = new PackageVerifier(keys, section.Threshold ?? 1);
        var store = new ModelStore(Path.Combine(_stateDirectory, "store"), section.KeepVersions ?? 1);
        var journal = new UpdateJournal(Path.Combine(_stateDirectory, "updates"));
        var agent = new UpdateAgent(options, verifier, store, journal, new UpdateHost(this), p => UpdateCommands.Publish(ControlPlane, p), _log.CreateLogger("update"));
        Updates = new UpdateCommands(this, agent).Handle;
        _logger.LogInformation("over-the-air updates: {Keys} trusted keys, threshold {Threshold}, store {Store}", keys.Count, verifier.Threshold, store.Directory);
        return agent;
    }

    /// <summary>The birth/death sequence number: one more than the last start's, kept in the state directory.</summary>
    private long NextBirthSequence()
    {
        string file = Path.Combine(_stateDirectory, "mqtt-birth-seq");
        long last = File.Exists(file) && long.TryParse(File.ReadAllText(file).Trim(), out long n) ? n : 0;
        string temporary = file + ".tmp";
        File.WriteAllText(temporary, (last + 1).ToString(CultureInfo.InvariantCulture));
        File.Move(temporary, file, overwrite: true);
        return last + 1;
    }

    private JsonObject Birth() => new()
    {
        ["kairo"] = DaemonCommand.KairoVersion,
        ["onnxRuntime"] = OnnxRuntimeLibrary.Version,
        ["board"] = _loaded.Profile.Board,
        ["executionProviders"] = new JsonArray(OnnxRuntimeLibrary.AvailableProviders.Select(p => (JsonNode?)p).ToArray()),
        ["startedAt"] = (DateTimeOffset.UtcNow - Uptime).ToString("O"),
        ["loops"] = new JsonArray(_loops.Select(l => (JsonNode?)LoopReport.Describe(l)).ToArray()),
        ["models"] = new DeviceCommands(this, _log).Models(),
    };

    private IEnumerable<(string, JsonObject)> Telemetry() =>
        _loops.Where(l => l.State == LoopState.Running).Select(l => (l.Name, LoopReport.Metrics(l))).ToList();

    private ControlLoop CreateLoop(LoopFactory factory, LoopSection section)
    {
        var logger = _log.CreateLogger($"loop {section.Name}");
        var options = LoopFactory.LoopOptions(section);
        var model = ModelInstance.Load(factory.ModelSource(section.Model!), options);
        IFrameSource? source = null;
        var sinks = new List<IFrameSink>();
        try
        {
            source = factory.Source(section.Source!);
            foreach (var sink in section.Sinks ?? [])
            {
                sinks.Add(factory.Sink(sink, section.Name!));
            }

            var loop = new ControlLoop(options, model, source, sinks);
            foreach (var outcome in model.Session.Providers.Where(p => !p.Appended))
            {
                logger.LogWarning("execution provider {Provider} skipped: {Reason}", outcome.Name, outcome.Reason);
            }

            foreach (string note in model.Layout.Notes)
            {
                logger.LogInformation("{Note}", note);
            }

            logger.LogInformation(
                "{Model} v{Version} at {Rate} Hz, miss policy {Policy}; source {Source}; sinks {Sinks}; in {Inputs}; out {Outputs}; warm-up median {Warmup:0.###} ms",
                model.Name, model.Version, options.RateHz.ToString(CultureInfo.InvariantCulture), options.MissPolicy.ToString().ToLowerInvariant(),
                source.Description, sinks.Count == 0 ? "none" : string.Join(", ", sinks.Select(s => s.Description)),
                model.Layout.Input.ToString() is { Length: > 0 } i ? i : "-", model.Layout.Output, model.WarmupMedianMilliseconds);
            return loop;
        }
        catch
        {
            source?.Dispose();
            foreach (var sink in sinks)
            {
                sink.Dispose();
            }

            model.Dispose();
            throw;
        }
    }

    private void ReportUntilStopped()
    {
        double seconds = _loaded.Profile.Log?.MetricsIntervalSeconds ?? 10;
        var previous = _loops.ToDictionary(l => l, l => (l.Metrics.Inference.Snapshot(), l.Metrics.WakeLateness.Snapshot(), l.Metrics.Ticks, l.Metrics.DeadlineMisses));
        while (!_stop.Token.WaitHandle.WaitOne(seconds > 0 ? TimeSpan.FromSeconds(seconds) : Timeout.InfiniteTimeSpan))
        {
            foreach (var loop in _loops.Where(l => l.State == LoopState.Running))
            {
                var (inference, lateness, ticks, misses) = previous[loop];
                var nowInference = loop.Metrics.Inference.Snapshot();
                var nowLateness = loop.Metrics.WakeLateness.Snapshot();
                var interval = nowInference.Subtract(inference);
                var wake = nowLateness.Subtract(lateness);
                _log.CreateLogger($"loop {loop.Name}").LogInformation(
                    "{Ticks} ticks ({Rate:0.#} Hz), inference p50 {P50} p99 {P99}, wake-up p99 {Wake99}, misses {Misses} (total {Total}), allocated {Allocated} B",
                    loop.Metrics.Ticks - ticks, (loop.Metrics.Ticks - ticks) / seconds, Duration(interval.P50), Duration(interval.P99), Duration(wake.P99),
                    loop.Metrics.DeadlineMisses - misses, loop.Metrics.DeadlineMisses, loop.Metrics.AllocatedBytes);
                previous[loop] = (nowInference, nowLateness, loop.Metrics.Ticks, loop.Metrics.DeadlineMisses);
            }
        }
    }

    private void Reload()
    {
        if (_loaded.Source == ProfileLoader.EmbeddedName)
        {
            _logger.LogInformation("SIGHUP: the embedded profile has nothing to reload");
            return;
        }

        _systemd.Reloading("reloading the profile");
        try
        {
            var fresh = ProfileLoader.LoadFile(_loaded.Source);
            _log.Minimum = ConsoleLog.ParseLevel(fresh.Profile.Log?.Level);
            foreach (var section in fresh.Profile.Loops ?? [])
            {
                var loop = _loops.FirstOrDefault(l => l.Name == section.Name);
                if (loop != null && section.RateHz is double rate && Math.Abs(rate - loop.RateHz) > 1e-9)
                {
                    double previous = loop.RateHz;
                    loop.SetRate(rate);
                    _logger.LogInformation("SIGHUP: loop {Loop} now runs at {Rate} Hz", loop.Name, rate);
                    LoopChanged(loop, "loop.rate", new JsonObject { ["previousRateHz"] = previous }); // as loop.set-rate does
                }
            }

            _logger.LogInformation("SIGHUP: reloaded log level and loop rates from {Profile}", _loaded.Source);
        }
        catch (ProfileException e)
        {
            _logger.LogError("SIGHUP: the profile was not reloaded, nothing changed: {Message}", e.Message);
        }

        _systemd.Ready(Summary());
    }

    private void StopLoops()
    {
        foreach (var loop in _loops)
        {
            loop.Stop(); // each emits its safe output as its last frame
        }
    }

    private static string Duration(long nanoseconds) => nanoseconds switch
    {
        < 10_000 => $"{nanoseconds / 1000.0:0.00} µs",
        < 10_000_000 => $"{nanoseconds / 1_000_000.0:0.000} ms",
        _ => $"{nanoseconds / 1_000_000.0:0.0} ms",
    };

    private static int OrtSeverity(string? name) => name switch
    {
        "verbose" => 0,
        "info" => 1,
        "warning" => 2,
        "fatal" => 4,
        _ => 3,
    };

    public void Dispose()
    {
        foreach (var loop in _loops)
        {
            loop.Dispose();
        }

        Hardware?.Dispose();
        _systemd.Dispose();

        _stop.Dispose();
    }
}
