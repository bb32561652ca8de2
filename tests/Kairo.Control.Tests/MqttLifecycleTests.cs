using System.Diagnostics;
using System.Text;
using Kairo.Control.Mqtt;
using Kairo.Testing;
using Microsoft.Extensions.Logging;

namespace Kairo.Control.Tests;

public sealed class MqttLifecycleTests
{
    private static Func<MqttClientOptions, MqttClientOptions> WithWill(string topic, MqttProtocolVersion version = MqttProtocolVersion.Mqtt5) =>
        o => new MqttClientOptions
        {
            Uri = o.Uri,
            ClientId = o.ClientId,
            ProtocolVersion = version,
            Will = new MqttWill { Topic = topic, Payload = "offline"u8.ToArray(), Qos = 1, Retain = true },
        };

    [Theory]
    [InlineData(MqttProtocolVersion.Mqtt5)]
    [InlineData(MqttProtocolVersion.Mqtt311)]
    public async Task Abort_MakesTheBrokerPublishTheWill(MqttProtocolVersion version)
    {
        using Broker broker = await Broker.StartAsync();
        string state = $"kairo-test/{Guid.NewGuid():N}/state";
        using var observer = new TestClient(broker.Url, broker);
        observer.Client.Subscribe(state, 1);
        await observer.StartAsync();
        using var device = new TestClient(broker.Url, broker, WithWill(state, version));
        await device.StartAsync();
        device.Client.Publish(state, "online"u8, 1, retain: true);
        Assert.Equal("online", Encoding.UTF8.GetString((await observer.NextMessageAsync(state)).Payload));

        var stopwatch = Stopwatch.StartNew();
        device.Client.Abort();
        stopwatch.Stop();

        MqttMessage will = await observer.NextMessageAsync(state);
        Assert.Equal("offline", Encoding.UTF8.GetString(will.Payload));
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2 * device.Options.StopTimeout.TotalSeconds + 0.5), $"Abort took {stopwatch.Elapsed}");
        Assert.False(device.Client.IsConnected);
    }

    [Fact]
    public async Task Dispose_DisconnectsNormally_SoTheWillIsNotPublished()
    {
        using Broker broker = await Broker.StartAsync();
        string state = $"kairo-test/{Guid.NewGuid():N}/state";
        using var observer = new TestClient(broker.Url, broker);
        observer.Client.Subscribe(state, 1);
        await observer.StartAsync();
        var device = new TestClient(broker.Url, broker, WithWill(state));
        await device.StartAsync();
        device.Client.Publish(state, "stopped"u8, 1, retain: true); // What the daemon publishes before stopping.
        await observer.NextMessageAsync(state);

        device.Client.Dispose();

        // The broker logs the DISCONNECT once it has handled it; a will would be published right then, so a sync
        // round trip through the broker after that line would carry it in front.
        await Wait.For(broker.WaitForLogAsync($"Client {device.ClientId} disconnected."), "the broker to log a normal disconnect", broker);
        await observer.SyncAsync();
        Assert.DoesNotContain(observer.Drain(), m => m.Topic == state);
        Assert.DoesNotContain($"Client {device.ClientId} closed its connection", broker.Log);
    }

    [Fact]
    public async Task BrokerKilledAndRestarted_ClientReconnects_AndSubscriptionsWorkAgain()
    {
        using Broker broker = await Broker.StartAsync();
        using var client = new TestClient(broker.Url, broker);
        client.Client.Subscribe("kairo-test/rc/#", 1);
        await client.StartAsync();

        broker.Kill();
        MqttDisconnectedEventArgs lost = await client.NextDisconnectedAsync();
        Assert.Equal(7, lost.Code); // MOSQ_ERR_CONN_LOST
        Assert.False(client.Client.IsConnected);

        await broker.RestartAsync();
        MqttConnectedEventArgs again = await client.NextConnectedAsync();
        Assert.Equal(MqttProtocolVersion.Mqtt5, again.ProtocolVersion);
        Assert.True(client.Client.IsConnected);

        // The restarted broker has no memory of the old subscriptions: anything that arrives was subscribed anew.
        await client.SyncAsync();
        using var publisher = new TestClient(broker.Url, broker);
        await publisher.StartAsync();
        publisher.Client.Publish("kairo-test/rc/after", "again"u8, 1, false);
        MqttMessage message = await client.NextMessageAsync("kairo-test/rc/after");
        Assert.Equal("again", Encoding.UTF8.GetString(message.Payload));
    }

    [Fact]
    public async Task PublishWhileDisconnected_DropsQos0_QueuesQos1UntilReconnected()
    {
        using Broker broker = await Broker.StartAsync();
        using var client = new TestClient(broker.Url, broker);
        await client.StartAsync();
        broker.Kill();
        await client.NextDisconnectedAsync();

        Assert.Equal(MqttPublishResult.Dropped, client.Client.Publish("kairo-test/q/zero", "0"u8, 0, false));
        Assert.Equal(MqttPublishResult.Queued, client.Client.Publish("kairo-test/q/one", "1"u8, 1, retain: true));

        await broker.RestartAsync();
        await client.NextConnectedAsync();
        using var observer = new TestClient(broker.Url, broker);
        observer.Client.Subscribe("kairo-test/q/#", 1);
        await observer.StartAsync();
        MqttMessage queued = await observer.NextMessageAsync("kairo-test/q/one");
        Assert.Equal("1", Encoding.UTF8.GetString(queued.Payload));
    }

    [Fact]
    public async Task Dispose_WithTheBrokerGone_ReturnsPromptly()
    {
        using Broker broker = await Broker.StartAsync();
        var client = new TestClient(broker.Url, broker);
        await client.StartAsync();
        broker.Kill();
        await client.NextDisconnectedAsync();

        var stopwatch = Stopwatch.StartNew();
        client.Dispose();
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"Dispose took {stopwatch.Elapsed}");
        Assert.Throws<ObjectDisposedException>(() => client.Client.Publish("kairo-test/x", "x"u8, 0, false));
    }

    [Fact]
    public async Task Dispose_WhileATlsHandshakeHangs_IsBoundedByTheStopTimeout()
    {
        using var silent = new SilentListener();
        var client = new TestClient($"mqtts://127.0.0.1:{silent.Port}", configure: o => new MqttClientOptions
        {
            Uri = o.Uri,
            ClientId = o.ClientId,
            Tls = new MqttTlsOptions { CaFile = TestCertificates.Shared.CaFile },
            StopTimeout = TimeSpan.FromSeconds(1),
        });
        client.Client.Start();
        await Wait.For(silent.FirstAccepted, "the client to open a TCP connection");

        var stopwatch = Stopwatch.StartNew();
        client.Dispose();
        stopwatch.Stop();

        // libmosquitto alone would wait for the keep-alive (45 s here) before giving up on the handshake.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2.5), $"Dispose took {stopwatch.Elapsed}");
        Assert.True(client.Logger.Entries.Any(e => e.Level == LogLevel.Warning && e.Text.Contains("was cancelled")), client.Logger.Text);
    }

    [Fact]
    public async Task Dispose_FromItsOwnHandler_DoesNotDeadlock()
    {
        using Broker broker = await Broker.StartAsync();
        var client = new TestClient(broker.Url, broker);
        client.Client.Subscribe("kairo-test/bye", 0);
        var disposed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Client.MessageReceived += (_, m) =>
        {
            if (m.Topic == "kairo-test/bye")
            {
                client.Client.Dispose();
                disposed.TrySetResult();
            }
        };
        await client.StartAsync();

        client.Client.Publish("kairo-test/bye", "x"u8, 0, false);
        await Wait.For(disposed.Task, "the handler to return from Dispose", broker);
        await Wait.For(broker.WaitForLogAsync($"Client {client.ClientId} disconnected."), "the broker to see the client leave", broker);
    }

    [Fact]
    public async Task Flood_10000Qos0Messages_AllArriveInBoundedTime()
    {
        const int Count = 10_000;
        using Broker broker = await Broker.StartAsync(new BrokerConfig { Verbose = false });
        using var subscriber = new TestClient(broker.Url, broker);
        int received = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        subscriber.Client.MessageReceived += (_, m) =>
        {
            if (m.Topic == "kairo-test/flood" && Interlocked.Increment(ref received) == Count)
            {
                all.TrySetResult();
            }
        };
        subscriber.Client.Subscribe("kairo-test/flood", 0);
        await subscriber.StartAsync();
        using var publisher = new TestClient(broker.Url, broker);
        await publisher.StartAsync();

        var stopwatch = Stopwatch.StartNew();
        byte[] payload = new byte[64];
        for (int i = 0; i < Count; i++)
        {
            BitConverter.TryWriteBytes(payload, i);
            Assert.Equal(MqttPublishResult.Sent, publisher.Client.Publish("kairo-test/flood", payload, 0, false));
        }

        TimeSpan published = stopwatch.Elapsed;
        await Wait.For(all.Task, $"{Count} messages (got {Volatile.Read(ref received)})", broker, TimeSpan.FromSeconds(30));
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(30));
        Console.WriteLine($"flood: {Count} QoS 0 messages published in {published.TotalMilliseconds:F0} ms, all received after {stopwatch.Elapsed.TotalMilliseconds:F0} ms");
    }
}
