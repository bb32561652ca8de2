namespace Kairo.Control.Mqtt;

/// <summary>Host, port and transport parsed from <see cref="MqttClientOptions.Uri"/>.</summary>
internal readonly record struct MqttBrokerAddress(string Host, int Port, bool UseTls)
{
    public const int DefaultPort = 1883;
    public const int DefaultTlsPort = 8883;

    public static MqttBrokerAddress Parse(string? uri)
    {
        if (string.IsNullOrWhiteSpace(uri))
        {
            throw Invalid(uri, "is empty; set it to mqtt://host[:port] or mqtts://host[:port]");
        }

        if (!System.Uri.TryCreate(uri, UriKind.Absolute, out Uri? parsed))
        {
            throw Invalid(uri, "is not a valid URL; expected mqtt://host[:port] or mqtts://host[:port] with a port from 1 to 65535");
        }

        bool tls = parsed.Scheme switch
        {
            "mqtt" => false,
            "mqtts" => true,
            _ => throw Invalid(uri, $"has the scheme '{parsed.Scheme}'; use mqtt:// (plain, port {DefaultPort}) or mqtts:// (TLS, port {DefaultTlsPort})"),
        };

        if (parsed.UserInfo.Length > 0)
        {
            throw Invalid(uri, "carries a user name or password; remove it and set Username and PasswordFile instead");
        }

        if (parsed.AbsolutePath.Length > 1 || parsed.Query.Length > 0 || parsed.Fragment.Length > 0)
        {
            throw Invalid(uri, "has a path, query or fragment; an MQTT broker URL is only scheme://host[:port]");
        }

        string host = parsed.IdnHost.Trim('[', ']');
        if (host.Length == 0)
        {
            throw Invalid(uri, "has no host; expected mqtt://host[:port] or mqtts://host[:port]");
        }

        int port = parsed.IsDefaultPort || parsed.Port < 0 ? (tls ? DefaultTlsPort : DefaultPort) : parsed.Port;
        if (port is < 1 or > 65535)
        {
            throw Invalid(uri, $"has the port {port}; use a port from 1 to 65535");
        }

        return new MqttBrokerAddress(host, port, tls);
    }

    public override string ToString() => $"{(UseTls ? "mqtts" : "mqtt")}://{(Host.Contains(':') ? $"[{Host}]" : Host)}:{Port}";

    private static ArgumentException Invalid(string? uri, string problem) =>
        new($"MQTT broker URL '{uri}' {problem}.", nameof(MqttClientOptions.Uri));
}
