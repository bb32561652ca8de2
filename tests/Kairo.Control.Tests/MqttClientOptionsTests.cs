using Kairo.Control.Mqtt;

namespace Kairo.Control.Tests;

public sealed class MqttClientOptionsTests
{
    [Theory]
    [InlineData("mqtt://broker.local", "broker.local", 1883, false)]
    [InlineData("mqtts://broker.local", "broker.local", 8883, true)]
    [InlineData("mqtt://10.0.0.2:1884", "10.0.0.2", 1884, false)]
    [InlineData("mqtts://broker.local:9999/", "broker.local", 9999, true)]
    [InlineData("mqtt://[::1]:1885", "::1", 1885, false)]
    [InlineData("MQTT://Broker.Local", "broker.local", 1883, false)]
    public void Uri_IsParsedWithDefaultPorts(string uri, string host, int port, bool tls)
    {
        MqttBrokerAddress address = MqttBrokerAddress.Parse(uri);
        Assert.Equal(new MqttBrokerAddress(host, port, tls), address);
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("broker.local:1883", "scheme 'broker.local'")]
    [InlineData("http://broker.local", "scheme 'http'")]
    [InlineData("mqtt://broker.local:99999", "not a valid URL")]
    [InlineData("mqtt://broker.local:0", "port 0")]
    [InlineData("mqtt://user:pw@broker.local", "user name or password")]
    [InlineData("mqtt://broker.local/kairo", "path, query or fragment")]
    [InlineData("mqtt://broker.local?x=1", "path, query or fragment")]
    public void Uri_Invalid_IsRefusedNamingTheUrl(string uri, string problem)
    {
        var error = Assert.Throws<ArgumentException>(() => new MqttClient(new MqttClientOptions { Uri = uri, ClientId = "kairo" }));
        Assert.Contains($"'{uri}'", error.Message);
        Assert.Contains(problem, error.Message);
        Assert.Equal("Uri", error.ParamName);
    }

    [Fact]
    public void Options_Invalid_AreRefusedNamingTheOption()
    {
        static ArgumentException Refused(MqttClientOptions options) => Assert.Throws<ArgumentException>(() => new MqttClient(options));

        Assert.Equal("ClientId", Refused(new() { Uri = "mqtt://h", ClientId = "" }).ParamName);
        Assert.Contains("2 s", Refused(new() { Uri = "mqtt://h", ClientId = "c", KeepAlive = TimeSpan.FromSeconds(2) }).Message);
        Assert.Contains("mqtts://", Refused(new() { Uri = "mqtt://h", ClientId = "c", Tls = new() { CaFile = "/x" } }).Message);
        Assert.Contains("no KeyFile", Refused(new() { Uri = "mqtts://h", ClientId = "c", Tls = new() { CertFile = "/c.crt" } }).Message);
        Assert.Contains("without a Username", Refused(new() { Uri = "mqtt://h", ClientId = "c", PasswordFile = "/pw" }).Message);
        Assert.Contains("wildcards", Refused(new() { Uri = "mqtt://h", ClientId = "c", Will = new() { Topic = "a/#" } }).Message);
        Assert.Contains("at most the maximum", Refused(new() { Uri = "mqtt://h", ClientId = "c", ReconnectMinDelay = TimeSpan.FromSeconds(60) }).Message);
    }

    [Fact]
    public void Defaults_AreThoseDocumented()
    {
        var options = new MqttClientOptions { Uri = "mqtt://h", ClientId = "c" };
        Assert.Equal(TimeSpan.FromSeconds(30), options.KeepAlive);
        Assert.Equal(MqttProtocolVersion.Mqtt5, options.ProtocolVersion);
        Assert.Equal(TimeSpan.FromSeconds(0.5), options.ReconnectMinDelay);
        Assert.Equal(TimeSpan.FromSeconds(30), options.ReconnectMaxDelay);
        Assert.Equal(TimeSpan.FromSeconds(2), options.StopTimeout);
    }

    [Fact]
    public void StartTwice_And_UseAfterDispose_AreRefused()
    {
        var client = new MqttClient(new MqttClientOptions { Uri = "mqtt://127.0.0.1:1", ClientId = "kairo-test-twice" });
        client.Start(); // Nothing listens on port 1: the client keeps trying in the background, which is not an error.
        Assert.Throws<InvalidOperationException>(client.Start);
        client.Dispose();
        client.Dispose();
        Assert.Throws<ObjectDisposedException>(client.Start);
        Assert.Throws<ObjectDisposedException>(() => client.Subscribe("a", 0));
    }
}
