using System.Text.RegularExpressions;

namespace Kairo.EndToEnd.Tests;

/// <summary>The published AOT kairod running profiles: real models, real loops, real signals.</summary>
public sealed partial class DaemonTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("kairo-daemon-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteProfile(string json)
    {
        string path = Path.Combine(_dir, "profile.json");
        File.WriteAllText(path, json.Replace("MODELS", Path.Combine(Bundle.Directory, "models")));
        return path;
    }

    [Fact]
    public void DemoProfileRunsBothLoopsWithoutAllocatingAndStopsOnSigterm()
    {
        using var daemon = DaemonProcess.Start("--state-dir", _dir);
        daemon.WaitForLine(l => l.Contains("loop drive: tick"), Patience);
        daemon.WaitForLine(l => l.Contains("loop arm: tick"), Patience);
        // The metrics line arrives after the demo's 10-second interval.
        string metrics = daemon.WaitForLine(l => l.Contains("loop arm:") && l.Contains("allocated"), Patience);
        Assert.Matches(AllocatedZero(), metrics);
        daemon.Signal(DaemonProcess.SIGTERM);
        daemon.WaitForLine(l => l.Contains("stopped"), Patience);
        Assert.Equal(0, daemon.WaitForExit(Patience));
    }

    [Fact]
    public void ProfileLoopsSendOutputsToAnActuatorAndStopWithTheSafeOutput()
    {
        using var actuator = new System.Net.Sockets.UdpClient(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        int port = ((System.Net.IPEndPoint)actuator.Client.LocalEndPoint!).Port;
        string profile = WriteProfile($$"""
            {
              "log": { "metricsIntervalSeconds": 0 },
              "models": [ { "name": "add", "path": "MODELS/scale_add_v2.onnx", "version": 2 } ],
              "loops": [ { "name": "act", "model": "add", "rateHz": 100, "safeOutput": { "y": [-1] },
                           "source": { "type": "synthetic", "pattern": "constant", "value": 0.5 },
                           "sinks": [ { "type": "udp", "address": "127.0.0.1:{{port}}" } ] } ]
            }
            """);
        using var daemon = DaemonProcess.Start("--config", profile, "--state-dir", _dir, "--device-id", "e2e-1");
        actuator.Client.ReceiveTimeout = (int)Patience.TotalMilliseconds;
        var from = new System.Net.IPEndPoint(System.Net.IPAddress.Any, 0);
        byte[] frame = actuator.Receive(ref from);
        Assert.Equal(32 + 16, frame.Length); // header + y: float[1,4]
        Assert.Equal("KRF1"u8.ToArray(), frame[..4]);
        Assert.Equal(2, frame[5]); // output frame
        Assert.Equal(2.5f, BitConverter.ToSingle(frame, 32)); // y = 0.5 * 1 + 2
        daemon.Signal(DaemonProcess.SIGINT);
        Assert.Equal(0, daemon.WaitForExit(Patience));

        // The last frame a stopping loop sends is its safe output.
        byte[] last = frame;
        actuator.Client.ReceiveTimeout = 500;
        try
        {
            while (true)
            {
                last = actuator.Receive(ref from);
            }
        }
        catch (System.Net.Sockets.SocketException)
        {
        }

        Assert.Equal(1, BitConverter.ToUInt16(last, 6)); // flags: safe
        Assert.Equal(-1f, BitConverter.ToSingle(last, 32));
    }

    [Fact]
    public void CheckConfigNamesTheJsonPathOfEachProblem()
    {
        string bad = WriteProfile("""
            { "models": [ { "name": "m", "path": "MODELS/mlp_policy.onnx" } ],
              "loops": [ { "name": "l", "model": "m", "rateHz": 2000, "source": { "type": "udp", "address": "nowhere" } } ] }
            """);
        var result = Bundle.Run(Bundle.PathOf("kairod"), ["--check-config", bad]);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("$.loops[0].rateHz: 2000 is out of range; expected 1 to 1000 Hz", result.Stderr);
        Assert.Contains("$.loops[0].source.address: 'nowhere' is not an address", result.Stderr);

        string misfit = WriteProfile("""
            { "models": [ { "name": "m", "path": "MODELS/recurrent_policy.onnx" } ],
              "loops": [ { "name": "l", "model": "m", "rateHz": 100, "state": [ { "from": "hidden", "to": "hidden_in" } ], "source": { "type": "synthetic" } } ] }
            """);
        var misfitResult = Bundle.Run(Bundle.PathOf("kairod"), ["--check-config", misfit]);
        Assert.Equal(1, misfitResult.ExitCode);
        Assert.Contains("$.loops[0] (l): state edge hidden -> hidden_in: the model has no output 'hidden'", misfitResult.Stderr);
    }

    [Fact]
    public void EveryShippedProfileChecks()
    {
        foreach (string profile in Directory.GetFiles(Path.Combine(Bundle.RepoRoot, "firmware-config"), "*.json"))
        {
            var result = Bundle.Run(Bundle.PathOf("kairod"), ["--check-config", profile]);
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains("valid", result.Stdout);
        }
    }

    [GeneratedRegex(@"allocated 0 B")]
    private static partial Regex AllocatedZero();
}
