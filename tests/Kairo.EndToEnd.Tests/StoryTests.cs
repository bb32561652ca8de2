using System.Globalization;
using System.Text.Json.Nodes;
using Kairo.Testing;
using Xunit.Abstractions;

namespace Kairo.EndToEnd.Tests;

/// <summary>
/// The product as an operator meets it, on the published AOT binaries only: a device comes up, says who it is,
/// answers commands, streams telemetry and outputs, takes a signed model over the air (kairoctl pack, sign, serve,
/// deploy) while its loop runs at 200 Hz, rolls it back, obeys the emergency stop, and stops cleanly.
/// </summary>
[Collection(AotUnderLoad.Name)]
public sealed class StoryTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestBroker _broker = TestBroker.Start();
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("kairo-story-");
    private readonly ITestOutputHelper _output;

    public StoryTests(ITestOutputHelper output) => _output = output;

    public void Dispose()
    {
        _broker.Dispose();
        _work.Delete(recursive: true);
    }

    /// <summary>
    /// The loop runs pinned at SCHED_FIFO 50, as a board profile sets it, beside a <see cref="StallWitness"/> above it
    /// on its CPU: a tick missed inside a stall of this shared machine that the witness saw too is the machine's
    /// (<see cref="MissAudit"/>), and any other missed tick, read from the daemon's <c>recentMisses</c>, fails.
    /// </summary>
    [Fact]
    public void PackSignServeDeploy_UpdatesA200HzLoop_WithoutAMissedTick()
    {
        string url = PublishPackage("add1", version: 2, "scale_add_v2.onnx", out string key);
        using var serve = Serve();
        int cpu = Environment.ProcessorCount - 1;
        using var witness = StallWitness.Start(cpu, priority: 60);
        using var device = AotDevice.Start(_broker, "story-deploy", rateHz: 200, priority: 50, cpu: cpu, updates: Updates(key));
        device.WaitForOnline();
        device.Watch.WaitFor(m => m.Topic == "kairo/story-deploy/outputs/ctl", "a first output", Patience);
        var before = Metrics(device);

        var deploy = Ctl("deploy", "--device", "story-deploy", "--broker", _broker.Url, "--package", Url(serve, url));

        Assert.True(deploy.ExitCode == 0, deploy.ToString());
        Assert.Contains("committed: add1 v2", deploy.Stdout);
        var after = Metrics(device);
        Assert.Equal(2, (long)after["model"]!["version"]!);
        Assert.True((long)after["ticks"]! > (long)before["ticks"]! + 100, after.ToJsonString()); // the loop ran through the update (its 1 s health window alone is 200 periods)
        Assert.Equal(0, (long)after["misses"]!["inferenceError"]!);
        Assert.DoesNotContain("not permitted", device.Daemon.Output); // SCHED_FIFO applied (as root); affinity too:
        Assert.DoesNotContain("refused", device.Daemon.Output);
        MissAudit.AssertOnlyMachineStalls(MissAudit.Between(before, after), witness, _output);
        var committed = device.Watch.WaitFor(m => m.Topic == "kairo/story-deploy/events" && (string?)m.Json["type"] == "ota.committed", "the ota.committed event", Patience);
        Assert.Equal(2, (long)committed.Json["version"]!);
    }

    [Fact]
    public void TheWholeStory_Start_Birth_Commands_Telemetry_Update_Rollback_EmergencyStop_Sigterm_Offline()
    {
        string url = PublishPackage("add1", version: 2, "scale_add_v2.onnx", out string key);
        using var serve = Serve();
        using var device = AotDevice.Start(_broker, "story", rateHz: 200, updates: Updates(key));
        const string prefix = "kairo/story";

        // Start, state and birth.
        var online = device.WaitForOnline();
        long seq = (long)online["seq"]!;
        var birth = device.Watch.WaitFor(m => m.Topic == $"{prefix}/birth", "the birth", Patience);
        Assert.Equal("add1", (string?)birth.Json["loops"]![0]!["model"]!["name"]);
        Assert.Contains("ota.start", birth.Json["commands"]!.AsArray().Select(c => (string?)c));

        // Commands, telemetry, outputs of v1 (y = x + 1 on a constant 0).
        Assert.True(Ctl("cmd", "--device", "story", "--broker", _broker.Url, "ping").ExitCode == 0);
        var rate = Ctl("cmd", "--device", "story", "--broker", _broker.Url, "loop.set-rate", "loop=ctl", "rateHz=100");
        Assert.True(rate.ExitCode == 0, rate.ToString());
        var telemetry = device.Watch.WaitFor(m => m.Topic == $"{prefix}/telemetry/ctl" && (double?)m.Json["rateHz"] == 100, "telemetry at 100 Hz", Patience);
        Assert.True((long)telemetry.Json["ticks"]! > 0);
        Assert.True(Ctl("cmd", "--device", "story", "--broker", _broker.Url, "loop.set-rate", "loop=ctl", "rateHz=200").ExitCode == 0);
        Assert.Equal(1f, Output(device.Watch.WaitFor(m => m.Topic == $"{prefix}/outputs/ctl" && (string?)m.Json["output"] == "fresh", "an output of v1", Patience)));

        // An update over the air.
        var deploy = Ctl("deploy", "--device", "story", "--broker", _broker.Url, "--package", Url(serve, url));
        Assert.True(deploy.ExitCode == 0, deploy.ToString());
        // Fresh outputs: a tick the shared machine made late sends the safe output instead (this story is not audited).
        var v2 = device.Watch.WaitFor(m => m.Topic == $"{prefix}/outputs/ctl" && (long?)m.Json["modelVersion"] == 2 && (string?)m.Json["output"] == "fresh", "an output of v2", Patience);
        Assert.Equal(2f, Output(v2));
        var list = Ctl("cmd", "--device", "story", "--broker", _broker.Url, "model.list");
        var add1 = JsonNode.Parse(list.Stdout)!["data"]!.AsArray().Single(m => (string?)m!["name"] == "add1")!;
        Assert.Equal(2, (long)add1["version"]!); // the version that runs, from the store

        // A rollback to the profile's v1; v2 cannot come back, a fix ships as v3.
        var rollback = Ctl("cmd", "--device", "story", "--broker", _broker.Url, "ota.rollback", "model=add1");
        Assert.True(rollback.ExitCode == 0, rollback.ToString());
        var back = device.Watch.WaitFor(m => m.Topic == $"{prefix}/outputs/ctl" && (long?)m.Json["modelVersion"] == 1 && (string?)m.Json["output"] == "fresh", "an output of v1 again", Patience, from: v2.Index);
        Assert.Equal(1f, Output(back));
        device.Watch.WaitFor(m => m.Topic == $"{prefix}/events" && (string?)m.Json["type"] == "model.rolled-back", "the model.rolled-back event", Patience);
        var again = Ctl("deploy", "--device", "story", "--broker", _broker.Url, "--package", Url(serve, url));
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("version_not_newer", again.Stderr);

        // The emergency stop forces the safe output until it is released.
        Assert.True(Ctl("cmd", "--device", "story", "--broker", _broker.Url, "gpio.simulate", "line=3", "level=true").ExitCode == 0);
        var safe = device.Watch.WaitFor(m => m.Topic == $"{prefix}/outputs/ctl" && (string?)m.Json["output"] == "safe", "a safe output", Patience, from: back.Index);
        Assert.Equal(-1f, Output(safe));
        device.Watch.WaitFor(m => m.Topic == $"{prefix}/events" && (string?)m.Json["type"] == "estop.engaged", "estop.engaged", Patience);
        Assert.True(Ctl("cmd", "--device", "story", "--broker", _broker.Url, "gpio.simulate", "line=3", "level=false").ExitCode == 0);
        var fresh = device.Watch.WaitFor(m => m.Topic == $"{prefix}/outputs/ctl" && (string?)m.Json["output"] == "fresh", "a fresh output after the release", Patience, from: safe.Index);
        Assert.Equal(1f, Output(fresh));

        // SIGTERM: a clean stop, and the retained state says offline with the same sequence.
        int mark = device.Watch.Count;
        device.Daemon.Signal(DaemonProcess.SIGTERM);
        Assert.Equal(0, device.Daemon.WaitForExit(Patience));
        var offline = device.Watch.WaitFor(m => m.Topic == $"{prefix}/state" && (string?)m.Json["state"] == "offline", "offline", Patience, from: mark);
        Assert.Equal(seq, (long)offline.Json["seq"]!);
    }

    /// <summary>keygen, pack (golden vectors generated), sign: an archive under the served directory; returns its file name.</summary>
    private string PublishPackage(string name, long version, string model, out string publicKey)
    {
        string keys = Path.Combine(_work.FullName, "rel");
        Check(Ctl("keygen", "--out", keys));
        string served = Path.Combine(_work.FullName, "served");
        Directory.CreateDirectory(served);
        string directory = Path.Combine(served, $"{name}-v{version}");
        Check(Ctl("pack", Bundle.PathOf(Path.Combine("models", model)), "--name", name, "--version", version.ToString(CultureInfo.InvariantCulture), "--generate", "2", "--out", directory, "--tar"));
        Check(Ctl("sign", $"{directory}.kpkg", "--key", $"{keys}.key"));
        publicKey = $"{keys}.pub";
        return $"{name}-v{version}.kpkg";
    }

    /// <summary>
    /// Updates trusting <paramref name="publicKey"/>, a one-second health window, and a miss ratio of 25% there: the
    /// window's own rule is tested in-process, and here a stall of the shared machine would otherwise roll the update
    /// back; the misses themselves are audited by <see cref="MissAudit"/>.
    /// </summary>
    private static string Updates(string publicKey) => $$"""{ "trustedKeys": ["{{publicKey}}"], "healthWindowSeconds": 1, "maxMissRatio": 0.25 }""";

    /// <summary><c>kairoctl serve</c> on a free loopback port, as an operator runs it.</summary>
    private PackageServer Serve()
    {
        var process = DaemonProcess.StartProgram("kairoctl", new Dictionary<string, string>(), "serve", Path.Combine(_work.FullName, "served"), "--port", "0");
        string line = process.WaitForLine(l => l.StartsWith("serving ", StringComparison.Ordinal), Patience);
        return new PackageServer(process, line.Split(" at ")[1].Split(' ')[0]); // "serving DIR at http://127.0.0.1:PORT/ (Ctrl-C stops)"
    }

    private static string Url(PackageServer server, string file) => server.BaseUri + file;

    private sealed record PackageServer(DaemonProcess Process, string BaseUri) : IDisposable
    {
        public void Dispose() => Process.Dispose();
    }

    private JsonObject Metrics(AotDevice device)
    {
        var reply = Ctl("cmd", "--device", device.Id, "--broker", _broker.Url, "metrics.get", "loop=ctl");
        Assert.True(reply.ExitCode == 0, reply.ToString());
        return JsonNode.Parse(reply.Stdout)!["data"]!.AsObject();
    }

    private static float Output(MosquittoMessage message) => (float)message.Json["outputs"]!["y"]![0]!;

    private static ProcessResult Ctl(params string[] arguments) => Bundle.Run("kairoctl", arguments, TimeSpan.FromSeconds(120));

    private static void Check(ProcessResult result) => Assert.True(result.ExitCode == 0, result.ToString());
}
