using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Kairo.Control.Mqtt;
using Kairo.Control.Plane;
using Kairo.Runtime.Loops;
using Kairo.Testing;
using Xunit.Abstractions;

namespace Kairo.Control.Tests;

/// <summary>
/// The control plane in this process against a real mosquitto (docs/control-plane.md): state and birth, the last will,
/// requests answered both ways, and every kind of bad request refused with its stable code before anything runs.
/// </summary>
public sealed class ControlPlaneTests
{
    private static readonly string[] Commands = ["echo", "flood", "half-written", "ping", "rate.set", "written"];

    [Fact]
    public async Task Start_PublishesBirthThenRetainedOnline_BothWithTheBirthSequence()
    {
        using Broker broker = await Broker.StartAsync();
        using var device = PlaneDevice.Create(broker, sequence: 41);
        using var watcher = new Inbox(broker, filters: [device.Topic("state"), device.Topic("birth")]);
        await watcher.StartAsync();

        device.Plane.Start();

        var (online, onlineAt) = await watcher.WaitFor(device.Topic("state"), s => (string?)s["state"] == "online", "state online");
        var (birth, birthAt) = await watcher.WaitFor(m => m.Topic == device.Topic("birth"), "the birth");
        Assert.True(birthAt < onlineAt, $"the birth must come before online, so whoever sees online can read it:\n{watcher.Describe()}");
        var state = ControlPlaneJson.Parse(online.Payload);
        Assert.Equal(41, (long)state["seq"]!);
        Assert.Equal(device.DeviceId, (string?)state["deviceId"]);
        Assert.True(DateTimeOffset.TryParse((string?)state["ts"], out _), state.ToJsonString());

        var content = ControlPlaneJson.Parse(birth.Payload);
        Assert.Equal(41, (long)content["seq"]!);
        Assert.Equal(device.DeviceId, (string?)content["deviceId"]);
        Assert.Equal($"kairo/{device.DeviceId}", (string?)content["prefix"]);
        Assert.Equal("5", (string?)content["protocol"]);
        Assert.Equal("test-bench", (string?)content["board"]); // what the device's own birth function says
        Assert.Equal(Commands, content["commands"]!.AsArray().Select(c => (string?)c));

        // Both are retained: a watcher that comes later reads the same.
        using var late = new Inbox(broker, filters: [device.Topic("state"), device.Topic("birth")]);
        await late.StartAsync();
        var (retainedState, _) = await late.WaitFor(m => m.Topic == device.Topic("state"), "the retained state");
        var (retainedBirth, _) = await late.WaitFor(m => m.Topic == device.Topic("birth"), "the retained birth");
        Assert.True(retainedState.Retain && retainedBirth.Retain);
        Assert.Equal(online.Payload, retainedState.Payload);
        Assert.Equal(birth.Payload, retainedBirth.Payload);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.Mqtt5)]
    [InlineData(MqttProtocolVersion.Mqtt311)]
    public async Task AbortedConnection_LeavesTheWill_OfflineWithTheSameSequence(MqttProtocolVersion protocol)
    {
        // ControlPlane has no abort of its own; its client's Abort ends the connection as a dying process would
        // (MQTT 5: DISCONNECT with will; 3.1.1: the socket closed without a DISCONNECT).
        using Broker broker = await Broker.StartAsync();
        using var device = PlaneDevice.Create(broker, protocol: protocol, sequence: 12);
        using var watcher = new Inbox(broker, filters: [device.Topic("state"), device.Topic("birth")]);
        await watcher.StartAsync();
        device.Plane.Start();
        var (_, onlineAt) = await watcher.WaitFor(device.Topic("state"), s => (string?)s["state"] == "online", "state online");
        var (birth, _) = await watcher.WaitFor(m => m.Topic == device.Topic("birth"), "the birth");
        Assert.Equal(protocol == MqttProtocolVersion.Mqtt5 ? "5" : "3.1.1", (string?)ControlPlaneJson.Parse(birth.Payload)["protocol"]);

        device.Plane.Client.Abort();

        var (will, _) = await watcher.WaitFor(device.Topic("state"), s => (string?)s["state"] == "offline", "the will", from: onlineAt + 1);
        var offline = ControlPlaneJson.Parse(will.Payload);
        Assert.Equal(12, (long)offline["seq"]!);
        Assert.Equal(device.DeviceId, (string?)offline["deviceId"]);

        using var late = new Inbox(broker, filters: [device.Topic("state")]);
        await late.StartAsync();
        var (retained, _) = await late.WaitFor(m => m.Topic == device.Topic("state"), "the retained state");
        Assert.True(retained.Retain);
        Assert.Equal(will.Payload, retained.Payload);
    }

    [Fact]
    public async Task GracefulStop_SaysOfflineBeforeReturning_AndTheWillDoesNotFollow()
    {
        using Broker broker = await Broker.StartAsync();
        using var device = PlaneDevice.Create(broker, sequence: 3);
        using var watcher = new Inbox(broker, filters: [device.Topic("state")]);
        await watcher.StartAsync();
        device.Plane.Start();
        var (_, onlineAt) = await watcher.WaitFor(device.Topic("state"), s => (string?)s["state"] == "online", "state online");
        DateTimeOffset stopping = DateTimeOffset.UtcNow;

        device.Plane.Stop(TimeSpan.FromSeconds(5));

        // Stop returns once the broker has the offline state: a watcher arriving now reads it, not online.
        using var late = new Inbox(broker, filters: [device.Topic("state")]);
        await late.StartAsync();
        var (retained, _) = await late.WaitFor(m => m.Topic == device.Topic("state"), "the retained state");
        var offline = ControlPlaneJson.Parse(retained.Payload);
        Assert.Equal("offline", (string?)offline["state"]);
        Assert.Equal(3, (long)offline["seq"]!);
        Assert.True(DateTimeOffset.Parse((string)offline["ts"]!) >= stopping.AddMilliseconds(-1), $"this is the will (written at start), not the stop's own offline: {offline}");

        // The broker logs the normal DISCONNECT when it handles it; a will would go out right then, so a round trip
        // through the broker after that line would carry it in front of the sync message.
        await Wait.For(broker.WaitForLogAsync($"Client kairod-{device.DeviceId} disconnected."), "the broker to log a normal disconnect", broker);
        await watcher.Client.SyncAsync();
        var states = watcher.Since(onlineAt + 1).Where(m => m.Topic == device.Topic("state")).ToList();
        Assert.True(states.Count == 1, $"exactly one offline after online, the stop's own:\n{watcher.Describe()}");
        Assert.Equal(retained.Payload, states[0].Payload);
        Assert.DoesNotContain($"Client kairod-{device.DeviceId} closed its connection", broker.Log);
    }

    [Fact]
    public async Task Mqtt5Request_IsAnsweredOnTheResponseTopic_EchoingCorrelationDataAndId()
    {
        using Broker broker = await Broker.StartAsync();
        await using var session = await Session.StartAsync(broker, PlaneDevice.Create(broker));
        byte[] correlation = [0, 1, 2, 0xFF, 0x80];

        // reply_to too: the response topic wins, and neither reserved field reaches the handler.
        var reply = await session.Request5("echo", $$"""{"id":"r-1","reply_to":"{{session.Replies}}/ignored","x":5}""", correlation);

        Assert.Equal(correlation, reply.Message.CorrelationData);
        Assert.Equal("application/json", reply.Message.ContentType);
        Assert.Equal("r-1", (string?)reply.Json["id"]);
        Assert.True((bool)reply.Json["ok"]!);
        Assert.Equal("ok", (string?)reply.Json["code"]);
        Assert.Equal("", (string?)reply.Json["message"]);
        Assert.Equal("""{"x":5}""", reply.Json["data"]!.ToJsonString());

        var numeric = await session.Request5("ping", """{"id":42}""", [7]);
        Assert.Equal(42, (long)numeric.Json["id"]!);
        Assert.True((bool)numeric.Json["data"]!["pong"]!);

        await session.Watcher.Client.SyncAsync();
        Assert.DoesNotContain(session.Watcher.Since(0), m => m.Topic == $"{session.Replies}/ignored");
        Assert.Equal(2, session.Device.Plane.Counters.Executed);
    }

    [Fact]
    public async Task DataWrittenStraightIntoTheReply_AndAWriterThatFailsHalfwayGetsAnInternalErrorReply()
    {
        using Broker broker = await Broker.StartAsync();
        await using var session = await Session.StartAsync(broker, PlaneDevice.Create(broker));

        var written = await session.Request5("written", """{"id":"w-1","a":1,"b":2}""", [1]);
        Assert.Equal("""{"id":"w-1","ok":true,"code":"ok","message":"","data":{"by":"writer","arguments":2}}""", written.Json.ToJsonString());

        // Nothing of the half-written data goes out: the reply is an error of its own, with the request's id.
        var failed = await session.Request5("half-written", """{"id":"w-2"}""", [2]);
        Assert.Equal("w-2", (string?)failed.Json["id"]);
        Assert.False((bool)failed.Json["ok"]!);
        Assert.Equal(ErrorCodes.Internal, (string?)failed.Json["code"]);
        Assert.Equal("writing the reply failed: the sensor table changed while it was written", (string?)failed.Json["message"]);
        Assert.Null(failed.Json["data"]);

        // And the command thread, and its reused buffer, go on as before.
        var after = await session.Request5("written", """{"id":"w-3"}""", [3]);
        Assert.Equal("""{"id":"w-3","ok":true,"code":"ok","message":"","data":{"by":"writer","arguments":0}}""", after.Json.ToJsonString());
    }

    [Fact]
    public async Task Mqtt311Client_GetsItsReplyOnReplyTo_WithItsId()
    {
        using Broker broker = await Broker.StartAsync();
        using var device = PlaneDevice.Create(broker);
        await using var session = await Session.StartAsync(broker, device);
        using var client311 = new Inbox(broker, MqttProtocolVersion.Mqtt311, $"{session.Replies}/311");
        Assert.Equal(MqttProtocolVersion.Mqtt311, (await client311.StartAsync()).ProtocolVersion);

        client311.Client.Client.Publish(device.Topic("cmd/ping"), Encoding.UTF8.GetBytes($$"""{"id":"p-1","reply_to":"{{session.Replies}}/311"}"""), 1, false);

        var (reply, _) = await client311.WaitFor(m => m.Topic == $"{session.Replies}/311", "the 3.1.1 reply");
        var json = ControlPlaneJson.Parse(reply.Payload);
        Assert.Equal("p-1", (string?)json["id"]);
        Assert.True((bool)json["ok"]!);
        Assert.Equal("ok", (string?)json["code"]);
        Assert.True((bool)json["data"]!["pong"]!);
        Assert.Null(reply.CorrelationData);
        Assert.Equal(1, device.Pings);
    }

    [Theory]
    [InlineData("rate.set", """{"id":"b1","rateHz":20""", "bad_request", "the payload is not valid JSON", true)]
    [InlineData("rate.set", """[{"rateHz":20}]""", "bad_request", "the payload must be a JSON object", true)]
    [InlineData("rate.set", """ "rateHz" """, "bad_request", "the payload must be a JSON object", true)]
    [InlineData("rate.set", "null", "bad_request", "the payload must be a JSON object", true)]
    [InlineData("rate.set", """{"id":{"n":1},"rateHz":20}""", "bad_request", "'id' must be a string or a number", true)]
    [InlineData("rate.set", """{"id":true,"rateHz":20}""", "bad_request", "'id' must be a string or a number", true)]
    [InlineData("rate.set", """{"id":"r","reply_to":7,"rateHz":20}""", "bad_request", "'reply_to' must be a string: the topic to answer on", true)]
    [InlineData("rate.set", """{"id":"1","id":"2","rateHz":20}""", "bad_request", "duplicate", true)]
    [InlineData("rate.set", """{"rateHz":20,"rateHz":21}""", "bad_request", "duplicate", true)]
    [InlineData("reboot", """{"rateHz":20}""", "unknown_command", "no command 'reboot'; commands: echo, flood, half-written, ping, rate.set, written", true)]
    [InlineData("rate.set", """{"rateHz":"fast"}""", "bad_request", "'rateHz' must be a number", false)]
    [InlineData("rate.set", """{"rateHz":5000}""", "invalid_argument", "rateHz 5000 is out of range; expected 1 to 1000", false)]
    [InlineData("rate.set", """{}""", "invalid_argument", "'rateHz' is required", false)]
    public async Task BadRequest_GetsItsStableCode_NothingChanges_AndTheNextRequestWorks(string command, string payload, string code, string message, bool refusedBeforeAnyHandler)
    {
        using Broker broker = await Broker.StartAsync();
        using var device = PlaneDevice.Create(broker);
        await using var session = await Session.StartAsync(broker, device);

        var reply = await session.Request5(command, payload, [1]);

        Assert.False((bool)reply.Json["ok"]!, reply.Json.ToJsonString());
        Assert.Equal(code, (string?)reply.Json["code"]);
        Assert.Contains(message, (string?)reply.Json["message"]);
        Assert.Null(reply.Json["data"]);
        Assert.Equal(0, device.RateChanges);
        Assert.Equal(30, device.Rate);
        Assert.Equal(refusedBeforeAnyHandler ? 1 : 0, device.Plane.Counters.Rejected);
        Assert.Equal(refusedBeforeAnyHandler ? 0 : 1, device.Plane.Counters.Executed);

        var next = await session.Request5("rate.set", """{"id":"after","rateHz":20}""", [2]);
        Assert.True((bool)next.Json["ok"]!, next.Json.ToJsonString());
        Assert.Equal("after", (string?)next.Json["id"]);
        Assert.Equal(1, device.RateChanges);
        Assert.Equal(20, device.Rate);
    }

    [Fact]
    public async Task PayloadThatIsNotUtf8_IsABadRequest_AndTheCommandThreadSurvives()
    {
        using Broker broker = await Broker.StartAsync();
        using var device = PlaneDevice.Create(broker);
        await using var session = await Session.StartAsync(broker, device);
        byte[] invalid = [.. "{\"id\":\""u8, 0xFF, 0xFE, .. "\",\"rateHz\":20}"u8];

        var reply = await session.Request5("rate.set", invalid, [1]);

        Assert.Equal("bad_request", (string?)reply.Json["code"]);
        Assert.Contains("UTF-8", (string?)reply.Json["message"]);
        Assert.Equal(0, device.RateChanges);

        // An escaped lone surrogate is valid UTF-8 but no string: as an id it is refused the same way.
        var surrogate = await session.Request5("rate.set", """{"id":"\ud800","rateHz":20}""", [2]);
        Assert.Equal("bad_request", (string?)surrogate.Json["code"]);
        Assert.Equal(0, device.RateChanges);

        var next = await session.Request5("ping", "{}", [3]);
        Assert.True((bool)next.Json["ok"]!);
    }

    [Fact]
    public async Task OversizedRequest_IsRefusedUnread_WhileOneAtTheLimitRuns()
    {
        using Broker broker = await Broker.StartAsync();
        using var device = PlaneDevice.Create(broker, maxPayloadBytes: 256);
        await using var session = await Session.StartAsync(broker, device);
        static string Padded(int length)
        {
            const string head = "{\"rateHz\":20,\"pad\":\"";
            return head + new string('x', length - head.Length - 2) + "\"}";
        }

        var tooLarge = await session.Request5("rate.set", Padded(257), [1]);
        Assert.Equal("too_large", (string?)tooLarge.Json["code"]);
        Assert.Equal("the request is 257 bytes; the limit is 256", (string?)tooLarge.Json["message"]);
        Assert.Equal(0, device.RateChanges);
        Assert.Equal(1, device.Plane.Counters.Rejected);

        var atLimit = await session.Request5("rate.set", Padded(256), [2]);
        Assert.True((bool)atLimit.Json["ok"]!, atLimit.Json.ToJsonString());
        Assert.Equal(1, device.RateChanges);
    }

    [Fact]
    public async Task RequestWithoutReplyAddress_RunsButIsCountedUnanswerable()
    {
        using Broker broker = await Broker.StartAsync();
        using var device = PlaneDevice.Create(broker);
        await using var session = await Session.StartAsync(broker, device);

        session.Watcher.Client.Client.Publish(device.Topic("cmd/rate.set"), """{"id":"silent","rateHz":25}"""u8, 1, false);
        // Requests run in order: once the next one is answered, the silent one has run and been counted.
        var barrier = await session.Request5("ping", "{}", [9]);

        Assert.True((bool)barrier.Json["ok"]!);
        Assert.Equal(1, device.RateChanges);
        Assert.Equal(25, device.Rate);
        Assert.Equal(1, device.Plane.Counters.Unanswerable);
        Assert.Equal(2, device.Plane.Counters.Executed);
        Assert.Equal(2, device.Plane.Counters.Received);
    }

    [Fact]
    public async Task OutputsAndEventsPublishedWhileConnecting_NeverKeepThePlaneFromConnecting()
    {
        // libmosquitto sends whatever it is handed while still connecting ahead of CONNECT, and the broker closes such a
        // connection as a protocol error: an mqtt sink publishing steadily once kept a client from connecting at all.
        using Broker broker = await Broker.StartAsync();
        byte[] output = """{"loop":"ctl","tick":1,"modelVersion":1,"output":"fresh","outputs":{"y":[1]}}"""u8.ToArray();
        for (int attempt = 0; attempt < 10; attempt++)
        {
            using var device = PlaneDevice.Create(broker);
            using var watcher = new Inbox(broker, filters: [device.Topic("state"), device.Topic("outputs/ctl")]);
            await watcher.StartAsync();
            int qos = attempt % 2;
            bool stop = false;
            int tries = 0;

            // Publishes without pause for as long as the plane is connecting: through the whole window of the race.
            var publisher = new Thread(() =>
            {
                while (!Volatile.Read(ref stop) && !device.Plane.IsConnected)
                {
                    device.Plane.PublishOutput(device.Topic("outputs/ctl"), output, qos);
                    device.Plane.PublishEvent("test.tick");
                    tries++;
                    Thread.SpinWait(100);
                }
            }) { IsBackground = true };
            publisher.Start();
            try
            {
                device.Plane.Start();
                await watcher.WaitFor(device.Topic("state"), s => (string?)s["state"] == "online", $"attempt {attempt}: online while outputs are being published\n{device.Logger.Text}");
            }
            finally
            {
                Volatile.Write(ref stop, true);
                publisher.Join();
            }

            Assert.True(tries > 0, "nothing was published while the plane connected");
            Assert.True(device.Plane.PublishOutput(device.Topic("outputs/ctl"), output, qos));
            await watcher.WaitFor(m => m.Topic == device.Topic("outputs/ctl"), $"attempt {attempt}: an output once connected");
        }

        Assert.DoesNotContain("protocol error", broker.Log);
    }

    /// <summary>A started device and a watcher that also sends requests and collects their replies.</summary>
    internal sealed class Session : IAsyncDisposable
    {
        private Session(PlaneDevice device, Inbox watcher, string replies)
        {
            Device = device;
            Watcher = watcher;
            Replies = replies;
        }

        public PlaneDevice Device { get; }

        public Inbox Watcher { get; }

        /// <summary>The root of the reply topics, which the watcher subscribes to.</summary>
        public string Replies { get; }

        public static async Task<Session> StartAsync(Broker broker, PlaneDevice device)
        {
            string replies = $"kairo-test/replies/{Guid.NewGuid():N}";
            var watcher = new Inbox(broker, filters: [device.Topic("state"), device.Topic("birth"), replies + "/#"]);
            await watcher.StartAsync();
            device.Plane.Start();
            try
            {
                await watcher.WaitFor(device.Topic("state"), s => (string?)s["state"] == "online", "state online"); // cmd/+ is subscribed by then
            }
            catch (TimeoutException e)
            {
                watcher.Dispose();
                throw new TimeoutException($"{e.Message}\nThe plane's log:\n{device.Logger.Text}", e);
            }

            return new Session(device, watcher, replies);
        }

        public Task<(MqttMessage Message, JsonObject Json)> Request5(string command, string payload, byte[] correlation) =>
            Request5(command, Encoding.UTF8.GetBytes(payload), correlation);

        /// <summary>An MQTT 5 request with a response topic and correlation data; returns its reply.</summary>
        public async Task<(MqttMessage Message, JsonObject Json)> Request5(string command, byte[] payload, byte[] correlation)
        {
            string topic = $"{Replies}/r5";
            int from = Watcher.Count;
            var result = Watcher.Client.Client.Publish(Device.Topic($"cmd/{command}"), payload, 1, false, new MqttPublishProperties { ResponseTopic = topic, CorrelationData = correlation });
            Assert.Equal(MqttPublishResult.Sent, result);
            var (reply, _) = await Watcher.WaitFor(m => m.Topic == topic && m.CorrelationData.AsSpan().SequenceEqual(correlation), $"the reply to {command}", from);
            return (reply, ControlPlaneJson.Parse(reply.Payload));
        }

        public ValueTask DisposeAsync()
        {
            Watcher.Dispose();
            Device.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ControlPlaneUnderLoad
{
    /// <summary>Measures deadline misses, so runs alone, not beside other test classes' brokers and clients.</summary>
    public const string Name = "control plane under load";
}

/// <summary>
/// The control plane beside a real control loop in the same process: a flood of requests and a broker that dies and
/// comes back must not cost the loop a tick (a <see cref="StallWitness"/> on the loop's CPU tells what the shared
/// machine's own stalls cost it, <see cref="MissAudit"/>; <see cref="GcFence"/> keeps the garbage collector out), nor
/// make its thread allocate.
/// </summary>
[Collection(ControlPlaneUnderLoad.Name)]
public sealed class ControlPlaneLoadTests(ITestOutputHelper output)
{
    private const int Batches = 10;
    private const int PerBatch = 1000;
    private const int Total = Batches * PerBatch;
    private const double LoopRateHz = 200;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Flood_EveryRequestIsAnsweredOrCounted_RunsAtMostOnce_AndTheLoopKeepsItsDeadlines()
    {
        using Broker broker = await Broker.StartAsync(new BrokerConfig { Verbose = false });
        using var device = PlaneDevice.CreateWithLoop(broker, LoopRateHz);
        var loop = device.Loop!;
        await using var session = await ControlPlaneTests.Session.StartAsync(broker, device);

        using var witness = StallWitness.Start(PlaneDevice.LoopCpu, priority: 60);
        using var requester = new FloodRequester(broker, Total);
        await requester.StartAsync(broker);

        device.Ticks!.WaitFor(2 * (long)LoopRateHz, Patience); // two seconds of ticks: start-up and JIT are behind
        using var fence = GcFence.Enter();
        device.Ticks.WaitFor((long)LoopRateHz / 2, Patience); // the fence's own collection is behind too
        long missesBefore = loop.Metrics.DeadlineMisses;
        long recordsBefore = loop.Metrics.MissRecords;
        long ticksBefore = loop.Metrics.Ticks;
        var causesBefore = Enum.GetValues<MissCause>().Select(loop.Metrics.Misses).ToArray();
        var elapsed = Stopwatch.StartNew();

        // 1,000 requests a second for ten seconds: each second's thousand sent at once, as a burst.
        using (var pace = new PeriodicTimer(TimeSpan.FromSeconds(1)))
        {
            string topic = device.Topic($"cmd/{PlaneDevice.FloodCommand}");
            for (int batch = 0; batch < Batches; batch++)
            {
                if (batch > 0)
                {
                    await pace.WaitForNextTickAsync();
                }

                for (int i = 0; i < PerBatch; i++)
                {
                    Assert.Equal(MqttPublishResult.Sent, requester.Send(topic, (batch * PerBatch) + i));
                }
            }
        }

        try
        {
            await requester.AllAnswered.WaitAsync(TimeSpan.FromSeconds(120));
        }
        catch (TimeoutException)
        {
            var c = device.Plane.Counters;
            Assert.Fail($"{requester.Answered} of {Total} requests answered within 120 s; received {c.Received}, executed {c.Executed}, busy {c.Busy}, unanswerable {c.Unanswerable}\nbroker log:\n{broker.Log}");
        }

        long missesAfter = loop.Metrics.DeadlineMisses;
        long ticksAfter = loop.Metrics.Ticks;
        elapsed.Stop();
        var causes = string.Join(", ", Enum.GetValues<MissCause>().Select((c, i) => $"{c} {loop.Metrics.Misses(c) - causesBefore[i]}"));
        string gc = fence.Describe();
        var lateness = loop.Metrics.WakeLateness.Snapshot();
        var inference = loop.Metrics.Inference.Snapshot();

        var counters = device.Plane.Counters;
        int ok = Enumerable.Range(0, Total).Count(n => requester.Outcome(n) == FloodRequester.AnsweredOk);
        int busy = Enumerable.Range(0, Total).Count(n => requester.Outcome(n) == FloodRequester.AnsweredBusy);
        string figures =
            $"flood over {elapsed.Elapsed.TotalSeconds:0.0} s: {ok} ok, {busy} busy; counters received {counters.Received}, executed {counters.Executed}, " +
            $"busy {counters.Busy}, rejected {counters.Rejected}, unanswerable {counters.Unanswerable}; loop {ticksAfter - ticksBefore} ticks, " +
            $"deadline misses {missesBefore} before, {missesAfter} after ({causes}); wake-up lateness p99 {lateness.P99} ns max {lateness.Max} ns, inference p99 {inference.P99} ns max {inference.Max} ns; {gc}; scheduling: {(loop.Warnings.Count == 0 ? "SCHED_FIFO 50" : string.Join("; ", loop.Warnings))}";
        output.WriteLine(figures);

        Assert.True(ok + busy == Total, $"every request answered ok or busy; {figures}");
        Assert.True(fence.Collections == 0, $"a garbage collection ran during the flood, so deadline misses would measure the collector, not the control plane; {figures}");
        Assert.Equal(Total, counters.Received);
        Assert.Equal(ok, counters.Executed);
        Assert.Equal(busy, counters.Busy);
        Assert.Equal(0, counters.Rejected);
        Assert.Equal(0, counters.Unanswerable);
        for (long n = 0; n < Total; n++)
        {
            Assert.True(requester.ReplyCount(n) == 1, $"request {n} got {requester.ReplyCount(n)} replies");
            if (requester.Outcome(n) == FloodRequester.AnsweredOk)
            {
                Assert.Equal(n, requester.ReplyId(n)); // the id comes back with every request that ran
                Assert.True(device.FloodRuns(n) == 1, $"request {n} answered ok but ran {device.FloodRuns(n)} times");
            }
            else
            {
                Assert.True(device.FloodRuns(n) == 0, $"request {n} was refused as busy but ran {device.FloodRuns(n)} times");
            }
        }

        MissAudit.AssertOnlyMachineStalls(loop.Metrics, recordsBefore, witness, output);
        Assert.Equal(0, loop.Metrics.AllocatedBytes); // nothing of the flood ran on the loop thread

        // The loop kept its pace: every period of the flood had a tick or is one of the overruns audited above (a
        // period skipped whole after a stall of the machine).
        long skipped = loop.Metrics.Misses(MissCause.Overrun) - causesBefore[Array.IndexOf(Enum.GetValues<MissCause>(), MissCause.Overrun)];
        Assert.True(ticksAfter - ticksBefore + skipped >= (long)(elapsed.Elapsed.TotalSeconds * LoopRateHz * 0.95), figures);
    }

    [Fact]
    public async Task BrokerKilledAndRestarted_PlaneReconnectsWithTheSameSequence_LoopTicksOnAndKeepsItsDeadlines()
    {
        using Broker broker = await Broker.StartAsync();
        using var device = PlaneDevice.CreateWithLoop(broker, LoopRateHz, sequence: 5);
        var loop = device.Loop!;
        await using var session = await ControlPlaneTests.Session.StartAsync(broker, device);
        device.Ticks!.WaitFor(2 * (long)LoopRateHz, Patience);
        using var witness = StallWitness.Start(PlaneDevice.LoopCpu, priority: 60);
        var lost = new TaskCompletionSource<MqttDisconnectedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        device.Plane.Client.Disconnected += (_, e) => lost.TrySetResult(e);
        using var fence = GcFence.Enter(); // as in the flood: this measures the plane's reconnecting, not the collector
        device.Ticks.WaitFor((long)LoopRateHz / 2, Patience);
        long missesBefore = loop.Metrics.DeadlineMisses;
        long recordsBefore = loop.Metrics.MissRecords;
        long ticksBefore = loop.Metrics.Ticks;

        broker.Kill();
        await Wait.For(lost.Task, "the plane to see the connection lost");
        int outageStart = session.Watcher.Count;
        device.Ticks.WaitFor((long)LoopRateHz, Patience); // a second of ticks with no broker at all
        Assert.False(device.Plane.IsConnected);
        long ticksDuringOutage = loop.Metrics.Ticks;
        await broker.RestartAsync();

        // The restarted broker keeps nothing: whatever state and birth arrive now were published again.
        var (online, _) = await session.Watcher.WaitFor(device.Topic("state"), s => (string?)s["state"] == "online", "online again", from: outageStart);
        var (birth, _) = await session.Watcher.WaitFor(m => m.Topic == device.Topic("birth"), "the birth again", from: outageStart);
        long missesAfter = loop.Metrics.DeadlineMisses;
        long ticksAfter = loop.Metrics.Ticks;
        string figures = $"ticks {ticksBefore} before the kill, {ticksDuringOutage} during the outage, {ticksAfter} after; misses {missesBefore} before, {missesAfter} after; {fence.Describe()}; scheduling: {(loop.Warnings.Count == 0 ? "SCHED_FIFO 50" : string.Join("; ", loop.Warnings))}";
        output.WriteLine(figures);

        Assert.Equal(5, (long)ControlPlaneJson.Parse(online.Payload)["seq"]!);
        var content = ControlPlaneJson.Parse(birth.Payload);
        Assert.Equal(5, (long)content["seq"]!);
        Assert.Equal("ctl", (string?)content["loops"]![0]!["name"]);
        Assert.Equal("running", (string?)content["loops"]![0]!["state"]);
        Assert.True(fence.Collections == 0, $"a garbage collection ran during the outage; {figures}");
        Assert.True(ticksDuringOutage >= ticksBefore + (long)LoopRateHz, figures);
        Assert.True(ticksAfter > ticksDuringOutage, figures);
        MissAudit.AssertOnlyMachineStalls(loop.Metrics, recordsBefore, witness, output);
        Assert.Equal(0, loop.Metrics.AllocatedBytes);

        // Subscriptions came back too: requests are answered again.
        var ping = await session.Request5("ping", """{"id":"back"}""", [1]);
        Assert.Equal("back", (string?)ping.Json["id"]);
        Assert.True((bool)ping.Json["ok"]!);

        // And the loop's outputs flow through the plane's client again.
        await session.Watcher.Client.SyncAsync();
        using var outputs = new Inbox(broker, filters: [device.Topic("outputs/ctl")]);
        await outputs.StartAsync();
        var (frame, _) = await outputs.WaitFor(m => m.Topic == device.Topic("outputs/ctl"), "an output of the loop");
        var json = ControlPlaneJson.Parse(frame.Payload);
        Assert.Equal("fresh", (string?)json["output"]);
        Assert.Equal(1f, (float)json["outputs"]!["y"]![0]!); // y = 0 * 1 + 1
    }
}
