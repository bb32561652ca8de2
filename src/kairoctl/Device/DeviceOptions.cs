using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Kairo.Control.Mqtt;

namespace Kairo.Ctl.Device;

/// <summary>
/// The options that say which device to talk to and through which broker, shared by <c>status</c>, <c>cmd</c>,
/// <c>watch</c>, <c>bench-mqtt</c> and <c>deploy</c>: <c>--broker</c>, <c>--device</c>, <c>--prefix</c>, TLS files,
/// credentials and <c>--timeout</c> (which <c>deploy</c> gives its own meaning).
/// </summary>
internal sealed class DeviceOptions
{
    public const string DefaultBroker = "mqtt://127.0.0.1:1883";
    public const string DefaultPrefix = "kairo/{deviceId}";

    /// <summary>The connection and reply timeout of a command that gives <c>--timeout</c> another meaning.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    private readonly bool _timeout;

    public Option<string> Broker { get; } = new("--broker")
    {
        Description = "The MQTT broker: mqtt://HOST[:PORT] (port 1883) or mqtts://HOST[:PORT] (TLS, port 8883).",
        DefaultValueFactory = _ => DefaultBroker,
    };

    public Option<string> Device { get; } = new("--device")
    {
        Description = "The device id (kairod's --device-id).",
        Required = true,
    };

    public Option<string> Prefix { get; } = new("--prefix")
    {
        Description = "The device's topic prefix (its mqtt.prefix); {deviceId} is replaced by --device.",
        DefaultValueFactory = _ => DefaultPrefix,
    };

    public Option<string?> CaFile { get; } = new("--ca-file") { Description = "PEM CA certificate(s) to verify an mqtts:// broker with (default: the system's CAs)." };

    public Option<string?> CertFile { get; } = new("--cert-file") { Description = "PEM client certificate, for brokers that require one (with --key-file)." };

    public Option<string?> KeyFile { get; } = new("--key-file") { Description = "PEM private key of --cert-file, unencrypted, readable by its owner only." };

    public Option<string?> Username { get; } = new("--username") { Description = "The broker user name." };

    public Option<string?> PasswordFile { get; } = new("--password-file") { Description = "A file holding the broker password (mode 0600), with --username." };

    public Option<double> Timeout { get; } = new("--timeout")
    {
        Description = "Seconds to wait for the connection, and again for each reply.",
        DefaultValueFactory = _ => DefaultTimeout.TotalSeconds,
    };

    /// <param name="timeout">False for a command whose own <c>--timeout</c> means something else (<c>deploy</c>); the
    /// settings then carry <see cref="DefaultTimeout"/>.</param>
    public DeviceOptions(bool timeout = true)
    {
        _timeout = timeout;
        Device.Validators.Add(r =>
        {
            string id = r.GetValueOrDefault<string>() ?? "";
            if (id.Length == 0 || id.AsSpan().IndexOfAny("/+#") >= 0)
            {
                r.AddError($"--device '{id}' is not a device id: it must be non-empty and hold no '/', '+' or '#', for example --device dev1");
            }
        });
        Prefix.Validators.Add(r =>
        {
            string prefix = r.GetValueOrDefault<string>() ?? "";
            if (prefix.Length == 0 || prefix.AsSpan().IndexOfAny("+#") >= 0 || prefix.StartsWith('/') || prefix.EndsWith('/'))
            {
                r.AddError($"--prefix '{prefix}' is not a topic prefix: no '+' or '#', no leading or trailing '/', for example --prefix kairo/{{deviceId}}");
            }
        });
        Timeout.Validators.Add(r =>
        {
            double seconds = r.GetValueOrDefault<double>();
            if (!(seconds > 0 && seconds <= 3600))
            {
                r.AddError(string.Create(CultureInfo.InvariantCulture, $"--timeout must be above 0 and at most 3600 seconds (got {seconds}), for example --timeout 5"));
            }
        });
    }

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Broker, Device, Prefix, CaFile, CertFile, KeyFile, Username, PasswordFile })
        {
            command.Options.Add(option);
        }

        if (_timeout)
        {
            command.Options.Add(Timeout);
        }
    }

    /// <summary>The settings, or an error in the options' own words (the client library would name its properties instead).</summary>
    public DeviceSettings Read(ParseResult parse)
    {
        string broker = parse.GetValue(Broker)!;
        string deviceId = parse.GetValue(Device)!;
        string? caFile = parse.GetValue(CaFile);
        string? certFile = parse.GetValue(CertFile);
        string? keyFile = parse.GetValue(KeyFile);
        string? username = parse.GetValue(Username);
        string? passwordFile = parse.GetValue(PasswordFile);

        bool tls = broker.StartsWith("mqtts://", StringComparison.OrdinalIgnoreCase);
        string? tlsOption = caFile != null ? "--ca-file" : certFile != null ? "--cert-file" : keyFile != null ? "--key-file" : null;
        if (tlsOption != null && !tls)
        {
            throw DeviceException.Usage($"{tlsOption} needs a TLS broker, but --broker is {broker}; write it as mqtts://HOST[:PORT]");
        }

        if ((certFile == null) != (keyFile == null))
        {
            throw DeviceException.Usage(certFile == null
                ? $"--key-file {keyFile} needs --cert-file too: a client certificate is the pair"
                : $"--cert-file {certFile} needs --key-file too: a client certificate is the pair");
        }

        if (passwordFile != null && string.IsNullOrEmpty(username))
        {
            throw DeviceException.Usage($"--password-file {passwordFile} needs --username too");
        }

        RequireFile("--ca-file", caFile, secret: false);
        RequireFile("--cert-file", certFile, secret: false);
        RequireFile("--key-file", keyFile, secret: true);
        RequireFile("--password-file", passwordFile, secret: true);

        return new DeviceSettings(
            broker,
            deviceId,
            parse.GetValue(Prefix)!.Replace("{deviceId}", deviceId, StringComparison.Ordinal),
            tls && (caFile ?? certFile) != null ? new MqttTlsOptions { CaFile = caFile, CertFile = certFile, KeyFile = keyFile } : null,
            username,
            passwordFile,
            _timeout ? TimeSpan.FromSeconds(parse.GetValue(Timeout)) : DefaultTimeout);
    }

    /// <summary>A file an option names must exist; one holding a secret must not be readable by every user.</summary>
    private static void RequireFile(string option, string? path, bool secret)
    {
        if (path == null)
        {
            return;
        }

        if (!File.Exists(path))
        {
            throw DeviceException.Usage($"{option} {path}: no such file");
        }

        if (secret && OperatingSystem.IsLinux() && (File.GetUnixFileMode(path) & UnixFileMode.OtherRead) != 0)
        {
            throw DeviceException.Usage($"{option} {path} is readable by every user, and it holds a secret; restrict it: chmod 600 {path}");
        }
    }
}

/// <summary>Where the device is and how to reach it, read from <see cref="DeviceOptions"/>.</summary>
internal sealed record DeviceSettings(
    string Broker,
    string DeviceId,
    string Prefix,
    MqttTlsOptions? Tls,
    string? Username,
    string? PasswordFile,
    TimeSpan Timeout)
{
    public string StateTopic => $"{Prefix}/state";

    public string CommandTopic(string name) => $"{Prefix}/cmd/{name}";

    /// <summary>The timeout as people write it: <c>5 s</c>, <c>0.5 s</c>.</summary>
    public string TimeoutText => string.Create(CultureInfo.InvariantCulture, $"{Timeout.TotalSeconds:0.###} s");

    /// <summary>A client of the broker with these settings; kairoctl's clients give up quickly rather than wait politely.</summary>
    public MqttClientOptions ClientOptions(string clientId) => new()
    {
        Uri = Broker,
        ClientId = clientId,
        Username = Username,
        PasswordFile = PasswordFile,
        Tls = Tls,
        ReconnectMinDelay = TimeSpan.FromSeconds(0.5),
        ReconnectMaxDelay = TimeSpan.FromSeconds(2),
        StopTimeout = TimeSpan.FromSeconds(1),
    };
}
