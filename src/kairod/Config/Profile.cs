namespace Kairo.Daemon.Config;

// The board profile as it is written in JSON (firmware-config/*.json, docs/profile.md). Plain data: the loader
// checks it and names every problem by its JSON path before anything is built from it.

public sealed class Profile
{
    /// <summary>The JSON schema an editor may use to check the file; ignored by kairod.</summary>
    [System.Text.Json.Serialization.JsonPropertyName("$schema")]
    public string? Schema { get; set; }

    public string? Board { get; set; }

    public string? Description { get; set; }

    public string? DeviceId { get; set; }

    public string? StateDir { get; set; }

    public OnnxRuntimeSection? OnnxRuntime { get; set; }

    public LogSection? Log { get; set; }

    public MqttSection? Mqtt { get; set; }

    public GpioSection? Gpio { get; set; }

    public UpdatesSection? Updates { get; set; }

    public List<ModelSection>? Models { get; set; }

    public List<LoopSection>? Loops { get; set; }
}

public sealed class OnnxRuntimeSection
{
    /// <summary>Where libonnxruntime.so.1 is when it is not next to kairod (a file or a directory).</summary>
    public string? LibraryPath { get; set; }

    /// <summary>verbose, info, warning, error or fatal.</summary>
    public string? LogSeverity { get; set; }
}

public sealed class MqttSection
{
    /// <summary>mqtt://HOST:PORT or mqtts://HOST:PORT; no broker, no control plane.</summary>
    public string? Broker { get; set; }

    public string? ClientId { get; set; }

    /// <summary>Topic prefix; <c>{deviceId}</c> is replaced. Default <c>kairo/{deviceId}</c>.</summary>
    public string? Prefix { get; set; }

    /// <summary>"5" (falls back to 3.1.1 when the broker refuses it) or "3.1.1".</summary>
    public string? Protocol { get; set; }

    public string? Username { get; set; }

    /// <summary>A file holding the password; it must not be readable by every user.</summary>
    public string? PasswordFile { get; set; }

    public TlsSection? Tls { get; set; }

    public double? KeepAliveSeconds { get; set; }

    public double? TelemetryIntervalSeconds { get; set; }

    public int? MaxPayloadBytes { get; set; }
}

public sealed class TlsSection
{
    public string? CaFile { get; set; }

    public string? CertFile { get; set; }

    public string? KeyFile { get; set; }
}

public sealed class GpioSection
{
    /// <summary>The chip: gpiochipN, /dev/gpiochipN, its number or label; or "simulated".</summary>
    public string? Chip { get; set; }

    public EstopSection? Estop { get; set; }

    public HeartbeatSection? Heartbeat { get; set; }

    public StatusLineSection? Status { get; set; }
}

public sealed class EstopSection
{
    public int? Line { get; set; }

    /// <summary>"high" or "low": the level at which the emergency stop is engaged.</summary>
    public string? ActiveLevel { get; set; }

    /// <summary>"as-is", "disabled", "pull-up" or "pull-down".</summary>
    public string? Bias { get; set; }

    public double? DebounceMs { get; set; }
}

public sealed class HeartbeatSection
{
    public int? Line { get; set; }

    public double? PeriodMs { get; set; }

    public bool? ActiveLow { get; set; }
}

public sealed class StatusLineSection
{
    public int? Line { get; set; }

    public bool? ActiveLow { get; set; }
}

/// <summary>Over-the-air updates: who may sign packages, and how a new model proves itself before it is committed.</summary>
public sealed class UpdatesSection
{
    /// <summary>Public keys (PEM files, relative to the profile) whose signatures count; none: updates are off.</summary>
    public List<string>? TrustedKeys { get; set; }

    /// <summary>How many distinct trusted keys must have signed a package (k of n); default 1.</summary>
    public int? Threshold { get; set; }

    /// <summary>Versions kept per model besides the active one and the rollback target; default 1.</summary>
    public int? KeepVersions { get; set; }

    /// <summary>How long a new model runs before it is committed; default 10 s.</summary>
    public double? HealthWindowSeconds { get; set; }

    /// <summary>The share of ticks in the health window that may miss their deadline; default 0.01.</summary>
    public double? MaxMissRatio { get; set; }

    public DownloadSection? Download { get; set; }
}

public sealed class DownloadSection
{
    /// <summary>Attempts, each resuming where the last stopped; default 5.</summary>
    public int? Attempts { get; set; }

    /// <summary>An attempt slower than this over a whole throughput window is abandoned; default 1024.</summary>
    public long? MinBytesPerSecond { get; set; }

    /// <summary>Default 30 s.</summary>
    public double? ThroughputWindowSeconds { get; set; }

    /// <summary>Connect and response head; default 15 s.</summary>
    public double? ConnectTimeoutSeconds { get; set; }

    /// <summary>Free space to leave on the state directory's file system; default 16 MiB.</summary>
    public long? ReserveMegabytes { get; set; }

    /// <summary>A PEM file of CA certificates for https:// package servers instead of the system's.</summary>
    public string? CaFile { get; set; }
}

public sealed class LogSection
{
    /// <summary>trace, debug, information, warning, error or critical.</summary>
    public string? Level { get; set; }

    /// <summary>How often each loop's metrics are logged; 0 turns it off.</summary>
    public double? MetricsIntervalSeconds { get; set; }
}

public sealed class ModelSection
{
    public string? Name { get; set; }

    /// <summary>The model file, relative to the profile's directory.</summary>
    public string? Path { get; set; }

    public long? Version { get; set; }

    public string? Release { get; set; }

    public int? IntraOpThreads { get; set; }

    public int? InterOpThreads { get; set; }

    /// <summary>disabled, basic, extended, layout or all.</summary>
    public string? GraphOptimization { get; set; }

    /// <summary>Keep the optimized model in the state directory so later starts skip the optimization.</summary>
    public bool? OptimizedModelCache { get; set; }

    public bool? AllowSpinning { get; set; }

    public List<ProviderSection>? Providers { get; set; }
}

public sealed class ProviderSection
{
    public string? Name { get; set; }

    public bool? Required { get; set; }

    public Dictionary<string, string>? Options { get; set; }
}

public sealed class LoopSection
{
    public string? Name { get; set; }

    public string? Model { get; set; }

    public double? RateHz { get; set; }

    public double? DeadlineMs { get; set; }

    /// <summary>skip, hold or safe.</summary>
    public string? MissPolicy { get; set; }

    public Dictionary<string, float[]>? SafeOutput { get; set; }

    public List<int>? CpuAffinity { get; set; }

    public int? Priority { get; set; }

    public bool? AutoStart { get; set; }

    public Dictionary<string, long[]>? Inputs { get; set; }

    public List<StateSection>? State { get; set; }

    public SourceSection? Source { get; set; }

    public List<SinkSection>? Sinks { get; set; }
}

public sealed class StateSection
{
    public string? From { get; set; }

    public string? To { get; set; }
}

public sealed class SourceSection
{
    /// <summary>synthetic, udp, unix, ring or replay.</summary>
    public string? Type { get; set; }

    public string? Pattern { get; set; }

    public float? Value { get; set; }

    public ulong? Seed { get; set; }

    /// <summary>udp: the address to listen on (IP:PORT).</summary>
    public string? Address { get; set; }

    /// <summary>unix, ring, replay: the socket, ring or recording path.</summary>
    public string? Path { get; set; }

    /// <summary>replay: start again at the end (default true).</summary>
    public bool? Loop { get; set; }

    /// <summary>ring: create the ring if the camera process has not yet (default true).</summary>
    public bool? Create { get; set; }

    /// <summary>ring: slots to create the ring with.</summary>
    public int? Slots { get; set; }
}

public sealed class SinkSection
{
    /// <summary>udp, unix, log or mqtt.</summary>
    public string? Type { get; set; }

    public string? Address { get; set; }

    public string? Path { get; set; }

    /// <summary>mqtt: the topic; default <c>{prefix}/outputs/{loop}</c>.</summary>
    public string? Topic { get; set; }

    /// <summary>mqtt: 0 or 1.</summary>
    public int? Qos { get; set; }

    /// <summary>log, mqtt: one line or message every this many ticks.</summary>
    public int? EveryTicks { get; set; }
}
