using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kairo.Control.Mqtt;
using Kairo.Control.Plane;

namespace Kairo.EndToEnd.Tests;

/// <summary>
/// The published AOT <c>kairoctl deploy</c> through a real mosquitto broker against a scripted device: a Kairo control
/// plane whose <c>ota.</c> handler answers <c>ota.start</c> as the test says and then, once the reply is on the broker,
/// publishes the test's progress messages on <c>P/ota/{jobId}</c>.
/// </summary>
public sealed partial class DeployCommandTests(DeployCommandTests.SharedBroker shared) : IClassFixture<DeployCommandTests.SharedBroker>
{
    private const string PackageUrl = "http://127.0.0.1:8780/pilotnet-v3.kpkg";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestBroker _broker = shared.Broker;

    [Fact]
    public void DownloadProgressThenCommitted_Exits0AndPrintsTheCommittedLine()
    {
        using var device = ScriptedDevice.Start(_broker, "deploy-ok", job =>
        [
            Progress(job, "download", "fetching the package", bytes: 0, total: 1_048_576),
            Progress(job, "download", "fetching the package", bytes: 524_288, total: 1_048_576),
            Progress(job, "download", "fetching the package", bytes: 1_048_576, total: 1_048_576),
            Progress(job, "verify", "checking signatures and files"),
            Progress(job, "stage", "staging pilotnet v3"),
            Progress(job, "validate", "golden vectors and latency on this board"),
            Progress(job, "activate", "swapping pilotnet v3 into loop drive"),
            Progress(job, "health", "health window: 10 s left"),
            Progress(job, "commit", "committing pilotnet v3"),
            Progress(job, "committed", "pilotnet v3 is active", model: "pilotnet", version: 3, release: "2025.06-rc1"),
        ]);

        var result = Deploy("--device", device.Id, "--package", PackageUrl);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"committed: pilotnet v3 (2025.06-rc1) on {device.Id}\n", result.Stdout);
        var start = Assert.Single(device.Requests);
        Assert.Equal("ota.start", start.Name);
        Assert.Equal(PackageUrl, start.Url);
        Assert.Matches("^deploy-[0-9]{14}-[0-9a-f]{4}$", start.JobId);
        Assert.Equal(start.JobId, device.ScriptedJobId); // the progress went to ota/{the job id sent}, and kairoctl followed it

        // Not a terminal: no carriage returns, one line per step however many messages a step sends.
        Assert.DoesNotContain('\r', result.Stderr);
        string[] lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains($"kairoctl deploy: device {device.Id} accepted job {start.JobId}: {PackageUrl}", lines);
        Assert.Equal(
            ["download", "verify", "stage", "validate", "activate", "health", "commit"],
            lines.Skip(1).Select(l => l[..l.IndexOf(':')]));
        Assert.Equal("download: fetching the package (0 B of 1.0 MiB)", lines[1]);
        Assert.Equal("health: health window: 10 s left", lines[6]);
    }

    [Fact]
    public void AFailedVerification_Exits1WithTheStepAndTheCode()
    {
        using var device = ScriptedDevice.Start(_broker, "deploy-hash", job =>
        [
            Progress(job, "download", "fetching the package", bytes: 4096, total: 4096),
            Progress(job, "verify", "checking signatures and files", model: "pilotnet", version: 3),
            Progress(job, "failed", "model.onnx: SHA-256 differs from the signed one", model: "pilotnet", version: 3, failure: "file_hash"),
        ]);

        var result = Deploy("--device", device.Id, "--package", PackageUrl, "--job-id", "hash-1");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Equal("", result.Stdout);
        Assert.Contains("update failed at verify: [file_hash] model.onnx: SHA-256 differs from the signed one\n", result.Stderr);
        Assert.Equal("hash-1", Assert.Single(device.Requests).JobId);
    }

    [Fact]
    public void ARefusedStart_Exits1WithTheDevicesCodeAndMessage()
    {
        using var device = ScriptedDevice.Start(
            _broker,
            "deploy-busy",
            _ => [],
            refusal: CommandReply.Error(ErrorCodes.Busy, "job rollout-1 is at step download; one update at a time"));

        var result = Deploy("--device", device.Id, "--package", PackageUrl);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Equal("", result.Stdout);
        Assert.Contains("busy: job rollout-1 is at step download; one update at a time", result.Stderr);
        Assert.DoesNotContain("accepted job", result.Stderr);
        Assert.Equal(PackageUrl, Assert.Single(device.Requests).Url);
        Assert.Null(device.ScriptedJobId);
    }

    [Theory]
    [InlineData("ftp://127.0.0.1/pilotnet-v3.kpkg")]
    [InlineData("file:///srv/packages/pilotnet-v3.kpkg")]
    [InlineData("pilotnet-v3.kpkg")]
    public void APackageThatIsNotAnHttpUrl_IsAUsageErrorThatTouchesNoBroker(string package)
    {
        // A listener nobody accepts on: any connection attempt would wait in its backlog.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var result = Bundle.Run("kairoctl", ["deploy", "--device", "dev1", "--package", package, "--broker", $"mqtt://127.0.0.1:{port}"], Patience);

            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.True(result.Stderr.Contains($"--package '{package}' is not an http:// or https:// URL", StringComparison.Ordinal), result.ToString());
            Assert.False(listener.Pending(), "kairoctl connected to the broker although its command line was refused");
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public void Json_PrintsEveryProgressMessage_OfTheJobIdTheRequestCarried_AndARollbackExits1()
    {
        using var device = ScriptedDevice.Start(_broker, "deploy-json", job =>
        [
            Progress(job, "download", "fetching the package", bytes: 2048, total: 2048),
            Progress(job, "verify", "checking signatures and files"),
            Progress(job, "activate", "swapping pilotnet v4 into loop drive", model: "pilotnet", version: 4),
            Progress(job, "health", "health window: 30 s left", model: "pilotnet", version: 4),
            Progress(job, "rolled_back", "3 NaN outputs in the health window; pilotnet v3 is active again", model: "pilotnet", version: 4, failure: "health_failed"),
        ]);

        var result = Deploy("--device", device.Id, "--package", PackageUrl, "--job-id", "rollout-7.a", "--json");

        Assert.True(result.ExitCode == 1, result.ToString());
        var start = Assert.Single(device.Requests);
        Assert.Equal("rollout-7.a", start.JobId);
        Assert.Equal(PackageUrl, start.Url);
        Assert.Equal("rollout-7.a", device.ScriptedJobId);
        var messages = result.StdoutLines.Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal(["download", "verify", "activate", "health", "rolled_back"], messages.Select(m => (string?)m["step"]));
        Assert.All(messages, m => Assert.Equal("rollout-7.a", (string?)m["jobId"]));
        Assert.Equal(2048, (long)messages[0]["bytes"]!);
        Assert.Equal("health_failed", (string?)messages[^1]["failure"]);
        Assert.Contains("rolled back: [health_failed] 3 NaN outputs in the health window; pilotnet v3 is active again\n", result.Stderr);
    }

    [Fact]
    public void ADeviceGoingOffline_Exits3AndSaysHowToFindTheJob()
    {
        using var device = ScriptedDevice.Start(_broker, "deploy-offline", job =>
        [
            Progress(job, "download", "fetching the package", bytes: 0, total: 4096),
            ScriptedDevice.Offline,
        ]);

        var result = Deploy("--device", device.Id, "--package", PackageUrl, "--job-id", "gone-1");

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.True(result.Stderr.Contains($"device {device.Id} went offline (seq 7, since ", StringComparison.Ordinal), result.ToString());
        Assert.True(result.Stderr.Contains($"during job gone-1 at step download", StringComparison.Ordinal), result.ToString());
        Assert.True(result.Stderr.Contains($"kairoctl cmd --device {device.Id} --broker {_broker.Url} ota.status shows it", StringComparison.Ordinal), result.ToString());
    }

    [Fact]
    public void NoProgressForTheTimeout_Exits3AndSaysHowToFindTheJob()
    {
        using var device = ScriptedDevice.Start(_broker, "deploy-silent", _ => []);

        var result = Deploy("--device", device.Id, "--package", PackageUrl, "--job-id", "quiet-1", "--timeout", "1s");

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.True(result.Stderr.Contains($"no progress from device {device.Id} on job quiet-1 for 1.0 s", StringComparison.Ordinal), result.ToString());
        Assert.True(result.Stderr.Contains($"kairoctl cmd --device {device.Id} --broker {_broker.Url} ota.status shows it", StringComparison.Ordinal), result.ToString());
    }

    [Fact]
    public void CtrlC_Exits130AndLeavesTheJobRunning()
    {
        using var device = ScriptedDevice.Start(_broker, "deploy-interrupt", job =>
        [
            Progress(job, "download", "fetching the package", bytes: 0, total: 4096),
        ]);

        var start = new ProcessStartInfo(Bundle.PathOf("kairoctl"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "deploy", "--device", device.Id, "--package", PackageUrl, "--job-id", "stay-1", "--broker", _broker.Url })
        {
            start.ArgumentList.Add(a);
        }

        // Declared before the process, so disposed after it: the output reader is done with it by then.
        using var lines = new BlockingCollection<string>();
        var stderr = new ConcurrentQueue<string>();
        var stdout = new ConcurrentQueue<string>();
        using var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                stdout.Enqueue(line);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                stderr.Enqueue(line);
                lines.Add(line);
            }
        };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            // The download step's line means kairoctl is following the job.
            while (true)
            {
                Assert.True(lines.TryTake(out string? line, Patience), $"kairoctl printed no download line within {Patience.TotalSeconds} s:\n{string.Join('\n', stderr)}");
                if (line.StartsWith("download: ", StringComparison.Ordinal))
                {
                    break;
                }
            }

            Assert.Equal(0, Kill(process.Id, SIGINT));
            Assert.True(process.WaitForExit(Patience), "kairoctl did not end after SIGINT");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }

            process.WaitForExit(); // drains the output readers
        }

        string errors = string.Join('\n', stderr);
        Assert.True(process.ExitCode == 130, $"exit code {process.ExitCode}\nstdout:\n{string.Join('\n', stdout)}\nstderr:\n{errors}");
        Assert.Contains("job stay-1 goes on on device deploy-interrupt, it was not cancelled", errors);
        Assert.Contains($"kairoctl cmd --device deploy-interrupt --broker {_broker.Url} ota.cancel jobId=stay-1 cancels it", errors);
        Assert.Empty(stdout);
        Assert.Equal(["ota.start"], device.Requests.Select(r => r.Name)); // nothing sent after the interrupt
    }

    private ProcessResult Deploy(params string[] arguments) =>
        Bundle.Run("kairoctl", ["deploy", .. arguments, "--broker", _broker.Url], Patience);

    /// <summary>A progress message as the device publishes it on <c>P/ota/{jobId}</c>.</summary>
    private static JsonObject Progress(
        string jobId, string step, string message, string? model = null, long? version = null, string? release = null, long? bytes = null, long? total = null, string? failure = null) => new()
        {
            ["jobId"] = jobId,
            ["step"] = step,
            ["model"] = model,
            ["version"] = version,
            ["release"] = release,
            ["bytes"] = bytes,
            ["total"] = total,
            ["failure"] = failure,
            ["message"] = message,
            ["ts"] = DateTimeOffset.UtcNow.ToString("O"),
        };

    private const int SIGINT = 2;

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);

    /// <summary>One broker for the class; every test scripts its own device id.</summary>
    public sealed class SharedBroker : IDisposable
    {
        internal TestBroker Broker { get; } = TestBroker.Start();

        public void Dispose() => Broker.Dispose();
    }

    /// <summary>A request the scripted device received: its command and the two arguments of <c>ota.start</c>.</summary>
    internal sealed record OtaRequest(string Name, string? Url, string? JobId);

    /// <summary>
    /// A device that is only a control plane: online (retained, sequence 7) like kairod, its <c>ota.</c> commands
    /// recorded and answered as scripted. An observer client on the same broker sees the reply to <c>ota.start</c>
    /// go out and only then starts the script, so progress follows the reply as on a real device.
    /// </summary>
    private sealed class ScriptedDevice : IDisposable
    {
        /// <summary>A script step that publishes the device's retained state as offline (same sequence) instead of progress.</summary>
        public static readonly JsonObject Offline = new() { ["offline"] = true };

        private const long Sequence = 7;

        private readonly ControlPlane _plane;
        private readonly MqttClient _observer;
        private readonly Func<string, JsonObject[]> _script;
        private readonly CommandReply? _refusal;
        private readonly ConcurrentQueue<OtaRequest> _requests = new();
        private readonly ManualResetEventSlim _online = new();
        private string? _pendingJob;
        private volatile string? _scriptedJobId;
        private Thread? _scriptThread;

        private ScriptedDevice(TestBroker broker, string id, Func<string, JsonObject[]> script, CommandReply? refusal)
        {
            Id = id;
            _script = script;
            _refusal = refusal;
            var dispatcher = new CommandDispatcher();
            dispatcher.RegisterFamily("ota.", OnOta);
            _plane = new ControlPlane(
                new ControlPlaneOptions
                {
                    DeviceId = id,
                    BirthSequence = Sequence,
                    TelemetryInterval = TimeSpan.Zero,
                    Mqtt = new MqttClientOptions { Uri = broker.Url, ClientId = $"kairod-{id}" },
                },
                dispatcher,
                () => new JsonObject { ["board"] = "scripted", ["loops"] = new JsonArray() },
                () => [],
                Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

            _observer = new MqttClient(new MqttClientOptions { Uri = broker.Url, ClientId = $"observer-{id}" });

            // Replies first, state second: the broker takes subscriptions in order, so the state arriving means both hold.
            _observer.Subscribe("kairoctl/+/reply", 1);
            _observer.Subscribe(_plane.StateTopic, 1);
            _observer.MessageReceived += (_, m) => OnObserved(m);
        }

        public string Id { get; }

        public IReadOnlyList<OtaRequest> Requests => [.. _requests];

        /// <summary>The job id whose topic the script published on; null while no script ran.</summary>
        public string? ScriptedJobId => _scriptedJobId;

        public static ScriptedDevice Start(TestBroker broker, string id, Func<string, JsonObject[]> script, CommandReply? refusal = null)
        {
            var device = new ScriptedDevice(broker, id, script, refusal);
            try
            {
                device._observer.Start();
                device._plane.Start();
                Assert.True(device._online.Wait(Patience), $"the scripted device {id} did not come online within {Patience.TotalSeconds} s:\n{broker.Output}");
                return device;
            }
            catch
            {
                device.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            _scriptThread?.Join(Patience);
            _plane.Dispose();
            _observer.Dispose();
            _online.Dispose();
        }

        /// <summary>On the control plane's command thread, as kairod's update service would be.</summary>
        private CommandReply OnOta(CommandRequest request)
        {
            string? url = request.OptionalString("url");
            string? jobId = request.OptionalString("jobId");
            _requests.Enqueue(new OtaRequest(request.Name, url, jobId));
            if (request.Name != "ota.start")
            {
                return CommandReply.Error(ErrorCodes.InvalidArgument, $"the scripted device only knows ota.start, not {request.Name}");
            }

            if (_refusal != null)
            {
                return _refusal;
            }

            Volatile.Write(ref _pendingJob, jobId ?? throw new CommandException(ErrorCodes.InvalidArgument, "jobId is missing"));
            return CommandReply.Success(new JsonObject { ["jobId"] = jobId, ["step"] = "download" }, $"job {jobId} started");
        }

        /// <summary>On the observer's network thread: the device's state, and the replies going to kairoctl.</summary>
        private void OnObserved(MqttMessage message)
        {
            if (message.Topic == _plane.StateTopic)
            {
                if (Encoding.UTF8.GetString(message.Payload).Contains("\"online\"", StringComparison.Ordinal))
                {
                    _online.Set();
                }

                return;
            }

            bool ok;
            try
            {
                ok = JsonNode.Parse(message.Payload) is JsonObject reply && reply["ok"]?.GetValueKind() == JsonValueKind.True;
            }
            catch (JsonException)
            {
                return;
            }

            if (ok && Interlocked.Exchange(ref _pendingJob, null) is { } jobId)
            {
                _scriptThread = new Thread(() => RunScript(jobId)) { IsBackground = true, Name = "scripted-ota" };
                _scriptThread.Start();
            }
        }

        private void RunScript(string jobId)
        {
            _scriptedJobId = jobId;
            foreach (var step in _script(jobId))
            {
                if (ReferenceEquals(step, Offline))
                {
                    _plane.Publish(
                        _plane.StateTopic,
                        new JsonObject { ["state"] = "offline", ["seq"] = Sequence, ["deviceId"] = Id, ["ts"] = DateTimeOffset.UtcNow.ToString("O") },
                        qos: 1,
                        retain: true);
                }
                else
                {
                    _plane.Publish($"{_plane.Prefix}/ota/{jobId}", step, qos: 1, retain: false);
                }
            }
        }
    }
}
