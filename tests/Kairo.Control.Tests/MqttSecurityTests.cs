using System.Runtime.Versioning;
using System.Text;
using Kairo.Control.Mqtt;
using Kairo.Testing;
using Microsoft.Extensions.Logging;

namespace Kairo.Control.Tests;

[SupportedOSPlatform("linux")]
public sealed class MqttSecurityTests
{
    private static TestCertificates Pki => TestCertificates.Shared;

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    public async Task Tls_WithCaAndClientCertificate_ConnectsToABrokerThatRequiresOne(string host)
    {
        using Broker broker = await Broker.StartAsync(new BrokerConfig { Tls = BrokerTls.Server, RequireClientCertificate = true });
        using var client = new TestClient(broker.TlsUrl(host), broker, o => new MqttClientOptions
        {
            Uri = o.Uri,
            ClientId = o.ClientId,
            Tls = new MqttTlsOptions { CaFile = Pki.CaFile, CertFile = Pki.CertFile("client"), KeyFile = Pki.KeyFile("client") },
        });
        client.Client.Subscribe("kairo-test/tls", 1);

        await client.StartAsync();
        client.Client.Publish("kairo-test/tls", "secret"u8, 1, false);
        MqttMessage message = await client.NextMessageAsync("kairo-test/tls");

        Assert.Equal("secret", Encoding.UTF8.GetString(message.Payload));
        await Wait.For(broker.WaitForLogAsync($"as {client.ClientId} (p5"), "the broker to log the connection", broker);
    }

    [Fact]
    public async Task Tls_BrokerCertificateForAnotherHost_IsRefused_AndRetried()
    {
        using Broker broker = await Broker.StartAsync(new BrokerConfig { Tls = BrokerTls.WrongHost });
        using var client = new TestClient(broker.TlsUrl(), broker, o => new MqttClientOptions
        {
            Uri = o.Uri,
            ClientId = o.ClientId,
            Tls = new MqttTlsOptions { CaFile = Pki.CaFile },
            ReconnectMinDelay = TimeSpan.FromSeconds(0.1),
        });
        int connects = 0;
        client.Client.Connected += (_, _) => Interlocked.Increment(ref connects);

        client.Client.Start();

        // The certificate is signed by the trusted CA and only its name is wrong: the refusal is the host name check.
        static bool HostNameRefused(LogLevel level, string text) => level == LogLevel.Error && text.Contains("host name verification failed");
        await Wait.For(client.Logger.WaitFor(HostNameRefused), "the host name refusal in the log", broker);

        // libmosquitto ends its network thread after a TLS failure without telling anyone; the client starts a new one.
        await Wait.For(client.Logger.WaitFor((level, text) => HostNameRefused(level, text) && client.Logger.Count(HostNameRefused) >= 2),
            "a second attempt after the refusal", broker);
        Assert.Equal(0, Volatile.Read(ref connects));
        Assert.False(client.Client.IsConnected);
        Assert.DoesNotContain($"as {client.ClientId} (", broker.Log);
    }

    [Fact]
    public async Task PasswordFile_Private_IsAcceptedByABrokerWithAccounts()
    {
        using Broker broker = await Broker.StartAsync(new BrokerConfig { Account = ("kairo", "s3cret-pw") });
        string file = WritePasswordFile("s3cret-pw\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        using var client = new TestClient(broker.AuthUrl, broker, o => new MqttClientOptions
        {
            Uri = o.Uri, ClientId = o.ClientId, Username = "kairo", PasswordFile = file,
        });

        await client.StartAsync();

        await Wait.For(broker.WaitForLogAsync($"as {client.ClientId} (p5, c1, k30, u'kairo')"), "the broker to log the user's connection", broker);
    }

    [Fact]
    public async Task PasswordFile_WrongPassword_IsRefusedAndRetriedWithBackoff()
    {
        using Broker broker = await Broker.StartAsync(new BrokerConfig { Account = ("kairo", "right") });
        string file = WritePasswordFile("wrong", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        using var client = new TestClient(broker.AuthUrl, broker, o => new MqttClientOptions
        {
            Uri = o.Uri, ClientId = o.ClientId, Username = "kairo", PasswordFile = file, ReconnectMinDelay = TimeSpan.FromSeconds(0.1),
        });

        client.Client.Start();

        // MQTT 5 refusals end libmosquitto's network thread; the client must start another to keep trying.
        static bool Refused(LogLevel level, string text) => level == LogLevel.Warning && text.Contains("refused the connection");
        await Wait.For(client.Logger.WaitFor((l, t) => Refused(l, t) && client.Logger.Count(Refused) >= 2), "two refusals", broker);
        Assert.False(client.Client.IsConnected);
        Assert.Contains(client.Logger.Entries, e => Refused(e.Level, e.Text) && e.Text.Contains("Not authorized"));
    }

    [Fact]
    public void PasswordFile_ReadableByEveryone_IsRefusedBeforeConnecting()
    {
        string file = WritePasswordFile("pw", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        using var client = new MqttClient(new MqttClientOptions { Uri = "mqtt://127.0.0.1:1", ClientId = "kairo-test", Username = "kairo", PasswordFile = file });

        var error = Assert.Throws<InvalidOperationException>(client.Start);

        Assert.Contains("PasswordFile", error.Message);
        Assert.Contains(file, error.Message);
        Assert.Contains("mode 0644", error.Message);
        Assert.Contains($"chmod 600 '{file}'", error.Message);
        Assert.False(client.IsConnected);
    }

    [Fact]
    public void PasswordFile_Missing_IsRefusedWithItsPath()
    {
        string file = Path.Combine(Path.GetTempPath(), $"kairo-no-such-{Guid.NewGuid():N}");
        using var client = new MqttClient(new MqttClientOptions { Uri = "mqtt://127.0.0.1:1", ClientId = "kairo-test", Username = "kairo", PasswordFile = file });

        var error = Assert.Throws<FileNotFoundException>(client.Start);

        Assert.Contains(file, error.Message);
        Assert.Contains("PasswordFile", error.Message);
    }

    [Fact]
    public void TlsKeyFile_ReadableByEveryone_IsRefused()
    {
        string key = Path.Combine(Path.GetTempPath(), $"kairo-key-{Guid.NewGuid():N}.key");
        File.Copy(Pki.KeyFile("client"), key);
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        using var client = new MqttClient(new MqttClientOptions
        {
            Uri = "mqtts://127.0.0.1:1",
            ClientId = "kairo-test",
            Tls = new MqttTlsOptions { CaFile = Pki.CaFile, CertFile = Pki.CertFile("client"), KeyFile = key },
        });

        var error = Assert.Throws<InvalidOperationException>(client.Start);
        Assert.Contains("Tls.KeyFile", error.Message);
        Assert.Contains($"chmod 600 '{key}'", error.Message);
        File.Delete(key);
    }

    private static string WritePasswordFile(string content, UnixFileMode mode)
    {
        string file = Path.Combine(Path.GetTempPath(), $"kairo-mqtt-password-{Guid.NewGuid():N}");
        File.WriteAllText(file, content);
        File.SetUnixFileMode(file, mode);
        return file;
    }
}
