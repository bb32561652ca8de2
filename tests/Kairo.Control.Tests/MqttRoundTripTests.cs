using System.Text;
using Kairo.Control.Mqtt;
using Kairo.Testing;
using Microsoft.Extensions.Logging;

namespace Kairo.Control.Tests;

public sealed class MqttRoundTripTests
{
    [Fact]
    public async Task PublishAndSubscribe_RoundTripOverMqtt5()
    {
        using Broker broker = await Broker.StartAsync();
        using var client = new TestClient(broker.Url, broker);
        client.Client.Subscribe("kairo-test/rt/#", 1);

        MqttConnectedEventArgs connected = await client.StartAsync();
        Assert.Equal(MqttProtocolVersion.Mqtt5, connected.ProtocolVersion);
        Assert.False(connected.SessionPresent);
        Assert.True(client.Client.IsConnected);
        Assert.Equal(MqttProtocolVersion.Mqtt5, client.Client.ProtocolVersion);

        byte[] payload = [0, 1, 2, 250, 255];
        Assert.Equal(MqttPublishResult.Sent, client.Client.Publish("kairo-test/rt/a", payload, 1, retain: false));
        MqttMessage message = await client.NextMessageAsync("kairo-test/rt/a");

        Assert.Equal(payload, message.Payload);
        Assert.Equal(1, message.Qos);
        Assert.False(message.Retain);
        Assert.Null(message.ResponseTopic);
        Assert.Null(message.CorrelationData);
        Assert.Null(message.ContentType);
        // mosquitto logs each connection's protocol: p5 is MQTT 5, p2 is 3.1.1.
        await Wait.For(broker.WaitForLogAsync($"as {client.ClientId} (p5, c1, k30"), "the broker to log an MQTT 5 connection", broker);
    }

    [Fact]
    public async Task EmptyPayloadAndRetainedFlag_ArriveAsSent()
    {
        using Broker broker = await Broker.StartAsync();
        using var publisher = new TestClient(broker.Url, broker);
        await publisher.StartAsync();
        publisher.Client.Publish("kairo-test/retained/state", "online"u8, 1, retain: true);
        publisher.Client.Publish("kairo-test/retained/empty", [], 0, retain: false);
        await publisher.SyncAsync();

        using var subscriber = new TestClient(broker.Url, broker);
        subscriber.Client.Subscribe("kairo-test/retained/#", 1);
        await subscriber.StartAsync();
        MqttMessage retained = await subscriber.NextMessageAsync("kairo-test/retained/state");
        Assert.True(retained.Retain);
        Assert.Equal("online", Encoding.UTF8.GetString(retained.Payload));

        publisher.Client.Publish("kairo-test/retained/empty", ReadOnlySpan<byte>.Empty, 0, retain: false);
        MqttMessage empty = await subscriber.NextMessageAsync("kairo-test/retained/empty");
        Assert.Empty(empty.Payload);
        Assert.Equal(0, empty.Qos);
    }

    [Fact]
    public async Task ResponseTopicCorrelationDataAndContentType_RoundTripBetweenKairoClients()
    {
        using Broker broker = await Broker.StartAsync();
        using var responder = new TestClient(broker.Url, broker);
        responder.Client.Subscribe("kairo-test/cmd/+", 1);
        await responder.StartAsync();
        using var requester = new TestClient(broker.Url, broker);
        requester.Client.Subscribe("kairo-test/reply/#", 1);
        await requester.StartAsync();

        // The responder answers on the network thread, from its handler, as the control plane will.
        responder.Client.MessageReceived += (_, request) =>
        {
            if (request.ResponseTopic is { } replyTo)
            {
                responder.Client.Publish(replyTo, "{\"ok\":true}"u8, 1, false,
                    new MqttPublishProperties { CorrelationData = request.CorrelationData, ContentType = "application/json" });
            }
        };

        byte[] correlation = [0xC0, 0xFF, 0xEE, 0x00, 0x01];
        requester.Client.Publish("kairo-test/cmd/ping", "{}"u8, 1, false, new MqttPublishProperties
        {
            ResponseTopic = "kairo-test/reply/1",
            CorrelationData = correlation,
            ContentType = "application/json",
        });

        MqttMessage reply = await requester.NextMessageAsync("kairo-test/reply/1");
        Assert.Equal(correlation, reply.CorrelationData);
        Assert.Equal("application/json", reply.ContentType);
        Assert.Null(reply.ResponseTopic);
        Assert.Equal("{\"ok\":true}", Encoding.UTF8.GetString(reply.Payload));
    }

    [Fact]
    public async Task Properties_ReadFromAndWrittenForNonKairoClients()
    {
        using Broker broker = await Broker.StartAsync();
        using var client = new TestClient(broker.Url, broker);
        client.Client.Subscribe("kairo-test/from-pub", 1);
        await client.StartAsync();

        // mosquitto_pub -> Kairo.
        (int exitCode, string output) = Tool.Run("mosquitto_pub", "-V", "5", "-h", "127.0.0.1", "-p", broker.Port.ToString(), "-q", "1",
            "-t", "kairo-test/from-pub", "-m", "hello",
            "-D", "publish", "response-topic", "kairo-test/answer-here",
            "-D", "publish", "correlation-data", "req-42",
            "-D", "publish", "content-type", "text/plain");
        Assert.True(exitCode == 0, output);
        MqttMessage received = await client.NextMessageAsync("kairo-test/from-pub");
        Assert.Equal("hello", Encoding.UTF8.GetString(received.Payload));
        Assert.Equal("kairo-test/answer-here", received.ResponseTopic);
        Assert.Equal("req-42", Encoding.UTF8.GetString(received.CorrelationData!));
        Assert.Equal("text/plain", received.ContentType);

        // Kairo -> mosquitto_sub: a retained message keeps its properties, so the subscriber may come afterwards.
        client.Client.Publish("kairo-test/to-sub", "world"u8, 1, retain: true, new MqttPublishProperties
        {
            ResponseTopic = "kairo-test/reply-to",
            CorrelationData = "id-7"u8.ToArray(),
            ContentType = "text/plain",
        });
        await client.SyncAsync();
        (exitCode, output) = Tool.Run("mosquitto_sub", "-V", "5", "-h", "127.0.0.1", "-p", broker.Port.ToString(),
            "-t", "kairo-test/to-sub", "-C", "1", "-W", "10", "-F", "%t|%p|%R|%D|%C|%r");
        Assert.True(exitCode == 0, output);
        Assert.Equal("kairo-test/to-sub|world|kairo-test/reply-to|id-7|text/plain|1", output.Trim());
    }

    [Fact]
    public async Task BrokerRefusingMqtt5_ClientFallsBackTo311_AndDropsProperties()
    {
        using Broker broker = await Broker.StartAsync();
        using var proxy = new Mqtt311OnlyProxy(broker.Port);
        using var client = new TestClient(proxy.Url, broker);
        client.Client.Subscribe("kairo-test/fb/#", 1);

        MqttConnectedEventArgs connected = await client.StartAsync();

        Assert.Equal(MqttProtocolVersion.Mqtt311, connected.ProtocolVersion);
        Assert.Equal(MqttProtocolVersion.Mqtt311, client.Client.ProtocolVersion);
        Assert.Equal(1, proxy.RefusedMqtt5Connects);
        Assert.True(proxy.ForwardedConnects >= 1);
        Assert.Contains(client.Logger.Entries, e => e.Level == LogLevel.Warning && e.Text.Contains("does not support MQTT 5"));
        await Wait.For(broker.WaitForLogAsync($"as {client.ClientId} (p2,"), "the broker to log a 3.1.1 connection", broker);

        // Properties are dropped rather than refused; a direct MQTT 5 subscriber sees the message without them.
        using var observer = new TestClient(broker.Url, broker);
        observer.Client.Subscribe("kairo-test/fb/#", 1);
        await observer.StartAsync();
        Assert.Equal(MqttPublishResult.Sent, client.Client.Publish("kairo-test/fb/x", "p"u8, 1, false,
            new MqttPublishProperties { ResponseTopic = "kairo-test/fb/reply", CorrelationData = new byte[] { 1 }, ContentType = "text/plain" }));
        MqttMessage seen = await observer.NextMessageAsync("kairo-test/fb/x");
        Assert.Null(seen.ResponseTopic);
        Assert.Null(seen.CorrelationData);
        Assert.Null(seen.ContentType);
        MqttMessage own = await client.NextMessageAsync("kairo-test/fb/x");
        Assert.Equal("p", Encoding.UTF8.GetString(own.Payload));
    }

    [Fact]
    public async Task Mqtt311ChosenInOptions_ConnectsAs311_AndDropsProperties()
    {
        using Broker broker = await Broker.StartAsync();
        using var client = new TestClient(broker.Url, broker, o => new MqttClientOptions
        {
            Uri = o.Uri, ClientId = o.ClientId, ProtocolVersion = MqttProtocolVersion.Mqtt311,
        });
        using var observer = new TestClient(broker.Url, broker);
        observer.Client.Subscribe("kairo-test/v3/#", 1);
        await observer.StartAsync();

        MqttConnectedEventArgs connected = await client.StartAsync();
        Assert.Equal(MqttProtocolVersion.Mqtt311, connected.ProtocolVersion);

        client.Client.Publish("kairo-test/v3/x", "q"u8, 1, false, new MqttPublishProperties { ResponseTopic = "kairo-test/v3/reply" });
        MqttMessage seen = await observer.NextMessageAsync("kairo-test/v3/x");
        Assert.Null(seen.ResponseTopic);
        Assert.Equal("q", Encoding.UTF8.GetString(seen.Payload));
    }

    [Fact]
    public async Task HandlerThatThrows_IsLogged_AndTheClientCarriesOn()
    {
        using Broker broker = await Broker.StartAsync();
        using var client = new TestClient(broker.Url, broker);
        client.Client.Subscribe("kairo-test/throw/#", 0);
        client.Client.MessageReceived += (_, m) =>
        {
            if (m.Topic == "kairo-test/throw/bad")
            {
                throw new InvalidOperationException("handler bug");
            }
        };
        await client.StartAsync();

        client.Client.Publish("kairo-test/throw/bad", "x"u8, 0, false);
        client.Client.Publish("kairo-test/throw/good", "y"u8, 0, false);

        await client.NextMessageAsync("kairo-test/throw/good");
        string logged = await Wait.For(client.Logger.WaitFor((level, text) => level == LogLevel.Error && text.Contains("handler bug")), "the handler's exception in the log");
        Assert.Contains("message handler threw", logged);
        Assert.True(client.Client.IsConnected);
    }

    [Fact]
    public async Task PublishFromManyThreadsAtOnce_EveryMessageArrives()
    {
        const int Threads = 4, PerThread = 500;
        using Broker broker = await Broker.StartAsync();
        using var subscriber = new TestClient(broker.Url, broker);
        int received = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        subscriber.Client.MessageReceived += (_, m) =>
        {
            if (m.Topic.StartsWith("kairo-test/mt/", StringComparison.Ordinal) && Interlocked.Increment(ref received) == Threads * PerThread)
            {
                all.TrySetResult();
            }
        };
        subscriber.Client.Subscribe("kairo-test/mt/#", 1);
        await subscriber.StartAsync();
        using var publisher = new TestClient(broker.Url, broker);
        await publisher.StartAsync();

        Task[] writers = Enumerable.Range(0, Threads).Select(t => Task.Factory.StartNew(() =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                Assert.Equal(MqttPublishResult.Sent, publisher.Client.Publish($"kairo-test/mt/{t}", BitConverter.GetBytes(i), 1, false));
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(writers);

        await Wait.For(all.Task, $"{Threads * PerThread} messages (got {Volatile.Read(ref received)})", broker, TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task InvalidTopicsAndQos_AreRefusedWithTheirValue()
    {
        using Broker broker = await Broker.StartAsync();
        using var client = new TestClient(broker.Url, broker);
        await client.StartAsync();

        var wildcard = Assert.Throws<ArgumentException>(() => client.Client.Publish("kairo-test/+/x", "x"u8, 0, false));
        Assert.Contains("'kairo-test/+/x'", wildcard.Message);
        var filter = Assert.Throws<ArgumentException>(() => client.Client.Subscribe("kairo-test/#/x", 0));
        Assert.Contains("'kairo-test/#/x'", filter.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => client.Client.Publish("kairo-test/x", "x"u8, 3, false));
        Assert.Throws<ArgumentOutOfRangeException>(() => client.Client.Subscribe("kairo-test/x", -1));
        Assert.True(client.Client.IsConnected);
    }

    [Fact]
    public void NativeLibraryVersion_IsLibmosquitto2()
    {
        Assert.True(MqttClient.NativeLibraryVersion >= new Version(2, 0), MqttClient.NativeLibraryVersion.ToString());
    }
}
