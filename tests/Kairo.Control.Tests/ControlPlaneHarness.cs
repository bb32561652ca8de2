using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Kairo.Control.Mqtt;
using Kairo.Control.Plane;
using Kairo.Onnx;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Loops;
using Kairo.Runtime.Sinks;
using Kairo.Runtime.Sources;

namespace Kairo.Control.Tests;

/// <summary>
/// An in-process device: a <see cref="ControlPlane"/> on a real broker with a few commands whose every run is
/// counted, and optionally a real <see cref="ControlLoop"/> on a real model whose outputs go out through an
/// <see cref="MqttSink"/> and <see cref="ControlPlane.PublishOutput"/>, as kairod wires them.
/// </summary>
internal sealed class PlaneDevice : IDisposable
{
    public const string FloodCommand = "flood";

    /// <summary>The request numbers the flood command takes: 0 to this, exclusive.</summary>
    public const int FloodCapacity = 10_000;

    private readonly int[] _floodRuns = new int[FloodCapacity];
    private int _pings;
    private int _rateChanges;
    private double _rate = 30;
    private int _disposed;

    private PlaneDevice(Broker broker, string deviceId, ControlLoop? loop, TickSignal? ticks, int maxPayloadBytes, MqttProtocolVersion protocol, long sequence)
    {
        Broker = broker;
        Loop = loop;
        Ticks = ticks;
        DeviceId = deviceId;
        Sequence = sequence;
        Dispatcher = new CommandDispatcher();
        Dispatcher.Register("ping", _ =>
        {
            Interlocked.Increment(ref _pings);
            return CommandReply.Success(new JsonObject { ["pong"] = true });
        });
        Dispatcher.Register("rate.set", request =>
        {
            double hz = request.RequireNumber("rateHz"); // throws before anything changes
            if (!(hz is >= 1 and <= 1000))
            {
                throw new CommandException(ErrorCodes.InvalidArgument, $"rateHz {hz} is out of range; expected 1 to 1000");
            }

            double previous = _rate;
            Volatile.Write(ref _rate, hz);
            Interlocked.Increment(ref _rateChanges);
            return CommandReply.Success(new JsonObject { ["rateHz"] = hz }, $"{previous} Hz -> {hz} Hz");
        });
        Dispatcher.Register("echo", request => CommandReply.Success(request.Arguments.DeepClone()));
        Dispatcher.Register(FloodCommand, request =>
        {
            double n = request.RequireNumber("n");
            if (!(n >= 0 && n < FloodCapacity && n == Math.Floor(n)))
            {
                throw new CommandException(ErrorCodes.InvalidArgument, $"n {n} is not a request number (0 to {FloodCapacity - 1})");
            }

            Interlocked.Increment(ref _floodRuns[(int)n]);
            return Loop is { } loop ? CommandReply.Success(w => LoopReport.WriteDescription(w, loop)) : CommandReply.Success(new JsonObject { ["n"] = n });
        });

        // Data written straight into the reply, as kairod's status is; and a writer that fails halfway through.
        Dispatcher.Register("written", request => CommandReply.Success(w =>
        {
            w.WriteStartObject();
            w.WriteString("by"u8, "writer");
            w.WriteNumber("arguments"u8, request.Arguments.Count);
            w.WriteEndObject();
        }));
        Dispatcher.Register("half-written", _ => CommandReply.Success(w =>
        {
            w.WriteStartObject();
            w.WriteString("partial"u8, "yes");
            throw new InvalidOperationException("the sensor table changed while it was written");
        }));

        Plane = new ControlPlane(
            new ControlPlaneOptions
            {
                DeviceId = DeviceId,
                BirthSequence = sequence,
                MaxPayloadBytes = maxPayloadBytes,
                TelemetryInterval = loop != null ? TimeSpan.FromSeconds(1) : TimeSpan.Zero,
                Mqtt = new MqttClientOptions
                {
                    Uri = broker.Url,
                    ClientId = "kairod-" + DeviceId,
                    ProtocolVersion = protocol,
                    ReconnectMinDelay = TimeSpan.FromSeconds(0.2),
                    ReconnectMaxDelay = TimeSpan.FromSeconds(1),
                },
            },
            Dispatcher,
            Birth,
            () => Loop is { State: LoopState.Running } l ? [(l.Name, LoopReport.Metrics(l))] : [],
            Logger);
    }

    public Broker Broker { get; }

    public string DeviceId { get; }

    public long Sequence { get; }

    public CommandDispatcher Dispatcher { get; }

    public ControlPlane Plane { get; }

    public ControlLoop? Loop { get; }

    public TickSignal? Ticks { get; }

    public CapturingLogger Logger { get; } = new();

    public int Pings => Volatile.Read(ref _pings);

    public int RateChanges => Volatile.Read(ref _rateChanges);

    public double Rate => Volatile.Read(ref _rate);

    /// <summary>How often the flood handler ran for request number <paramref name="n"/>.</summary>
    public int FloodRuns(long n) => Volatile.Read(ref _floodRuns[n]);

    public string Topic(string suffix) => $"{Plane.Prefix}/{suffix}";

    /// <summary>
    /// A device without a loop, the plane not yet started (so a test can watch its very first messages).
    /// </summary>
    public static PlaneDevice Create(Broker broker, int maxPayloadBytes = 64 * 1024, MqttProtocolVersion protocol = MqttProtocolVersion.Mqtt5, long sequence = 7) =>
        new(broker, NewDeviceId(), null, null, maxPayloadBytes, protocol, sequence);

    private static string NewDeviceId() => "dev-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>
    /// A device whose loop runs scale_add_v1.onnx at <paramref name="rateHz"/> with SCHED_FIFO priority 50 (as a board
    /// would; normal scheduling where that is refused), an mqtt sink every 10 ticks, and a tick signal. The loop is
    /// started; the plane is not.
    /// </summary>
    /// <summary>The CPU a device's loop is pinned to.</summary>
    public static int LoopCpu => Environment.ProcessorCount - 1;

    public static PlaneDevice CreateWithLoop(Broker broker, double rateHz, long sequence = 7)
    {
        OnnxRuntimeLibrary.Load();
        var options = new LoopOptions
        {
            Name = "ctl",
            RateHz = rateHz,
            MissPolicy = MissPolicy.Safe,
            Priority = 50,
            CpuAffinity = [LoopCpu], // where the tests' stall witness watches
            SafeOutputs = new Dictionary<string, float[]> { ["y"] = [-1f] },
        };
        var model = ModelInstance.Load(
            new ModelSource("scale_add", RepoModels.Path("scale_add_v1.onnx"), null, new SessionOptions { IntraOpThreads = 1, InterOpThreads = 1 }, 1),
            options);
        string deviceId = NewDeviceId();
        var ticks = new TickSignal();
        PlaneDevice? device = null;
        var sink = new MqttSink((topic, payload, qos) => device?.Plane.PublishOutput(topic, payload, qos) ?? false, $"kairo/{deviceId}/outputs/ctl", "ctl", everyTicks: 10); // as kairod wires it
        ControlLoop loop;
        try
        {
            loop = new ControlLoop(options, model, new SyntheticSource(SyntheticPattern.Constant, 0f), [ticks, sink]);
        }
        catch
        {
            model.Dispose();
            throw;
        }

        device = new PlaneDevice(broker, deviceId, loop, ticks, 64 * 1024, MqttProtocolVersion.Mqtt5, sequence);
        loop.Start();
        return device;
    }

    public JsonObject Birth() => new()
    {
        ["board"] = "test-bench",
        ["loops"] = new JsonArray(Loop != null ? [LoopReport.Describe(Loop)] : []),
    };

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Loop?.Dispose(); // the sink's last (safe) output still goes out through the plane's client
        Plane.Dispose();
    }
}

/// <summary>A sink that lets a test wait until the loop has reached a tick: an event instead of polling the counter.</summary>
internal sealed class TickSignal : IFrameSink
{
    private readonly ManualResetEventSlim _reached = new();
    private long _target = long.MaxValue;
    private long _last;

    public string Description => "tick signal";

    public SinkCounters Counters { get; } = new();

    public long LastTick => Volatile.Read(ref _last);

    public void Open(FrameLayout layout)
    {
    }

    public void Write(in TickFrame tick, ReadOnlySpan<byte> outputs)
    {
        long sequence = (long)tick.Sequence;
        Volatile.Write(ref _last, sequence);
        if (sequence >= Volatile.Read(ref _target) && !_reached.IsSet)
        {
            _reached.Set();
        }
    }

    /// <summary>Waits until a tick at least <paramref name="ticksFromNow"/> after the last one has been written.</summary>
    public void WaitFor(long ticksFromNow, TimeSpan timeout)
    {
        long target = LastTick + ticksFromNow;
        var until = DateTime.UtcNow + timeout;
        _reached.Reset();
        Volatile.Write(ref _target, target);

        // A set left over from an earlier target only costs one more round: the condition is what counts.
        while (LastTick < target)
        {
            TimeSpan left = until - DateTime.UtcNow;
            Assert.True(left > TimeSpan.Zero && _reached.Wait(left), $"the loop did not reach tick {target} within {timeout.TotalSeconds} s (last tick {LastTick})");
            _reached.Reset();
        }
    }

    public void Dispose() => _reached.Dispose();
}

/// <summary>
/// A watcher: an MQTT client of its own that keeps every message it receives, in order, and lets a test wait for the
/// first one (earlier ones count) that matches, from a position on.
/// </summary>
internal sealed class Inbox : IDisposable
{
    private readonly List<MqttMessage> _messages = [];
    private readonly List<(int From, Func<MqttMessage, bool> Match, TaskCompletionSource<(MqttMessage, int)> Seen)> _waiters = [];
    private readonly Broker _broker;

    public Inbox(Broker broker, MqttProtocolVersion protocol = MqttProtocolVersion.Mqtt5, params string[] filters)
    {
        _broker = broker;
        Client = new TestClient(broker.Url, broker, o => new MqttClientOptions
        {
            Uri = o.Uri,
            ClientId = o.ClientId,
            ProtocolVersion = protocol,
            ReconnectMinDelay = TimeSpan.FromSeconds(0.2),
            ReconnectMaxDelay = TimeSpan.FromSeconds(1),
        });
        Client.Client.MessageReceived += (_, m) => Add(m);
        foreach (string filter in filters)
        {
            Client.Client.Subscribe(filter, 1);
        }
    }

    public TestClient Client { get; }

    public int Count
    {
        get
        {
            lock (_messages)
            {
                return _messages.Count;
            }
        }
    }

    public IReadOnlyList<MqttMessage> Since(int from)
    {
        lock (_messages)
        {
            return _messages.Skip(from).ToList();
        }
    }

    public async Task<MqttConnectedEventArgs> StartAsync()
    {
        var connected = await Client.StartAsync();
        await Client.SyncAsync(); // every subscription is in force from here on
        return connected;
    }

    /// <summary>The first message at index <paramref name="from"/> or later that matches, and its index.</summary>
    public async Task<(MqttMessage Message, int Index)> WaitFor(Func<MqttMessage, bool> match, string what, int from = 0, TimeSpan? timeout = null)
    {
        Task<(MqttMessage, int)> seen;
        lock (_messages)
        {
            for (int i = from; i < _messages.Count; i++)
            {
                if (match(_messages[i]))
                {
                    return (_messages[i], i);
                }
            }

            var source = new TaskCompletionSource<(MqttMessage, int)>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((from, match, source));
            seen = source.Task;
        }

        return await Wait.For(seen, $"{what}\nmessages seen:\n{Describe()}", _broker, timeout);
    }

    public Task<(MqttMessage Message, int Index)> WaitFor(string topic, Func<JsonObject, bool> match, string what, int from = 0, TimeSpan? timeout = null) =>
        WaitFor(m => m.Topic == topic && ControlPlaneJson.TryParse(m.Payload) is { } o && match(o), what, from, timeout);

    public string Describe()
    {
        lock (_messages)
        {
            return string.Join('\n', _messages.TakeLast(40).Select(m => $"{m.Topic}{(m.Retain ? " (retained)" : "")}: {Encoding.UTF8.GetString(m.Payload)}"));
        }
    }

    public void Dispose() => Client.Dispose();

    private void Add(MqttMessage message)
    {
        List<TaskCompletionSource<(MqttMessage, int)>>? seen = null;
        int index;
        lock (_messages)
        {
            index = _messages.Count;
            _messages.Add(message);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (index >= _waiters[i].From && _waiters[i].Match(message))
                {
                    (seen ??= []).Add(_waiters[i].Seen);
                    _waiters.RemoveAt(i);
                }
            }
        }

        seen?.ForEach(s => s.TrySetResult((message, index)));
    }
}

internal static class ControlPlaneJson
{
    public static JsonObject Parse(byte[] payload) =>
        JsonNode.Parse(payload) as JsonObject ?? throw new InvalidOperationException($"not a JSON object: {Encoding.UTF8.GetString(payload)}");

    public static JsonObject? TryParse(byte[] payload)
    {
        try
        {
            return JsonNode.Parse(payload) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}

internal static class RepoModels
{
    private static readonly string Root = FindRoot();

    public static string Path(string file) => System.IO.Path.Combine(Root, "models", file);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Kairo.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("no Kairo.sln above the test binaries");
    }
}

/// <summary>
/// Sends numbered MQTT 5 requests (correlation data = the number) and tallies their replies into arrays allocated up
/// front. It keeps no messages: in a process that also runs a control loop, what the test itself retains would make
/// every garbage collection, and so every pause of the loop thread, longer.
/// </summary>
internal sealed class FloodRequester : IDisposable
{
    public const int Unanswered = 0;
    public const int AnsweredOk = 1;
    public const int AnsweredBusy = 2;
    public const int AnsweredOther = 3;

    private readonly MqttClient _client;
    private readonly string _replies;
    private readonly string _sync;
    private readonly int[] _outcome;
    private readonly int[] _replyCount;
    private readonly long[] _replyId;
    private readonly TaskCompletionSource _allAnswered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _answered;

    public FloodRequester(Broker broker, int total)
    {
        string id = "kairo-flood-" + Guid.NewGuid().ToString("N")[..10];
        _replies = $"kairo-test/flood/{id}/replies";
        _sync = $"kairo-test/flood/{id}/sync";
        _outcome = new int[total];
        _replyCount = new int[total];
        _replyId = new long[total];
        Total = total;
        _client = new MqttClient(new MqttClientOptions { Uri = broker.Url, ClientId = id });
        _client.Connected += (_, _) => _connected.TrySetResult();
        _client.MessageReceived += (_, m) => OnMessage(m);
        _client.Subscribe(_replies, 1);
        _client.Subscribe(_sync, 1);
    }

    public int Total { get; }

    public int Answered => Volatile.Read(ref _answered);

    public Task AllAnswered => _allAnswered.Task;

    public int Outcome(long n) => Volatile.Read(ref _outcome[n]);

    public int ReplyCount(long n) => Volatile.Read(ref _replyCount[n]);

    public long ReplyId(long n) => Volatile.Read(ref _replyId[n]);

    public async Task StartAsync(Broker broker)
    {
        _client.Start();
        await Wait.For(_connected.Task, "the flood requester to connect", broker);
        _client.Publish(_sync, "sync"u8, 1, false); // back once both subscriptions are in force
        await Wait.For(_synced.Task, "the flood requester's sync message", broker);
    }

    public MqttPublishResult Send(string topic, long n)
    {
        byte[] correlation = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(correlation, n);
        return _client.Publish(topic, Encoding.UTF8.GetBytes($$"""{"id":{{n}},"n":{{n}}}"""), 1, false, new MqttPublishProperties { ResponseTopic = _replies, CorrelationData = correlation });
    }

    public void Dispose() => _client.Dispose();

    private void OnMessage(MqttMessage message)
    {
        if (message.Topic == _sync)
        {
            _synced.TrySetResult();
            return;
        }

        if (message.Topic != _replies || message.CorrelationData is not { Length: 8 } correlation)
        {
            return;
        }

        long n = BinaryPrimitives.ReadInt64LittleEndian(correlation);
        if (n < 0 || n >= Total)
        {
            return;
        }

        // Only the fields the tally needs; the reply's data is read and dropped.
        var reader = new System.Text.Json.Utf8JsonReader(message.Payload);
        string? code = null;
        long id = -1;
        while (reader.Read())
        {
            if (reader.TokenType == System.Text.Json.JsonTokenType.PropertyName && reader.CurrentDepth == 1)
            {
                if (reader.ValueTextEquals("code"u8) && reader.Read())
                {
                    code = reader.GetString();
                }
                else if (reader.ValueTextEquals("id"u8) && reader.Read() && reader.TokenType == System.Text.Json.JsonTokenType.Number)
                {
                    id = reader.GetInt64();
                }
            }
        }

        _outcome[n] = code switch { ErrorCodes.Ok => AnsweredOk, ErrorCodes.Busy => AnsweredBusy, _ => AnsweredOther };
        _replyId[n] = id;
        if (Interlocked.Increment(ref _replyCount[n]) == 1 && Interlocked.Increment(ref _answered) == Total)
        {
            _allAnswered.TrySetResult();
        }
    }
}

/// <summary>
/// A stretch of this process without garbage collections. The loop thread allocates nothing, but a collection
/// triggered by any other thread stops every managed thread, the loop's included, for as long as it takes: in this
/// test host, with its JIT and test-side heap, 5 to 20 ms, more than a 200 Hz loop's whole period. A test that means
/// to measure what the control plane's threads and the broker do to a loop fences that off, and checks the fence held.
/// </summary>
internal sealed class GcFence : IDisposable
{
    /// <summary>Enough for a 10,000-request flood (about 90 MB allocated across the process) with room to spare.</summary>
    private const long Budget = 240L << 20;

    private readonly int _gen0;
    private readonly long _allocated;
    private readonly TimeSpan _paused;

    private GcFence()
    {
        _gen0 = GC.CollectionCount(0);
        _allocated = GC.GetTotalAllocatedBytes();
        _paused = GC.GetTotalPauseDuration();
    }

    /// <summary>Collections since the fence went up (every collection counts in generation 0).</summary>
    public int Collections => GC.CollectionCount(0) - _gen0;

    /// <summary>Collects once (so the loop takes that pause now, before any measurement) and fences off the rest.</summary>
    public static GcFence Enter()
    {
        Assert.True(GC.TryStartNoGCRegion(Budget), "the runtime refused a no-GC region");
        return new GcFence();
    }

    public string Describe() =>
        $"{(GC.GetTotalAllocatedBytes() - _allocated) >> 20} MB allocated, {Collections} garbage collections, paused {(GC.GetTotalPauseDuration() - _paused).TotalMilliseconds:0.0} ms";

    public void Dispose()
    {
        if (System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion)
        {
            GC.EndNoGCRegion();
        }
    }
}
