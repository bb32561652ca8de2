using System.Text.Json;

namespace Kairo.EndToEnd.Tests;

/// <summary>
/// The published AOT kairoctl talking to the published AOT kairod through a real mosquitto broker: status, cmd, watch
/// and bench-mqtt, with their exit codes.
/// </summary>
public sealed class KairoctlDeviceTests : IClassFixture<KairoctlDeviceTests.Device>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly Device _device;

    public KairoctlDeviceTests(Device device) => _device = device;

    [Fact]
    public void StatusShowsTheDeviceOnlineWithBothDemoLoops()
    {
        var result = Kairoctl("status", "--device", _device.Id);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(result.Stdout.Contains($"device {_device.Id} on {_device.Broker.Url}: online (seq 1, since ", StringComparison.Ordinal), result.ToString());
        Assert.True(result.Stdout.Contains("mqtt: connected (MQTT 5); requests:", StringComparison.Ordinal), result.ToString());
        Assert.Contains(result.StdoutLines, l => l.StartsWith("drive ", StringComparison.Ordinal) && l.Contains(" running ") && l.Contains("driving v1"));
        Assert.Contains(result.StdoutLines, l => l.StartsWith("arm ", StringComparison.Ordinal) && l.Contains(" running ") && l.Contains(" 500 "));
    }

    [Fact]
    public void CmdSetsTheRateAndStatusJsonShowsIt()
    {
        var set = Kairoctl("cmd", "--device", _device.Id, "loop.set-rate", "loop=drive", "rateHz=10");
        Assert.True(set.ExitCode == 0, set.ToString());
        using (var reply = JsonDocument.Parse(set.Stdout))
        {
            Assert.True(reply.RootElement.GetProperty("ok").GetBoolean());
            Assert.Equal("ok", reply.RootElement.GetProperty("code").GetString());
            Assert.Equal(10, reply.RootElement.GetProperty("data").GetProperty("rateHz").GetDouble());
        }

        var status = Kairoctl("status", "--device", _device.Id, "--json");
        Assert.True(status.ExitCode == 0, status.ToString());
        using var data = JsonDocument.Parse(status.Stdout);
        var drive = data.RootElement.GetProperty("loops").EnumerateArray().Single(l => l.GetProperty("name").GetString() == "drive");
        Assert.Equal(10, drive.GetProperty("rateHz").GetDouble());
        Assert.Equal(_device.Id, data.RootElement.GetProperty("deviceId").GetString());

        var restore = Kairoctl("cmd", "--device", _device.Id, "--json", """{"loop":"drive","rateHz":30}""", "loop.set-rate");
        Assert.True(restore.ExitCode == 0, restore.ToString());
        Assert.Contains("\"rateHz\": 30", restore.Stdout);
    }

    [Fact]
    public void AnUnknownCommandExits1WithItsCode()
    {
        var result = Kairoctl("cmd", "--device", _device.Id, "nope");
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("unknown_command", result.Stderr);
        Assert.Contains("no command 'nope'", result.Stderr);
        using var reply = JsonDocument.Parse(result.Stdout);
        Assert.False(reply.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal("unknown_command", reply.RootElement.GetProperty("code").GetString());
    }

    [Fact]
    public void ArgumentsThatAreNotKeyValueAreAUsageError()
    {
        var result = Kairoctl("cmd", "--device", _device.Id, "loop.set-rate", "drive");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("argument 'drive' is not key=value", result.Stderr + result.Stdout);
    }

    [Fact]
    public void ADeviceThatNeverRanExits3AndSaysSo()
    {
        var result = Kairoctl("cmd", "--device", "no-such-device", "ping");
        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.True(result.Stderr.Contains($"device no-such-device has never been seen on {_device.Broker.Url}: nothing is retained on kairo/no-such-device/state", StringComparison.Ordinal), result.ToString());
    }

    [Fact]
    public void AStoppedDeviceExits3WithItsOfflineState()
    {
        string id = "e2e-stopped";
        string state = Directory.CreateTempSubdirectory("kairoctl-stopped-").FullName;
        try
        {
            using (var daemon = DaemonProcess.Start("--broker", _device.Broker.Url, "--device-id", id, "--state-dir", state))
            {
                Device.WaitForTelemetry(_device.Broker, id);
                daemon.Signal(DaemonProcess.SIGTERM);
                Assert.Equal(0, daemon.WaitForExit(Patience));
            }

            var result = Kairoctl("cmd", "--device", id, "ping");
            Assert.True(result.ExitCode == 3, result.ToString());
            Assert.True(result.Stderr.Contains($"device {id} is offline (seq 1, since ", StringComparison.Ordinal), result.ToString());
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [Fact]
    public void NoBrokerExits3AfterTheTimeout()
    {
        int port = LoopbackPort.Free();
        var result = Bundle.Run("kairoctl", ["cmd", "--device", _device.Id, "--broker", $"mqtt://127.0.0.1:{port}", "--timeout", "1", "ping"], Patience);
        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.True(result.Stderr.Contains($"no connection to mqtt://127.0.0.1:{port} within 1 s", StringComparison.Ordinal), result.ToString());
    }

    [Fact]
    public void WatchPrintsOneLinePerTelemetryMessageWhenNotOnATerminal()
    {
        var result = Kairoctl("watch", "--device", _device.Id, "--count", "3");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain("\u001b[", result.Stdout);
        var telemetry = result.StdoutLines.Where(l => l.Contains(" telemetry ", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, telemetry.Count);
        Assert.All(telemetry, l => Assert.Matches(@" telemetry (drive|arm): running, rate \d+ Hz, ticks \d+, inference p50 [\d.]+ µs", l));
        Assert.Contains(result.StdoutLines, l => l.Contains(" state online (seq 1", StringComparison.Ordinal));
    }

    [Fact]
    public void BenchMqttReportsOrderedPercentilesForBothSides()
    {
        var result = Kairoctl("bench-mqtt", "--device", _device.Id, "--count", "100", "--warmup", "5", "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var report = JsonDocument.Parse(result.Stdout);
        var root = report.RootElement;
        Assert.Equal(100, root.GetProperty("count").GetInt32());
        foreach (string side in new[] { "kairo_us", "echo_us" })
        {
            var s = root.GetProperty(side);
            double p50 = s.GetProperty("p50").GetDouble(), p90 = s.GetProperty("p90").GetDouble();
            double p99 = s.GetProperty("p99").GetDouble(), max = s.GetProperty("max").GetDouble();
            Assert.True(p50 > 0 && p50 <= p90 && p90 <= p99 && p99 <= max, $"{side}: {s}");
        }

        Assert.True(root.GetProperty("kairo_over_echo").GetProperty("p50").GetDouble() > 0, result.Stdout);
    }

    private ProcessResult Kairoctl(params string[] arguments) =>
        Bundle.Run("kairoctl", [.. arguments, "--broker", _device.Broker.Url], Patience);

    /// <summary>One broker and one kairod running the demo profile against it, shared by the tests of the class.</summary>
    public sealed class Device : IDisposable
    {
        private readonly string _stateDir = Directory.CreateTempSubdirectory("kairoctl-device-").FullName;
        private readonly DaemonProcess _daemon;

        public Device()
        {
            Broker = TestBroker.Start();
            _daemon = DaemonProcess.Start("--broker", Broker.Url, "--device-id", Id, "--state-dir", _stateDir);
            WaitForTelemetry(Broker, Id);
        }

        public string Id => "e2e-dev";

        internal TestBroker Broker { get; }

        /// <summary>Returns once the device's first telemetry message has reached the broker (it follows state and birth).</summary>
        internal static void WaitForTelemetry(TestBroker broker, string id)
        {
            var result = Bundle.Run("kairoctl", ["watch", "--device", id, "--broker", broker.Url, "--count", "1"], Patience);
            Assert.True(result.ExitCode == 0, $"{result}\nbroker:\n{broker.Output}");
        }

        public void Dispose()
        {
            _daemon.Dispose();
            Broker.Dispose();
            Directory.Delete(_stateDir, recursive: true);
        }
    }
}
