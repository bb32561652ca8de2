using System.Text.Json.Nodes;
using Kairo.Testing;
using Xunit.Abstractions;

namespace Kairo.EndToEnd.Tests;

/// <summary>
/// The AOT kairod and kairoctl over TLS, against a mosquitto that presents a certificate for 127.0.0.1 and requires
/// a client certificate, all made by openssl for this test run (docs/control-plane.md#connection): kairod with the
/// profile's <c>mqtt.tls</c> and <c>--broker mqtts://</c>, kairoctl with <c>--ca-file</c>, <c>--cert-file</c> and
/// <c>--key-file</c>.
/// </summary>
public sealed class ControlPlaneTlsTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestCertificates _pki = TestCertificates.Shared;
    private readonly string _directory = Directory.CreateTempSubdirectory("kairo-tls-").FullName;

    private readonly TestBroker _broker = TestBroker.Start(tls: TestCertificates.Shared);

    public void Dispose()
    {
        _broker.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void KairodAndKairoctlTalkOverTlsWithClientCertificates_AndAClientWithoutTheCaOrACertificateIsRefused()
    {
        string models = Path.Combine(Bundle.Directory, "models");
        string profile = Path.Combine(_directory, "profile.json");
        File.WriteAllText(profile, $$"""
            {
              "board": "e2e-tls",
              "mqtt": { "tls": { "caFile": "{{_pki.CaFile}}", "certFile": "{{_pki.CertFile("client")}}", "keyFile": "{{_pki.KeyFile("client")}}" } },
              "models": [ { "name": "add1", "path": "{{models}}/scale_add_v1.onnx", "version": 1 } ],
              "loops": [
                { "name": "ctl", "model": "add1", "rateHz": 50,
                  "source": { "type": "synthetic", "pattern": "constant", "value": 0 },
                  "sinks": [ { "type": "log", "everyTicks": 1000 } ] }
              ]
            }
            """);
        using var daemon = DaemonProcess.Start("--config", profile, "--broker", _broker.Url, "--device-id", "e2e-tls", "--state-dir", Path.Combine(_directory, "state"));
        Assert.StartsWith("mqtts://", _broker.Url);

        // kairoctl as an operator runs it: the CA, its own certificate and key. The device is online once it answers.
        string[] tls = ["--ca-file", _pki.CaFile, "--cert-file", _pki.CertFile("client"), "--key-file", _pki.KeyFile("client")];
        ProcessResult status = Ctl(["status", "--device", "e2e-tls", "--json", .. tls]);
        var until = DateTime.UtcNow + Patience;
        while (status.ExitCode != 0 && DateTime.UtcNow < until)
        {
            Assert.True(status.ExitCode == 3, status.ToString()); // not yet online: no connection or no device yet
            Thread.Sleep(200);
            status = Ctl(["status", "--device", "e2e-tls", "--json", .. tls]);
        }

        Assert.True(status.ExitCode == 0, $"{status}\nkairod:\n{daemon.Output}\nbroker:\n{_broker.Output}");
        var data = JsonNode.Parse(status.Stdout)!;
        Assert.Equal("e2e-tls", (string?)data["deviceId"]);
        Assert.Equal("e2e-tls", (string?)data["board"]);
        Assert.True((bool)data["mqtt"]!["connected"]!);

        var rate = Ctl(["cmd", "--device", "e2e-tls", "loop.set-rate", "loop=ctl", "rateHz=25", .. tls]);
        Assert.True(rate.ExitCode == 0, rate.ToString());
        Assert.Equal(25, (double)JsonNode.Parse(rate.Stdout)!["data"]!["rateHz"]!);

        // Without the CA the broker's certificate is not trusted; without a client certificate the broker refuses.
        var untrusted = Ctl(["status", "--device", "e2e-tls", "--timeout", "3", "--cert-file", _pki.CertFile("client"), "--key-file", _pki.KeyFile("client")]);
        Assert.True(untrusted.ExitCode == 3, untrusted.ToString());
        var anonymous = Ctl(["status", "--device", "e2e-tls", "--timeout", "3", "--ca-file", _pki.CaFile]);
        Assert.True(anonymous.ExitCode == 3, anonymous.ToString());
        output.WriteLine($"without the CA: {untrusted.Stderr}\nwithout a client certificate: {anonymous.Stderr}");
        Assert.Contains("certificate verify failed", untrusted.Stderr);
        Assert.Contains("give --cert-file and --key-file", anonymous.Stderr);

        // The device was never disturbed by either: it still answers, and its loop runs at the new rate.
        var again = Ctl(["cmd", "--device", "e2e-tls", "metrics.get", "loop=ctl", .. tls]);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(25, (double)JsonNode.Parse(again.Stdout)!["data"]!["rateHz"]!);
        Assert.Contains("MQTT connected to", daemon.Output);
    }

    private ProcessResult Ctl(string[] arguments) => Bundle.Run("kairoctl", [.. arguments, "--broker", _broker.Url], TimeSpan.FromSeconds(60));
}
