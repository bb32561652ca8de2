namespace Kairo.Control.Mqtt;

/// <summary>How an <see cref="MqttClient"/> reaches its broker. Checked when the client is constructed.</summary>
public sealed class MqttClientOptions
{
    /// <summary>
    /// The broker: <c>mqtt://host[:port]</c> (plain, port 1883 by default) or <c>mqtts://host[:port]</c> (TLS, port
    /// 8883 by default). An IPv6 address goes in brackets.
    /// </summary>
    public required string Uri { get; init; }

    /// <summary>The MQTT client id; unique per broker (a second connection with the same id takes the session over).</summary>
    public required string ClientId { get; init; }

    /// <summary>The keep-alive period: whole seconds, 5 s to 65,535 s.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(30);

    public string? Username { get; init; }

    /// <summary>
    /// A file holding the password (a trailing line break is ignored), read at <see cref="MqttClient.Start"/>. It must
    /// not be readable by other users (mode 0600 or 0640). Needs <see cref="Username"/>.
    /// </summary>
    public string? PasswordFile { get; init; }

    /// <summary>TLS files for an <c>mqtts://</c> broker; without them the system CA directory verifies the broker.</summary>
    public MqttTlsOptions? Tls { get; init; }

    /// <summary>The message the broker publishes if this client goes away without disconnecting.</summary>
    public MqttWill? Will { get; init; }

    /// <summary>
    /// The preferred version. <see cref="MqttProtocolVersion.Mqtt5"/> falls back to 3.1.1 for good when a broker
    /// answers "unsupported protocol version"; <see cref="MqttProtocolVersion.Mqtt311"/> never tries 5.
    /// </summary>
    public MqttProtocolVersion ProtocolVersion { get; init; } = MqttProtocolVersion.Mqtt5;

    /// <summary>
    /// The first wait before reconnecting, growing up to <see cref="ReconnectMaxDelay"/>. libmosquitto's own
    /// reconnects count whole seconds (at least 1 s) and grow as delay × n²; the client's restarts of the network
    /// thread use these values as given and double.
    /// </summary>
    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromSeconds(0.5);

    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long stopping waits for the network thread to finish by itself, and then again for it to be cancelled.
    /// </summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Checks everything that can be checked without touching the files; each error names the option, the value and the fix.</summary>
    internal MqttBrokerAddress Validate()
    {
        MqttBrokerAddress address = MqttBrokerAddress.Parse(Uri);

        if (string.IsNullOrEmpty(ClientId))
        {
            throw Invalid(nameof(ClientId), "is empty; set it to a name unique on the broker, such as the device id");
        }

        if (KeepAlive < TimeSpan.FromSeconds(5) || KeepAlive > TimeSpan.FromSeconds(65535) || KeepAlive.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            throw Invalid(nameof(KeepAlive), $"is {KeepAlive.TotalSeconds} s; use whole seconds from 5 to 65535");
        }

        if (PasswordFile != null && string.IsNullOrEmpty(Username))
        {
            throw Invalid(nameof(PasswordFile), $"is set ('{PasswordFile}') without a Username; set Username too, or remove PasswordFile");
        }

        if (Tls != null)
        {
            if (!address.UseTls)
            {
                throw Invalid(nameof(Tls), $"is set but the broker URL '{Uri}' is plain mqtt://; use mqtts:// or remove the TLS files");
            }

            if ((Tls.CertFile == null) != (Tls.KeyFile == null))
            {
                throw Invalid(nameof(Tls), Tls.CertFile == null
                    ? $"has a KeyFile ('{Tls.KeyFile}') but no CertFile; a client certificate needs both"
                    : $"has a CertFile ('{Tls.CertFile}') but no KeyFile; a client certificate needs both");
            }
        }

        if (Will != null)
        {
            if (string.IsNullOrEmpty(Will.Topic) || Will.Topic.AsSpan().IndexOfAny('#', '+') >= 0)
            {
                throw Invalid("Will.Topic", $"is '{Will.Topic}'; a will needs a topic name without wildcards");
            }

            if (Will.Qos is < 0 or > 2)
            {
                throw Invalid("Will.Qos", $"is {Will.Qos}; use 0, 1 or 2");
            }
        }

        if (ProtocolVersion is not (MqttProtocolVersion.Mqtt5 or MqttProtocolVersion.Mqtt311))
        {
            throw Invalid(nameof(ProtocolVersion), $"is {(int)ProtocolVersion}; use Mqtt5 or Mqtt311");
        }

        if (ReconnectMinDelay <= TimeSpan.Zero || ReconnectMaxDelay < ReconnectMinDelay || ReconnectMaxDelay > TimeSpan.FromDays(1))
        {
            throw Invalid(nameof(ReconnectMinDelay), $"and ReconnectMaxDelay are {ReconnectMinDelay.TotalSeconds} s and {ReconnectMaxDelay.TotalSeconds} s; the minimum must be positive and at most the maximum (at most a day)");
        }

        if (StopTimeout <= TimeSpan.Zero || StopTimeout > TimeSpan.FromMinutes(1))
        {
            throw Invalid(nameof(StopTimeout), $"is {StopTimeout.TotalSeconds} s; use a positive time up to a minute");
        }

        return address;
    }

    private static ArgumentException Invalid(string option, string problem) => new($"MQTT option {option} {problem}.", option);
}

/// <summary>TLS files, each optional. Client certificate and key go together.</summary>
public sealed class MqttTlsOptions
{
    /// <summary>PEM CA certificate(s) to verify the broker with; without it, the system CA directory <c>/etc/ssl/certs</c>.</summary>
    public string? CaFile { get; init; }

    /// <summary>PEM client certificate, for brokers that require one.</summary>
    public string? CertFile { get; init; }

    /// <summary>PEM private key of <see cref="CertFile"/>, unencrypted; it must not be readable by other users.</summary>
    public string? KeyFile { get; init; }
}

/// <summary>The last will: published by the broker when the connection ends without a normal DISCONNECT.</summary>
public sealed class MqttWill
{
    public required string Topic { get; init; }

    public ReadOnlyMemory<byte> Payload { get; init; }

    public int Qos { get; init; } = 1;

    public bool Retain { get; init; } = true;
}
