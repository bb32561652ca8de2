using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kairo.Testing;
using Xunit.Abstractions;

namespace Kairo.EndToEnd.Tests;

/// <summary>
/// The published AOT kairod's control plane, driven only by clients that are not Kairo: mosquitto_pub and
/// mosquitto_sub, with exactly the topics, payloads and MQTT 5 properties docs/control-plane.md gives.
/// </summary>
public sealed class ControlPlaneAotTests(ControlPlaneAotTests.SharedBroker shared) : IClassFixture<ControlPlaneAotTests.SharedBroker>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestBroker _broker = shared.Broker;

    [Fact]
    public void State_IsRetainedOnlineWithTheSequence_BirthListsTheLoop_SigtermLeavesOfflineWithTheSameSequence()
    {
        string stateDir = Directory.CreateTempSubdirectory("kairo-cp-state-").FullName;
        try
        {
            for (long expected = 1; expected <= 2; expected++)
            {
                // Same state directory each time: the sequence is one more at every start.
                using var device = AotDevice.Start(_broker, "e2e-1", stateDir: stateDir);
                var online = device.WaitForOnline();
                Assert.Equal(expected, (long)online["seq"]!);
                Assert.Equal("e2e-1", (string?)online["deviceId"]);

                using var late = MosquittoWatch.Start(_broker, "kairo/e2e-1/state", "kairo/e2e-1/birth");
                var state = late.WaitFor(m => m.Topic == "kairo/e2e-1/state", "the retained state", Patience);
                Assert.True(state.Retained, state.ToString());
                Assert.Equal("online", (string?)state.Json["state"]);
                Assert.Equal(expected, (long)state.Json["seq"]!);

                var birth = late.WaitFor(m => m.Topic == "kairo/e2e-1/birth", "the retained birth", Patience);
                Assert.True(birth.Retained, birth.ToString());
                var content = birth.Json;
                Assert.Equal(expected, (long)content["seq"]!);
                Assert.Equal("e2e-1", (string?)content["deviceId"]);
                Assert.Equal("kairo/e2e-1", (string?)content["prefix"]);
                Assert.Equal("5", (string?)content["protocol"]);
                Assert.Equal("e2e-bench", (string?)content["board"]);
                var loop = content["loops"]!.AsArray().Single()!;
                Assert.Equal("ctl", (string?)loop["name"]);
                Assert.Equal("running", (string?)loop["state"]);
                Assert.Equal(100, (double)loop["rateHz"]!);
                Assert.Equal("add1", (string?)loop["model"]!["name"]);
                Assert.Equal(1, (long)loop["model"]!["version"]!);
                Assert.Equal("mqtt kairo/e2e-1/outputs/ctl every 5 ticks", (string?)loop["sinks"]![0]);
                Assert.Equal(new[] { "add1", "add2" }, content["models"]!.AsArray().Select(m => (string?)m!["name"]));
                var commands = content["commands"]!.AsArray().Select(c => (string?)c).ToList();
                Assert.Superset(new HashSet<string?> { "status", "ping", "loop.set-rate", "model.activate", "gpio.simulate" }, commands.ToHashSet());

                int before = device.Watch.Count;
                device.Daemon.Signal(DaemonProcess.SIGTERM);
                Assert.Equal(0, device.Daemon.WaitForExit(Patience));

                var offline = device.Watch.WaitFor(m => m.Topic == "kairo/e2e-1/state" && (string?)m.Json["state"] == "offline", "offline", Patience, from: before);
                Assert.Equal(expected, (long)offline.Json["seq"]!);
                using var after = MosquittoWatch.Start(_broker, "kairo/e2e-1/state");
                var retained = after.WaitFor(m => m.Topic == "kairo/e2e-1/state", "the retained state after the stop", Patience);
                Assert.True(retained.Retained);
                Assert.True(offline.Payload == retained.Payload, $"the retained state is the device's own offline {offline.Payload}, not {retained.Payload}\nkairod:\n{device.Daemon.Output}\nbroker:\n{string.Join('\n', _broker.Output.Split('\n').TakeLast(30))}");
            }
        }
        finally
        {
            Directory.Delete(stateDir, recursive: true);
        }
    }

    [Fact]
    public void Status_AnswersAn311ClientOnReplyTo_AndAnMqtt5ClientOnTheResponseTopic()
    {
        using var device = AotDevice.Start(_broker, "e2e-2");
        device.WaitForOnline();

        var reply = device.Request311("status", """{"id":"s-1","reply_to":"e2e/e2e-2/replies/311"}""", "e2e/e2e-2/replies/311");
        Assert.Equal("s-1", (string?)reply.Json["id"]);
        Assert.True((bool)reply.Json["ok"]!, reply.ToString());
        Assert.Equal("ok", (string?)reply.Json["code"]);
        var data = reply.Json["data"]!;
        Assert.Equal("e2e-2", (string?)data["deviceId"]);
        Assert.Equal("e2e-bench", (string?)data["board"]);
        Assert.True((bool)data["mqtt"]!["connected"]!);
        Assert.Equal("released", (string?)data["gpio"]!["estop"]);
        Assert.Equal("ctl", (string?)data["loops"]![0]!["name"]);

        var reply5 = device.Request5("status", "{}", "corr-status-7");
        Assert.Equal("corr-status-7", reply5.CorrelationData);
        Assert.Equal("application/json", reply5.ContentType);
        Assert.True((bool)reply5.Json["ok"]!, reply5.ToString());
        Assert.Null(reply5.Json["id"]);
        var requests = reply5.Json["data"]!["mqtt"]!["requests"]!;
        Assert.Equal(2, (long)requests["received"]!);
        Assert.Equal(2, (long)requests["executed"]!); // the 3.1.1 one and this one: status is written as it is answered
    }

    [Fact]
    public void LoopSetRate_ChangesTheRateInTelemetry()
    {
        using var device = AotDevice.Start(_broker, "e2e-3");
        device.WaitForOnline();
        var first = device.Watch.WaitFor(m => m.Topic == "kairo/e2e-3/telemetry/ctl", "telemetry", Patience);
        Assert.Equal(100, (double)first.Json["rateHz"]!);

        var reply = device.Request5("loop.set-rate", """{"id":"r-1","loop":"ctl","rateHz":40}""", "corr-rate");
        Assert.True((bool)reply.Json["ok"]!, reply.ToString());
        Assert.Equal("r-1", (string?)reply.Json["id"]);
        Assert.Equal(40, (double)reply.Json["data"]!["rateHz"]!);
        Assert.Equal("100 Hz -> 40 Hz from the next tick", (string?)reply.Json["message"]);

        var telemetry = device.Watch.WaitFor(m => m.Topic == "kairo/e2e-3/telemetry/ctl" && (double)m.Json["rateHz"]! == 40, "telemetry at 40 Hz", Patience, from: reply.Index);
        Assert.Equal("running", (string?)telemetry.Json["state"]);
        var change = device.Watch.WaitFor(m => m.Topic == "kairo/e2e-3/events" && (string?)m.Json["type"] == "loop.rate", "the loop.rate event", Patience);
        Assert.Equal(100, (double)change.Json["previousRateHz"]!);
        Assert.Equal(40, (double)change.Json["rateHz"]!);

        // Ticks now come at 40 Hz: two telemetry messages a known time apart agree within a tick or two.
        var a = device.Watch.WaitFor(m => m.Topic == "kairo/e2e-3/telemetry/ctl", "telemetry", Patience, from: telemetry.Index + 1);
        var b = device.Watch.WaitFor(m => m.Topic == "kairo/e2e-3/telemetry/ctl", "telemetry", Patience, from: a.Index + 4);
        double seconds = (DateTimeOffset.Parse((string)b.Json["ts"]!, CultureInfo.InvariantCulture) - DateTimeOffset.Parse((string)a.Json["ts"]!, CultureInfo.InvariantCulture)).TotalSeconds;
        long ticks = (long)b.Json["ticks"]! - (long)a.Json["ticks"]!;
        Assert.InRange(ticks, (40 * seconds) - 3, (40 * seconds) + 3);
    }

    [Fact]
    public void Sighup_ReloadsTheLogLevelAndLoopRates_AnnouncesThem_AndAProfileThatNoLongerChecksChangesNothing()
    {
        string socketPath = Path.Combine(Path.GetTempPath(), $"kairo-hup-{Environment.ProcessId}-{Guid.NewGuid():N}.sock");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        socket.ReceiveTimeout = (int)Patience.TotalMilliseconds;
        try
        {
            using var device = AotDevice.Start(_broker, "e2e-hup", rateHz: 100, environment: new Dictionary<string, string> { ["NOTIFY_SOCKET"] = socketPath });
            device.WaitForOnline();
            SystemdTests.Receive(socket, m => m.Contains("READY=1"));
            string profile = File.ReadAllText(device.ProfilePath);
            Assert.Contains("\"rateHz\": 100,", profile);

            // The operator edits the profile: another rate, another log level; then SIGHUP.
            int mark = device.Watch.Count;
            File.WriteAllText(device.ProfilePath, profile.Replace("\"rateHz\": 100,", "\"rateHz\": 50,").Replace("\"log\": { ", "\"log\": { \"level\": \"debug\", "));
            device.Daemon.Signal(DaemonProcess.SIGHUP);
            SystemdTests.Receive(socket, m => m.Contains("RELOADING=1"));
            Assert.Contains("READY=1", SystemdTests.Receive(socket, m => m.Contains("READY=1")));
            var change = device.Watch.WaitFor(m => m.Topic == "kairo/e2e-hup/events" && (string?)m.Json["type"] == "loop.rate", "the loop.rate event", Patience, from: mark);
            Assert.Equal(100, (double)change.Json["previousRateHz"]!);
            Assert.Equal(50, (double)change.Json["rateHz"]!);
            var birth = device.Watch.WaitFor(m => m.Topic == "kairo/e2e-hup/birth", "the birth again", Patience, from: mark);
            Assert.Equal(50, (double)birth.Json["loops"]![0]!["rateHz"]!);
            device.Watch.WaitFor(m => m.Topic == "kairo/e2e-hup/telemetry/ctl" && (double)m.Json["rateHz"]! == 50, "telemetry at 50 Hz", Patience, from: mark);
            var status = device.Request5("status", "{}", "corr-hup-1").Json["data"]!;
            Assert.Equal("debug", (string?)status["logLevel"]);
            Assert.Equal(50, (double)status["loops"]![0]!["rateHz"]!);

            // A profile that no longer checks: refused, nothing changes, and the service is ready as before.
            File.WriteAllText(device.ProfilePath, profile.Replace("\"rateHz\": 100,", "\"rateHz\": 5000,"));
            device.Daemon.Signal(DaemonProcess.SIGHUP);
            device.Daemon.WaitForLine(l => l.Contains("SIGHUP: the profile was not reloaded, nothing changed"), Patience);
            device.Daemon.WaitForLine(l => l.Contains("$.loops[0].rateHz") && l.Contains("5000"), Patience); // the problem, by its JSON path
            SystemdTests.Receive(socket, m => m.Contains("READY=1"));
            status = device.Request5("status", "{}", "corr-hup-2").Json["data"]!;
            Assert.Equal("debug", (string?)status["logLevel"]);
            Assert.Equal(50, (double)status["loops"]![0]!["rateHz"]!);
            Assert.Equal("running", (string?)status["loops"]![0]!["state"]);
        }
        finally
        {
            File.Delete(socketPath);
        }
    }

    [Fact]
    public void ModelActivate_SwitchesTheMqttSinkOutputsFromV1ToV2()
    {
        using var device = AotDevice.Start(_broker, "e2e-4");
        device.WaitForOnline();
        var v1 = device.Watch.WaitFor(m => m.Topic == "kairo/e2e-4/outputs/ctl" && (string?)m.Json["output"] == "fresh", "a fresh output", Patience);
        Assert.Equal(1, (long)v1.Json["modelVersion"]!);
        Assert.Equal(new[] { 1f, 1f, 1f, 1f }, Outputs(v1)); // y = 0 * 1 + 1

        var reply = device.Request5("model.activate", """{"id":"m-1","loop":"ctl","model":"add2"}""", "corr-model");
        Assert.True((bool)reply.Json["ok"]!, reply.ToString());
        Assert.Equal("add2", (string?)reply.Json["data"]!["model"]!["name"]);
        Assert.Equal("ctl: add1 v1 -> add2 v2 between two ticks", (string?)reply.Json["message"]);

        var v2 = device.Watch.WaitFor(m => m.Topic == "kairo/e2e-4/outputs/ctl" && (long)m.Json["modelVersion"]! == 2 && (string?)m.Json["output"] == "fresh", "a fresh output of v2", Patience, from: reply.Index);
        Assert.Equal(new[] { 2f, 2f, 2f, 2f }, Outputs(v2)); // y = 0 * 1 + 2

        // From the swap on, every output is v2's: no tick went back to v1. A tick the machine made late (this loop
        // is not audited) sends the profile's safe output instead, never v1's.
        var later = device.Watch.WaitFor(m => m.Topic == "kairo/e2e-4/outputs/ctl", "more outputs", Patience, from: v2.Index + 20);
        Assert.All(
            device.Watch.Between(v2.Index, later.Index + 1).Where(m => m.Topic == "kairo/e2e-4/outputs/ctl"),
            m =>
            {
                Assert.Equal(2, (long)m.Json["modelVersion"]!);
                Assert.Equal((string?)m.Json["output"] == "safe" ? new[] { -1f, -1f, -1f, -1f } : new[] { 2f, 2f, 2f, 2f }, Outputs(m));
            });
        var birth = device.Watch.WaitFor(m => m.Topic == "kairo/e2e-4/birth" && (string?)m.Json["loops"]![0]!["model"]!["name"] == "add2", "a birth with add2", Patience, from: v1.Index); // published before the reply
        Assert.Equal(2, (long)birth.Json["loops"]![0]!["model"]!["version"]!);
        var activated = device.Watch.WaitFor(m => m.Topic == "kairo/e2e-4/events" && (string?)m.Json["type"] == "model.activated", "the model.activated event", Patience);
        Assert.Equal("add1 v1", (string?)activated.Json["previous"]);
    }

    [Fact]
    public void GpioSimulate_EngagingTheEmergencyStopMakesOutputsSafe_AndReleasingRestoresThem()
    {
        using var device = AotDevice.Start(_broker, "e2e-5");
        device.WaitForOnline();
        device.Watch.WaitFor(m => m.Topic == "kairo/e2e-5/outputs/ctl" && (string?)m.Json["output"] == "fresh", "a fresh output", Patience);

        // Wrong type and missing argument: their codes, and the line untouched.
        Assert.Equal("bad_request", (string?)device.Request5("gpio.simulate", """{"line":3,"level":"high"}""", "corr-estop-type").Json["code"]);
        Assert.Equal("invalid_argument", (string?)device.Request5("gpio.simulate", """{"line":3}""", "corr-estop-missing").Json["code"]);
        Assert.Equal("released", (string?)device.Request5("status", "{}", "corr-status-released").Json["data"]!["gpio"]!["estop"]);

        var engage = device.Request5("gpio.simulate", """{"line":3,"level":true}""", "corr-estop-on");
        Assert.True((bool)engage.Json["ok"]!, engage.ToString());
        var safe = device.Watch.WaitFor(m => m.Topic == "kairo/e2e-5/outputs/ctl" && (string?)m.Json["output"] == "safe", "a safe output", Patience, from: engage.Index);
        Assert.Equal(new[] { -1f, -1f, -1f, -1f }, Outputs(safe)); // the profile's safe output
        var held = device.Watch.WaitFor(m => m.Topic == "kairo/e2e-5/outputs/ctl", "more outputs", Patience, from: safe.Index + 10);
        Assert.All(device.Watch.Between(safe.Index, held.Index + 1).Where(m => m.Topic == "kairo/e2e-5/outputs/ctl"), m => Assert.Equal("safe", (string?)m.Json["output"]));
        device.Watch.WaitFor(m => m.Topic == "kairo/e2e-5/events" && (string?)m.Json["type"] == "estop.engaged", "the estop.engaged event", Patience);
        Assert.Equal("engaged", (string?)device.Request5("status", "{}", "corr-status-engaged").Json["data"]!["gpio"]!["estop"]);

        var release = device.Request5("gpio.simulate", """{"line":3,"level":false}""", "corr-estop-off");
        Assert.True((bool)release.Json["ok"]!, release.ToString());
        var fresh = device.Watch.WaitFor(m => m.Topic == "kairo/e2e-5/outputs/ctl" && (string?)m.Json["output"] == "fresh", "a fresh output again", Patience, from: release.Index);
        Assert.Equal(new[] { 1f, 1f, 1f, 1f }, Outputs(fresh));
        device.Watch.WaitFor(m => m.Topic == "kairo/e2e-5/events" && (string?)m.Json["type"] == "estop.released", "the estop.released event", Patience);
    }

    [Fact]
    public void BadRequests_GetTheirCodesThroughTheResponseTopic_AndChangeNothing()
    {
        using var device = AotDevice.Start(_broker, "e2e-6");
        device.WaitForOnline();
        int start = device.Watch.Count;

        var malformed = device.Request5("loop.set-rate", """{"loop":"ctl","rateHz":""", "corr-malformed");
        Assert.Equal("bad_request", (string?)malformed.Json["code"]);
        Assert.StartsWith("the payload is not valid JSON", (string?)malformed.Json["message"]);

        var array = device.Request5("loop.set-rate", """[{"loop":"ctl","rateHz":5}]""", "corr-array");
        Assert.Equal("bad_request", (string?)array.Json["code"]);

        var duplicate = device.Request5("loop.set-rate", """{"loop":"ctl","rateHz":5,"rateHz":6}""", "corr-duplicate");
        Assert.Equal("bad_request", (string?)duplicate.Json["code"]);
        Assert.Contains("duplicate property", (string?)duplicate.Json["message"]);

        var wrongType = device.Request5("loop.set-rate", """{"loop":"ctl","rateHz":"fast"}""", "corr-type");
        Assert.Equal("bad_request", (string?)wrongType.Json["code"]);
        Assert.Equal("'rateHz' must be a number", (string?)wrongType.Json["message"]);

        var outOfRange = device.Request5("loop.set-rate", """{"loop":"ctl","rateHz":5000}""", "corr-range");
        Assert.Equal("invalid_argument", (string?)outOfRange.Json["code"]);

        var noLoop = device.Request5("loop.set-rate", """{"loop":"nope","rateHz":5}""", "corr-loop");
        Assert.Equal("not_found", (string?)noLoop.Json["code"]);
        Assert.Equal("no loop 'nope'; loops: ctl", (string?)noLoop.Json["message"]);

        var unknown = device.Request5("reboot", "{}", "corr-unknown");
        Assert.Equal("unknown_command", (string?)unknown.Json["code"]);
        Assert.StartsWith("no command 'reboot'; commands: ", (string?)unknown.Json["message"]);
        Assert.Contains("loop.set-rate", (string?)unknown.Json["message"]);
        Assert.Contains("status", (string?)unknown.Json["message"]);

        string oversize = $$"""{"loop":"ctl","rateHz":5,"pad":"{{new string('x', 1500)}}"}""";
        var tooLarge = device.Request5("loop.set-rate", oversize, "corr-large");
        Assert.Equal("too_large", (string?)tooLarge.Json["code"]);
        Assert.Equal($"the request is {Encoding.UTF8.GetByteCount(oversize)} bytes; the limit is 1024", (string?)tooLarge.Json["message"]);

        foreach (var reply in new[] { malformed, array, duplicate, wrongType, outOfRange, noLoop, unknown, tooLarge })
        {
            Assert.False((bool)reply.Json["ok"]!, reply.ToString());
            Assert.Null(reply.Json["data"]);
            Assert.Equal("application/json", reply.ContentType);
        }

        // Nothing changed: the same rate and model, no event, and the device still answers.
        var status = device.Request5("status", "{}", "corr-status");
        var loop = status.Json["data"]!["loops"]![0]!;
        Assert.Equal(100, (double)loop["rateHz"]!);
        Assert.Equal("add1", (string?)loop["model"]!["name"]);
        Assert.Equal("running", (string?)loop["state"]);
        var requests = status.Json["data"]!["mqtt"]!["requests"]!;
        Assert.Equal(9, (long)requests["received"]!);
        Assert.Equal(5, (long)requests["rejected"]!); // malformed, array, duplicate, unknown, too large: before any handler
        Assert.Equal(4, (long)requests["executed"]!); // wrong type, out of range, no such loop, and this status
        Assert.DoesNotContain(device.Watch.Between(start, device.Watch.Count), m => m.Topic == "kairo/e2e-6/events");
    }

    [Fact]
    public void RequestWithoutReplyAddress_RunsAndIsCountedUnanswerable()
    {
        using var device = AotDevice.Start(_broker, "e2e-7");
        device.WaitForOnline();

        device.Publish("-q", "1", "-t", "kairo/e2e-7/cmd/loop.set-rate", "-m", """{"id":"quiet","loop":"ctl","rateHz":25}""");

        var changed = device.Watch.WaitFor(m => m.Topic == "kairo/e2e-7/events" && (string?)m.Json["type"] == "loop.rate", "the loop.rate event", Patience);
        Assert.Equal(25, (double)changed.Json["rateHz"]!);
        var status = device.Request5("status", "{}", "corr-status");
        Assert.Equal(1, (long)status.Json["data"]!["mqtt"]!["requests"]!["unanswerable"]!);
        Assert.Equal(25, (double)status.Json["data"]!["loops"]![0]!["rateHz"]!);
    }

    private static float[] Outputs(MosquittoMessage output) =>
        output.Json["outputs"]!["y"]!.AsArray().Select(v => (float)v!).ToArray();

    /// <summary>One broker for the class; every test runs its own kairod with its own device id.</summary>
    public sealed class SharedBroker : IDisposable
    {
        internal TestBroker Broker { get; } = TestBroker.Start();

        public void Dispose() => Broker.Dispose();
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AotUnderLoad
{
    /// <summary>Measures deadline misses, so runs alone, not beside other test classes' daemons and brokers.</summary>
    public const string Name = "AOT kairod under load";
}

/// <summary>
/// The broker killed (SIGKILL) and restarted under the AOT kairod while its loop runs at 200 Hz, pinned at SCHED_FIFO
/// 50 beside a <see cref="StallWitness"/>: kairod reconnects by itself, publishes its birth and online state again
/// to a broker that remembers nothing, answers requests, and the loop never notices (its misses are audited as in the
/// flood test).
/// </summary>
[Collection(AotUnderLoad.Name)]
public sealed class ControlPlaneAotBrokerRestartTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestBroker _broker = TestBroker.Start();

    public void Dispose() => _broker.Dispose();

    [Fact]
    public void BrokerKilledAndRestarted_KairodReconnectsAndRepublishes_TheLoopNeverNotices()
    {
        int cpu = Environment.ProcessorCount - 1;
        using var witness = StallWitness.Start(cpu, priority: 60);
        using var device = AotDevice.Start(_broker, "e2e-restart", rateHz: 200, priority: 50, cpu: cpu);
        long seq = (long)device.WaitForOnline()["seq"]!;
        device.Watch.WaitFor(m => m.Topic == "kairo/e2e-restart/telemetry/ctl" && (long)m.Json["ticks"]! >= 400, "two seconds of ticks", Patience);
        var before = Metrics();
        var gcBefore = Status()["gc"]!;

        _broker.Kill();
        device.Daemon.WaitForLine(l => l.Contains("MQTT connection to") && l.Contains("ended"), Patience);
        Thread.Sleep(1000); // a second with no broker at all: the loop must not care
        Assert.Equal(3, Ctl("status", "--timeout", "1").ExitCode); // no connection

        _broker.Restart();
        using var watch = MosquittoWatch.Start(_broker, "kairo/e2e-restart/#");
        var online = watch.WaitFor(m => m.Topic == "kairo/e2e-restart/state" && (string?)m.Json["state"] == "online", "online again", Patience);
        Assert.Equal(seq, (long)online.Json["seq"]!); // the same start: the same sequence number
        var birth = watch.WaitFor(m => m.Topic == "kairo/e2e-restart/birth", "the birth again", Patience);
        Assert.True(birth.Retained || birth.Index < online.Index, "the birth comes before online, or is retained");
        Assert.Equal("ctl", (string?)birth.Json["loops"]![0]!["name"]);

        var after = Metrics();
        var status = Status();
        Assert.True((bool)status["mqtt"]!["connected"]!);
        string figures = $"ticks {(long)after["ticks"]! - (long)before["ticks"]!}, deadline misses {before["deadlineMisses"]} before, {after["deadlineMisses"]} after; " +
            $"kairod's log:\n{string.Join('\n', device.Daemon.Output.Split('\n').Where(l => l.Contains("MQTT")))}";
        output.WriteLine(figures);
        int unpaced = (int)((long)status["gc"]!["pacing"]!["unpaced"]! - (long)gcBefore["pacing"]!["unpaced"]!);
        MissAudit.AssertOnlyMachineStalls(MissAudit.Between(before, after), witness, output, collections: unpaced);
        Assert.Equal(0, (long)after["allocatedBytes"]!);
        Assert.Equal("running", (string?)after["state"]);
    }

    private JsonObject Metrics() => Data(Ctl("cmd", "metrics.get", "loop=ctl"));

    private JsonObject Status() => Data(Ctl("cmd", "status"));

    private static JsonObject Data(ProcessResult reply)
    {
        Assert.True(reply.ExitCode == 0, reply.ToString());
        return JsonNode.Parse(reply.Stdout)!["data"]!.AsObject();
    }

    private ProcessResult Ctl(params string[] arguments) =>
        Bundle.Run("kairoctl", [arguments[0], "--device", "e2e-restart", "--broker", _broker.Url, .. arguments[1..]], TimeSpan.FromSeconds(60));
}

/// <summary>
/// A flood of requests at the AOT kairod from mosquitto_pub, 1,000 a second for ten seconds, while its loop runs at
/// 200 Hz with SCHED_FIFO priority 50 (normal scheduling where refused): every request is answered, ok or busy, none
/// runs twice, and the loop keeps its pace without allocating.
/// </summary>
/// <remarks>
/// On the shared two-vCPU machine these tests were written on, an idle kairod with no broker and no control plane at
/// all missed 22 deadlines in 60 s at 200 Hz under SCHED_FIFO (stalls of 5 ms and more), so the loop runs pinned
/// beside a <see cref="StallWitness"/> and the ticks it missed during the flood are audited (<see cref="MissAudit"/>).
/// Of Kairo's own, the only miss forgiven is one per garbage collection the runtime started itself rather than the
/// collection pacer (status.gc.pacing.unpaced), and only when the tick's record shows a collection pause as long as
/// its overshoot. A control plane that reached the loop thread (a shared lock, a synchronous publish, work or
/// allocation on it) would cost far more.
/// </remarks>
[Collection(AotUnderLoad.Name)]
public sealed class ControlPlaneAotFloodTests(ITestOutputHelper output) : IDisposable
{
    private const int Batches = 10;
    private const int PerBatch = 1000;
    private const int Total = Batches * PerBatch;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestBroker _broker = TestBroker.Start();

    public void Dispose() => _broker.Dispose();

    [Fact]
    public async Task Flood_EveryRequestIsAnsweredOkOrBusy_AndTheLoopKeepsItsPaceWithoutAllocating()
    {
        int cpu = Environment.ProcessorCount - 1;
        using var witness = StallWitness.Start(cpu, priority: 60);
        using var device = AotDevice.Start(_broker, "e2e-flood", rateHz: 200, priority: 50, cpu: cpu);
        device.WaitForOnline();
        device.Watch.WaitFor(m => m.Topic == "kairo/e2e-flood/telemetry/ctl" && (long)m.Json["ticks"]! >= 400, "two seconds of ticks", Patience);
        var gcBefore = device.Request5("status", "{}", "corr-status-before").Json["data"]!["gc"]!;
        var before = device.Request5("metrics.get", """{"loop":"ctl"}""", "corr-before").Json["data"]!;
        string replies = "e2e/e2e-flood/replies/flood";

        // One mosquitto_pub for the whole flood: each stdin line is a message, all with the same response topic.
        var info = new ProcessStartInfo("mosquitto_pub") { RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in new[] { "-V", "5", "-h", "127.0.0.1", "-p", _broker.Port.ToString(CultureInfo.InvariantCulture), "-q", "1", "-l",
            "-t", "kairo/e2e-flood/cmd/status", "-D", "publish", "response-topic", replies })
        {
            info.ArgumentList.Add(argument);
        }

        var elapsed = Stopwatch.StartNew();
        using (var publisher = Process.Start(info)!)
        {
            Task<string> errors = publisher.StandardError.ReadToEndAsync();
            using var pace = new PeriodicTimer(TimeSpan.FromSeconds(1));
            for (int batch = 0; batch < Batches; batch++)
            {
                if (batch > 0)
                {
                    await pace.WaitForNextTickAsync();
                }

                var lines = new StringBuilder();
                for (int i = 0; i < PerBatch; i++)
                {
                    lines.Append(CultureInfo.InvariantCulture, $$"""{"id":{{(batch * PerBatch) + i}}}""").Append('\n');
                }

                await publisher.StandardInput.WriteAsync(lines.ToString());
                await publisher.StandardInput.FlushAsync();
            }

            publisher.StandardInput.Close(); // end of input: it sends what is queued and exits
            Assert.True(publisher.WaitForExit(Patience), "mosquitto_pub did not finish the flood");
            Assert.True(publisher.ExitCode == 0, $"mosquitto_pub exited with {publisher.ExitCode}: {await errors}");
        }

        var answers = device.Watch.WaitForCount(m => m.Topic == replies, Total, TimeSpan.FromSeconds(120));
        elapsed.Stop();
        var after = device.Request5("metrics.get", """{"loop":"ctl"}""", "corr-after").Json["data"]!;
        var status = device.Request5("status", "{}", "corr-status").Json["data"]!;

        var ok = answers.Where(m => (string?)m.Json["code"] == "ok").Select(m => (long)m.Json["id"]!).ToList();
        int busy = answers.Count(m => (string?)m.Json["code"] == "busy");
        long missesBefore = (long)before["deadlineMisses"]!, missesAfter = (long)after["deadlineMisses"]!;
        var requests = status["mqtt"]!["requests"]!;
        string figures =
            $"AOT kairod, flood over {elapsed.Elapsed.TotalSeconds:0.0} s: {ok.Count} ok, {busy} busy; requests {requests.ToJsonString()}; " +
            $"loop {(long)after["ticks"]! - (long)before["ticks"]!} ticks, deadline misses {missesBefore} before, {missesAfter} after " +
            $"({after["misses"]!.ToJsonString()}); wake-up lateness max {after["latenessNs"]!["max"]} ns, p99 {after["latenessNs"]!["p99"]} ns; loop thread allocated {after["allocatedBytes"]} B; " +
            $"garbage collection before {gcBefore.ToJsonString()}, after {status["gc"]!.ToJsonString()}";
        output.WriteLine(figures);

        Assert.True(answers.Count == Total && ok.Count + busy == Total, $"{answers.Count} replies; {figures}\nbroker:\n{string.Join('\n', _broker.Output.Split('\n').TakeLast(20))}");
        Assert.Equal(ok.Count, ok.Distinct().Count()); // no request ran twice
        Assert.All(ok, id => Assert.InRange(id, 0, Total - 1));
        Assert.All(answers.Where(m => (string?)m.Json["code"] == "busy"), m => Assert.Null(m.Json["id"])); // refused unread
        Assert.Equal(Total + 4, (long)requests["received"]!); // and status and metrics.get before, metrics.get after, and this status
        Assert.Equal(busy, (long)requests["busy"]!);
        Assert.Equal(ok.Count + 4, (long)requests["executed"]!); // this status counts itself: it is written as it is answered
        Assert.Equal(0, (long)requests["rejected"]!);

        long ticks = (long)after["ticks"]! - (long)before["ticks"]!;
        double seconds = (DateTimeOffset.Parse((string)after["ts"]!, CultureInfo.InvariantCulture) - DateTimeOffset.Parse((string)before["ts"]!, CultureInfo.InvariantCulture)).TotalSeconds;
        long skipped = (long)after["misses"]!["overrun"]! - (long)before["misses"]!["overrun"]!; // periods skipped whole, audited below
        Assert.True(ticks + skipped >= seconds * 200 * 0.97, $"the loop fell behind: {ticks} ticks and {skipped} periods skipped in {seconds:0.00} s; {figures}");

        // The control plane allocates little per request (replies are written straight into a reused buffer), so a
        // flood of 10,000 costs a few collections, and the pacer runs them while the loop sleeps. One the runtime
        // started itself (unpaced) may make one tick late; nothing else of Kairo's may.
        var gcAfter = status["gc"]!;
        int collections = Collections(gcAfter) - Collections(gcBefore);
        int unpaced = (int)((long)gcAfter["pacing"]!["unpaced"]! - (long)gcBefore["pacing"]!["unpaced"]!);
        long perRequest = ((long)gcAfter["allocatedBytes"]! - (long)gcBefore["allocatedBytes"]!) / Total;
        Assert.True(perRequest <= 4096, $"the control plane allocated {perRequest} B per request; {figures}");
        Assert.True(collections <= 12, $"{collections} garbage collections during the flood; {figures}");
        MissAudit.AssertOnlyMachineStalls(MissAudit.Between(before, after), witness, output, collections: unpaced);
        Assert.Equal(0, (long)after["allocatedBytes"]!); // nothing of the flood ran on the loop thread
    }

    private static int Collections(JsonNode gc) => gc["collections"]!.AsObject().Sum(g => (int)g.Value!);
}

/// <summary>
/// The AOT kairod on a profile written for these tests: loop <c>ctl</c> on scale_add_v1.onnx with a constant input 0
/// and an mqtt sink every 5 ticks, models add1 (scale_add_v1) and add2 (scale_add_v2), a simulated GPIO chip with the emergency stop on line 3
/// (active high), and requests up to 1,024 bytes. A mosquitto_sub watches everything under its prefix and its reply
/// topics from before the start.
/// </summary>
internal sealed class AotDevice : IDisposable
{
    private readonly string _directory;
    private readonly string? _ownedStateDir;
    private readonly BrokerEndpoint _broker;

    private AotDevice(BrokerEndpoint broker, string id, string directory, string? ownedStateDir, MosquittoWatch watch, DaemonProcess daemon)
    {
        _broker = broker;
        Id = id;
        _directory = directory;
        _ownedStateDir = ownedStateDir;
        Watch = watch;
        Daemon = daemon;
    }

    public string Id { get; }

    public string Prefix => $"kairo/{Id}";

    /// <summary>The profile kairod was started with (a test may rewrite it and send SIGHUP).</summary>
    public string ProfilePath => Path.Combine(_directory, "profile.json");

    public MosquittoWatch Watch { get; }

    public DaemonProcess Daemon { get; }

    /// <param name="updates">The profile's <c>updates</c> section as JSON (key paths absolute), or null: updates off.</param>
    /// <param name="cpu">The CPU the loop is pinned to, or null: any.</param>
    /// <param name="environment">More environment for kairod (e.g. NOTIFY_SOCKET), or null.</param>
    public static AotDevice Start(BrokerEndpoint broker, string id, double rateHz = 100, int? priority = null, string? stateDir = null, string? updates = null, int? cpu = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        string directory = Directory.CreateTempSubdirectory("kairo-cp-").FullName;
        string? owned = stateDir == null ? Path.Combine(directory, "state") : null;
        string profile = Path.Combine(directory, "profile.json");
        string models = Path.Combine(Bundle.Directory, "models");
        File.WriteAllText(profile, $$"""
            {
              "board": "e2e-bench",
              "log": { "metricsIntervalSeconds": 0 },
              "mqtt": { "telemetryIntervalSeconds": 0.25, "maxPayloadBytes": 1024 },
              "gpio": { "chip": "simulated", "estop": { "line": 3, "activeLevel": "high", "debounceMs": 5 } },{{(updates is null ? "" : $"\n  \"updates\": {updates},")}}
              "models": [
                { "name": "add1", "path": "{{models}}/scale_add_v1.onnx", "version": 1 },
                { "name": "add2", "path": "{{models}}/scale_add_v2.onnx", "version": 2 }
              ],
              "loops": [
                { "name": "ctl", "model": "add1", "rateHz": {{rateHz.ToString(CultureInfo.InvariantCulture)}}, {{(priority is int p ? $"\"priority\": {p}," : "")}}{{(cpu is int c ? $" \"cpuAffinity\": [{c}]," : "")}}
                  "safeOutput": { "y": [-1] },
                  "source": { "type": "synthetic", "pattern": "constant", "value": 0 },
                  "sinks": [ { "type": "mqtt", "everyTicks": 5 } ] }
              ]
            }
            """);
        var watch = MosquittoWatch.Start(broker, $"kairo/{id}/#", $"e2e/{id}/#");
        DaemonProcess daemon;
        try
        {
            daemon = DaemonProcess.Start(environment ?? new Dictionary<string, string>(), "--config", profile, "--broker", broker.Url, "--device-id", id, "--state-dir", stateDir ?? owned!);
        }
        catch
        {
            watch.Dispose();
            throw;
        }

        return new AotDevice(broker, id, directory, owned, watch, daemon);
    }

    /// <summary>Waits for <c>state</c> online (retained, or live) and returns it.</summary>
    public JsonObject WaitForOnline() =>
        Watch.WaitFor(m => m.Topic == $"{Prefix}/state" && (string?)m.Json["state"] == "online", $"{Id} online\nkairod:\n{Daemon.Output}", TimeSpan.FromSeconds(60)).Json;

    /// <summary>An MQTT 5 request as docs/control-plane.md shows it: response topic and correlation data as properties.</summary>
    public MosquittoMessage Request5(string command, string payload, string correlation)
    {
        string responseTopic = $"e2e/{Id}/replies/r5";
        int from = Watch.Count;
        Publish("-V", "5", "-q", "1", "-t", $"{Prefix}/cmd/{command}", "-m", payload,
            "-D", "publish", "response-topic", responseTopic, "-D", "publish", "correlation-data", correlation);
        return Watch.WaitFor(m => m.Topic == responseTopic && m.CorrelationData == correlation, $"the reply to {command} ({correlation})\nkairod:\n{Daemon.Output}", TimeSpan.FromSeconds(30), from);
    }

    /// <summary>An MQTT 3.1.1 request: the reply topic and id travel in the payload.</summary>
    public MosquittoMessage Request311(string command, string payload, string replyTo)
    {
        int from = Watch.Count;
        Publish("-V", "mqttv311", "-q", "1", "-t", $"{Prefix}/cmd/{command}", "-m", payload);
        return Watch.WaitFor(m => m.Topic == replyTo, $"the reply to {command} on {replyTo}\nkairod:\n{Daemon.Output}", TimeSpan.FromSeconds(30), from);
    }

    public void Publish(params string[] arguments) => MosquittoWatch.Publish(_broker, arguments);

    public void Dispose()
    {
        Daemon.Dispose();
        Watch.Dispose();
        Directory.Delete(_directory, recursive: true);
        _ = _ownedStateDir;
    }
}

/// <summary>A message as mosquitto_sub printed it with <c>-F %j</c>, and where it came in the watch.</summary>
internal sealed record MosquittoMessage(int Index, string Topic, bool Retained, string Payload, string? CorrelationData, string? ContentType, string? ResponseTopic)
{
    private JsonObject? _json;

    /// <summary>The payload as a JSON object (an empty object when it is not one).</summary>
    public JsonObject Json => _json ??= TryParse(Payload) ?? [];

    public override string ToString() => $"#{Index} {Topic}{(Retained ? " (retained)" : "")}: {Payload}";

    private static JsonObject? TryParse(string text)
    {
        try
        {
            return JsonNode.Parse(text) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>
/// mosquitto_sub (MQTT 5) printing every message as a JSON line, kept in order; tests wait for a message matching a
/// predicate (an event, with a time limit). Ready once it has received a retained message on a topic of its own,
/// which shows every one of its subscriptions is in force.
/// </summary>
internal sealed class MosquittoWatch : IDisposable
{
    private readonly Process _process;
    private readonly List<MosquittoMessage> _messages = [];
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly object _gate = new();

    private MosquittoWatch(Process process)
    {
        _process = process;
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _messages.Count;
            }
        }
    }

    public static MosquittoWatch Start(BrokerEndpoint broker, params string[] filters)
    {
        string sync = $"e2e-sync/{Guid.NewGuid():N}";
        var info = new ProcessStartInfo("mosquitto_sub")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { "-V", "5", "-h", "127.0.0.1", "-p", broker.Port.ToString(CultureInfo.InvariantCulture), "-q", "1", "-F", "%j" })
        {
            info.ArgumentList.Add(argument);
        }

        foreach (string filter in filters.Append(sync))
        {
            info.ArgumentList.Add("-t");
            info.ArgumentList.Add(filter);
        }

        var watch = new MosquittoWatch(Process.Start(info) ?? throw new InvalidOperationException("mosquitto_sub did not start"));
        watch._process.OutputDataReceived += (_, e) => watch.Add(e.Data);
        watch._process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data != null)
            {
                watch._stderr.Enqueue(e.Data);
            }
        };
        watch._process.BeginOutputReadLine();
        watch._process.BeginErrorReadLine();
        try
        {
            Publish(broker, "-q", "1", "-r", "-t", sync, "-m", "ready");
            watch.WaitFor(m => m.Topic == sync, "mosquitto_sub to take its subscriptions", TimeSpan.FromSeconds(30));
            Publish(broker, "-q", "1", "-r", "-t", sync, "-n"); // clears the retained message again
        }
        catch
        {
            watch.Dispose();
            throw;
        }

        return watch;
    }

    /// <summary>Runs mosquitto_pub against the broker with <paramref name="arguments"/>; it must succeed.</summary>
    public static void Publish(BrokerEndpoint broker, params string[] arguments)
    {
        var result = Bundle.Run("/usr/bin/mosquitto_pub", ["-h", "127.0.0.1", "-p", broker.Port.ToString(CultureInfo.InvariantCulture), .. arguments], TimeSpan.FromSeconds(30));
        Assert.True(result.ExitCode == 0, $"{result}\nbroker:\n{broker.Log()}");
    }

    /// <summary>The first message at <paramref name="from"/> or later that matches; fails with what was seen.</summary>
    public MosquittoMessage WaitFor(Func<MosquittoMessage, bool> match, string what, TimeSpan timeout, int from = 0)
    {
        var until = Stopwatch.StartNew();
        lock (_gate)
        {
            int next = from;
            while (true)
            {
                for (; next < _messages.Count; next++)
                {
                    if (match(_messages[next]))
                    {
                        return _messages[next];
                    }
                }

                TimeSpan left = timeout - until.Elapsed;
                if (left <= TimeSpan.Zero || _process.HasExited)
                {
                    Assert.Fail($"no message for {what} within {timeout.TotalSeconds} s{(_process.HasExited ? " (mosquitto_sub exited)" : "")}; last messages:\n{Describe(from)}\nmosquitto_sub stderr: {string.Join('\n', _stderr)}");
                }

                Monitor.Wait(_gate, left); // woken by every message that comes in
            }
        }
    }

    /// <summary>The messages that match, once there are <paramref name="count"/> of them or the time is up.</summary>
    public IReadOnlyList<MosquittoMessage> WaitForCount(Func<MosquittoMessage, bool> match, int count, TimeSpan timeout)
    {
        var until = Stopwatch.StartNew();
        var found = new List<MosquittoMessage>();
        lock (_gate)
        {
            int next = 0;
            while (true)
            {
                for (; next < _messages.Count; next++)
                {
                    if (match(_messages[next]))
                    {
                        found.Add(_messages[next]);
                    }
                }

                TimeSpan left = timeout - until.Elapsed;
                if (found.Count >= count || left <= TimeSpan.Zero || _process.HasExited)
                {
                    return found;
                }

                Monitor.Wait(_gate, left);
            }
        }
    }

    public IReadOnlyList<MosquittoMessage> Between(int from, int to)
    {
        lock (_gate)
        {
            return _messages.Skip(from).Take(to - from).ToList();
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    private string Describe(int from)
    {
        lock (_gate)
        {
            return string.Join('\n', _messages.Skip(from).TakeLast(30));
        }
    }

    private void Add(string? line)
    {
        if (string.IsNullOrEmpty(line))
        {
            return;
        }

        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        string payload = root.TryGetProperty("payload", out var p) ? (p.ValueKind == JsonValueKind.String ? p.GetString()! : p.GetRawText()) : "";
        string? Property(string name) =>
            root.TryGetProperty("properties", out var properties) && properties.TryGetProperty(name, out var value) ? value.GetString() : null;
        lock (_gate)
        {
            _messages.Add(new MosquittoMessage(
                _messages.Count, root.GetProperty("topic").GetString()!, root.GetProperty("retain").GetInt32() != 0, payload,
                Property("correlation-data"), Property("content-type"), Property("response-topic")));
            Monitor.PulseAll(_gate);
        }
    }
}
