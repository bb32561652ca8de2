using System.Collections.Concurrent;
using Kairo.Onnx;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Loops;
using Kairo.Runtime.Sinks;
using Kairo.Runtime.Sources;
using Kairo.Updates.Device;
using Kairo.Updates.Http;
using Kairo.Updates.Packages;
using Kairo.Updates.Signing;
using Kairo.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Kairo.Updates.Tests;

/// <summary>
/// The device's update flow end to end in one process: a real loop runs scale_add v1 at 200 Hz, packages are served
/// by the range server on loopback, and the agent downloads, verifies, stages, validates, swaps, watches and commits
/// or refuses. Every attack ends refused with its code, v1 still running, and not one missed tick: the loop runs
/// pinned at SCHED_FIFO as on a board, and a tick missed inside a stall of the machine that a
/// <see cref="StallWitness"/> above it on its CPU saw too is the machine's (<see cref="MissAudit"/>); any other fails.
/// </summary>
[Collection(UpdateAgentTests.Alone)]
public sealed class UpdateAgentTests : IDisposable
{
    /// <summary>Counts deadline misses of a live loop, so runs beside no other test class.</summary>
    public const string Alone = "update agent, alone";

    private readonly ScratchDirectory _scratch = new();
    private readonly RangeHttpServer _server;
    private readonly Device _device;
    private readonly ITestOutputHelper _output;

    public UpdateAgentTests(ITestOutputHelper output)
    {
        _output = output;
        Repo.LoadOnnxRuntime();
        Directory.CreateDirectory(_scratch.Combine("served"));
        _server = RangeHttpServer.Start(_scratch.Combine("served"));
        _device = new Device(_scratch.Combine("state"));
    }

    public void Dispose()
    {
        _device.Dispose();
        _server.StopAsync().GetAwaiter().GetResult();
        _scratch.Dispose();
    }

    [Fact]
    public void ANewerSignedPackageIsCommittedAndRunsWithoutAMissedTick()
    {
        Uri url = Publish("v2", Packages.Options("scale_add_v2.onnx", version: 2), Keys.Alice, Keys.Bob);
        long missesBefore = _device.Loop.Metrics.MissRecords;

        UpdateProgress end = _device.Run(url);

        _device.AssertNoMissOfKairos(missesBefore, _output);
        Assert.True(end.Step == UpdateStep.Committed, end.Message);
        Assert.Equal(2, _device.Loop.Model.Version);
        Assert.Equal(2, _device.Store.Find("scale_add")!.Active!.Version);
        Assert.Equal(2, _device.Store.Find("scale_add")!.HighestVersion);
        _device.AssertNoMissOfKairos(missesBefore, _output);
        Assert.Equal(
            [UpdateStep.Download, UpdateStep.Verify, UpdateStep.Stage, UpdateStep.Validate, UpdateStep.Activate, UpdateStep.Health, UpdateStep.Commit, UpdateStep.Committed],
            _device.Steps.Distinct().ToArray());
        Assert.Contains(_device.Reports, p => p.Step == UpdateStep.Download && p.Total is > 0 && p.Bytes == p.Total);
        Assert.Null(_device.Journal.Current);
        Assert.Equal("committed", _device.Journal.History[0].Step.ToName());
        Assert.False(File.Exists(_device.Journal.PartPath(end.JobId)));
    }

    public static TheoryData<string, UpdateFailure> Attacks => new()
    {
        { "manifest changed after signing", UpdateFailure.SignatureInvalid },
        { "too few signatures", UpdateFailure.SignatureThreshold },
        { "signed by an unknown key", UpdateFailure.KeyUnknown },
        { "model bytes tampered", UpdateFailure.FileHash },
        { "golden vectors tampered", UpdateFailure.FileHash },
        { "archive longer than signed", UpdateFailure.FileLength },
        { "same version again", UpdateFailure.VersionNotNewer },
        { "older version", UpdateFailure.VersionNotNewer },
        { "expired manifest", UpdateFailure.Expired },
        { "files mixed from two packages", UpdateFailure.FileHash },
        { "wrong board", UpdateFailure.BoardIncompatible },
        { "wrong input/output signature", UpdateFailure.SignatureMismatch },
        { "golden outputs out of tolerance", UpdateFailure.GoldenMismatch },
        { "latency budget missed", UpdateFailure.LatencyBudget },
        { "model not run by this device", UpdateFailure.ModelUnknown },
    };

    [Theory]
    [MemberData(nameof(Attacks))]
    public void AnAttackIsRefusedWithItsReasonWhileV1KeepsRunning(string attack, UpdateFailure expected)
    {
        Uri url = Attack(attack);
        long missesBefore = _device.Loop.Metrics.MissRecords;

        UpdateProgress end = _device.Run(url);

        Assert.True(end.Step == UpdateStep.Failed, $"{attack}: {end.Step} {end.Message}");
        Assert.True(end.Failure == expected, $"{attack}: expected {expected.ToCode()}, got {end.Failure?.ToCode()}: {end.Message}");
        Assert.Equal(1, _device.Loop.Model.Version);
        Assert.Equal("scale_add", _device.Loop.Model.Name);
        Assert.Null(_device.Store.Find("scale_add")?.Active);
        long ticks = _device.Loop.Metrics.Ticks;
        _device.WaitForTicks(ticks + 20);
        Assert.True(_device.Loop.Metrics.Ticks >= ticks + 20, "the loop kept ticking");
        _device.AssertNoMissOfKairos(missesBefore, _output);
        Assert.DoesNotContain(_device.Steps, s => s is UpdateStep.Activate or UpdateStep.Health);
        Assert.Equal(expected.ToCode(), _device.Journal.History[0].Failure);
        Assert.Empty(Directory.Exists(_device.Store.Directory + "/packages") ? Directory.GetDirectories(_device.Store.Directory + "/packages") : []);
    }

    [Fact]
    public void AFailedHealthWindowPutsV1BackBetweenTwoTicks()
    {
        using var strict = new Device(_scratch.Combine("strict"), new UpdateAgentOptions { HealthWindow = TimeSpan.FromMilliseconds(300), MaxMissRatio = -1 });
        Uri url = Publish("v2", Packages.Options("scale_add_v2.onnx", version: 2), Keys.Alice, Keys.Bob);
        var before = (strict.Loop.Metrics.Ticks, strict.Loop.Metrics.DeadlineMisses);

        UpdateProgress end = strict.Run(url);

        Assert.Equal(UpdateStep.RolledBack, end.Step);
        Assert.Equal(UpdateFailure.HealthFailed, end.Failure);
        Assert.Equal(1, strict.Loop.Model.Version);
        Assert.Null(strict.Store.Find("scale_add")?.Active);
        Assert.Equal(2, strict.Loop.Metrics.Swaps);
        Assert.True(strict.Loop.Metrics.Ticks > before.Ticks + 40, "the loop ticked through the update and the rollback");
        Assert.Contains(strict.Changes, c => c.StartsWith("model.activated", StringComparison.Ordinal));
        Assert.Contains(strict.Changes, c => c.StartsWith("model.rolled-back", StringComparison.Ordinal));
    }

    [Fact]
    public void AHealthWindowWithLateTicksIsRolledBackAndTheReasonNamesWhatMadeThemLate()
    {
        // While v2 runs, every 10th tick's output takes 12 ms to hand over: each such tick ends two periods late.
        using var slow = new Device(_scratch.Combine("slow"), new UpdateAgentOptions { HealthWindow = TimeSpan.FromMilliseconds(500), MaxMissRatio = 0.05 }, new SlowWhileVersion(2));
        Uri url = Publish("v2", Packages.Options("scale_add_v2.onnx", version: 2), Keys.Alice, Keys.Bob);

        UpdateProgress end = slow.Run(url);
        _output.WriteLine(end.Message);

        Assert.Equal(UpdateStep.RolledBack, end.Step);
        Assert.Equal(UpdateFailure.HealthFailed, end.Failure);
        Assert.Matches(@"loop drive: \d+ of \d+ ticks missed their deadline, more than 5\.0 %; \d+ late ticks by cause: .*overrun \d+, and \d+ periods overrun; the worst \d+\.\d ms late \((overrun|lateWakeup|slowInference) at tick \d+\)", end.Message); // the worst may be a stall of the machine
        Assert.Equal(1, slow.Loop.Model.Version);
    }

    [Fact]
    public void AHealthWindowUnderTheEmergencyStopProvesNothingAndIsNotCommitted()
    {
        Uri url = Publish("v2", Packages.Options("scale_add_v2.onnx", version: 2), Keys.Alice, Keys.Bob);
        _device.Loop.SetSafeOverride(true); // every tick emits the safe output: the new model would never run

        UpdateProgress end = _device.Run(url);

        Assert.Equal(UpdateStep.RolledBack, end.Step);
        Assert.Equal(UpdateFailure.HealthFailed, end.Failure);
        Assert.Contains("never ran", end.Message);
        Assert.Equal(1, _device.Loop.Model.Version);
        Assert.Null(_device.Store.Find("scale_add")?.Active);
    }

    [Fact]
    public void CancelAtValidationEndsCancelledAndNothingIsActivated()
    {
        using var paused = new Device(_scratch.Combine("paused"), new UpdateAgentOptions { HealthWindow = TimeSpan.FromMilliseconds(200), PauseAt = new HashSet<string> { "validate" } });
        Uri url = Publish("v2", Packages.Options("scale_add_v2.onnx", version: 2), Keys.Alice, Keys.Bob);

        string job = paused.Agent.Start(url);
        paused.WaitFor(p => p.Message.StartsWith("paused at validate", StringComparison.Ordinal));
        Assert.True(paused.Agent.Cancel(job));
        UpdateProgress end = paused.WaitForEnd();

        Assert.Equal(UpdateStep.Failed, end.Step);
        Assert.Equal(UpdateFailure.Cancelled, end.Failure);
        Assert.Equal(1, paused.Loop.Model.Version);
        Assert.False(paused.Agent.Cancel(job));
    }

    [Fact]
    public void AJobIdIsNeverUsedTwice()
    {
        Uri url = Publish("v2", Packages.Options("scale_add_v2.onnx", version: 2), Keys.Alice, Keys.Bob);
        string job = _device.Agent.Start(url, "job-1");
        Assert.Equal(UpdateStep.Committed, _device.WaitForEnd().Step);

        var reused = Assert.Throws<ArgumentException>(() => _device.Agent.Start(url, job));
        Assert.Contains("was used by an earlier update", reused.Message);
        Assert.Throws<ArgumentException>(() => _device.Agent.Start(url, "../escape"));
        Assert.Throws<ArgumentException>(() => _device.Agent.Start(new Uri("ftp://127.0.0.1/x.kpkg")));
    }

    [Fact]
    public void ASecondUpdateWhileOneRunsIsBusy()
    {
        using var paused = new Device(_scratch.Combine("busy"), new UpdateAgentOptions { PauseAt = new HashSet<string> { "verify" } });
        Uri url = Publish("v2", Packages.Options("scale_add_v2.onnx", version: 2), Keys.Alice, Keys.Bob);

        string job = paused.Agent.Start(url);
        Assert.Throws<UpdateBusyException>(() => paused.Agent.Start(url));
        paused.Agent.Cancel(job);
        Assert.Equal(UpdateFailure.Cancelled, paused.WaitForEnd().Failure);
    }

    [Fact]
    public void RollBackReturnsToTheProfileModelAndTheRolledBackVersionIsNotInstalledAgain()
    {
        Uri url = Publish("v2", Packages.Options("scale_add_v2.onnx", version: 2), Keys.Alice, Keys.Bob);
        long missesBefore = _device.Loop.Metrics.MissRecords;
        Assert.Equal(UpdateStep.Committed, _device.Run(url).Step);

        string line = _device.Agent.RollBack("scale_add");

        Assert.Contains("v2 -> v1", line);
        Assert.Equal(1, _device.Loop.Model.Version);
        Assert.Null(_device.Store.Find("scale_add")!.Active);
        Assert.Equal(2, _device.Store.Find("scale_add")!.HighestVersion);
        Assert.Throws<InvalidOperationException>(() => _device.Agent.RollBack("scale_add"));
        Assert.Equal(UpdateFailure.VersionNotNewer, _device.Run(url).Failure);
        _device.AssertNoMissOfKairos(missesBefore, _output);
    }

    [Fact]
    public void RecoverFinishesAnInterruptedCommitAndGivesUpAnUncommittedLiveModel()
    {
        Uri url = Publish("v2", Packages.Options("scale_add_v2.onnx", version: 2), Keys.Alice, Keys.Bob);
        using (var first = new Device(_scratch.Combine("crash"), new UpdateAgentOptions { PauseAt = new HashSet<string> { "commit" } }))
        {
            first.Agent.Start(url);
            first.WaitFor(p => p.Message.StartsWith("paused at commit", StringComparison.Ordinal));
        } // the agent stops at commit: what a crash there leaves behind

        using var second = new Device(_scratch.Combine("crash"));
        Assert.Equal(2, second.Loop.Model.Version);
        Assert.Equal(2, second.Store.Find("scale_add")!.Active!.Version);
        Assert.Equal(UpdateStep.Committed, second.Journal.History[0].Step);
        Assert.Equal(1, second.Journal.History[0].Resumes);

        Uri v3 = Publish("v3", Packages.Options("scale_add_v1.onnx", version: 3), Keys.Alice, Keys.Bob);
        using (var third = new Device(_scratch.Combine("crash"), new UpdateAgentOptions { PauseAt = new HashSet<string> { "health" } }))
        {
            third.Agent.Start(v3);
            third.WaitFor(p => p.Message.StartsWith("paused at health", StringComparison.Ordinal));
            Assert.Equal(3, third.Loop.Model.Version);
        }

        using var fourth = new Device(_scratch.Combine("crash"));
        Assert.Equal(2, fourth.Loop.Model.Version);
        Assert.Equal(UpdateStep.RolledBack, fourth.Journal.History[0].Step);
        Assert.Equal("interrupted", fourth.Journal.History[0].Failure);
    }

    private Uri Publish(string name, PackageBuildOptions options, params SigningKey[] signers)
    {
        string directory = _scratch.Combine("packages", name);
        Packages.Make(directory, options, signers);
        return Archive(directory, name);
    }

    private Uri Archive(string directory, string name)
    {
        string archive = _scratch.Combine("served", $"{name}.kpkg");
        PackageArchive.Write(directory, archive);

        // Building the package allocated plenty in this process; collect now, so that the collection it has made due
        // (a pause of every managed thread, the loop's included) is not counted against the update measured next.
        // The loop then ticks a few times, so a tick the collection made late is on record before a test's baseline.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        _device.WaitForTicks(_device.Loop.Metrics.Ticks + 3);
        return new Uri(_server.BaseUri, $"{name}.kpkg");
    }

    private Uri Attack(string attack)
    {
        string directory = _scratch.Combine("packages", "attack");
        PackageBuildOptions v2 = Packages.Options("scale_add_v2.onnx", version: 2);
        switch (attack)
        {
            case "manifest changed after signing":
                Packages.Make(directory, v2, Keys.Alice, Keys.Bob);
                var manifest = Packages.ReadManifest(directory);
                File.WriteAllBytes(Path.Combine(directory, PackagePaths.Manifest), (manifest with { Release = "evil" }).ToUtf8Json());
                break;
            case "too few signatures":
                Packages.Make(directory, v2, Keys.Alice);
                break;
            case "signed by an unknown key":
                Packages.Make(directory, v2, Keys.Mallory);
                break;
            case "model bytes tampered":
                Packages.Make(directory, v2, Keys.Alice, Keys.Bob);
                Packages.FlipByte(Path.Combine(directory, PackagePaths.Model), 100);
                break;
            case "golden vectors tampered":
                Packages.Make(directory, v2, Keys.Alice, Keys.Bob);
                Packages.FlipByte(Path.Combine(directory, "test_data_set_0", "output_0.pb"), 12);
                break;
            case "archive longer than signed":
                Packages.Make(directory, v2, Keys.Alice, Keys.Bob);
                Uri url = Archive(directory, "attack");
                using (var stream = new FileStream(_scratch.Combine("served", "attack.kpkg"), FileMode.Append))
                {
                    stream.Write(new byte[1 << 20]);
                }

                return url;
            case "same version again":
                Packages.Make(directory, Packages.Options("scale_add_v2.onnx", version: 1), Keys.Alice, Keys.Bob);
                break;
            case "older version":
                Packages.Make(directory, Packages.Options("scale_add_v2.onnx", version: 1), Keys.Alice, Keys.Bob);
                _device.Host.BaseVersion = 5;
                break;
            case "expired manifest":
                Packages.Make(directory, v2 with { Expires = Packages.Created.AddHours(1) }, Keys.Alice, Keys.Bob);
                break;
            case "files mixed from two packages":
                Packages.Make(directory, v2, Keys.Alice, Keys.Bob);
                string other = _scratch.Combine("packages", "other");
                Packages.Make(other, Packages.Options("scale_add_v2.onnx", version: 2) with { Seed = 7 }, Keys.Alice, Keys.Bob);
                File.Copy(Path.Combine(other, "test_data_set_0", "input_0.pb"), Path.Combine(directory, "test_data_set_0", "input_0.pb"), overwrite: true);
                break;
            case "wrong board":
                Packages.Make(directory, v2 with { CompatibleBoards = ["atlas-500"] }, Keys.Alice, Keys.Bob);
                break;
            case "wrong input/output signature":
                Packages.Make(directory, Packages.Options("mlp_policy.onnx", "scale_add", 2), Keys.Alice, Keys.Bob);
                break;
            case "golden outputs out of tolerance":
                Packages.Make(directory, v2, Keys.Alice, Keys.Bob);
                TensorFiles.Shift(Path.Combine(directory, "test_data_set_0", "output_0.pb"), 0.5f);
                Packages.Republish(directory, Packages.ReadManifest(directory) with { Files = PackageBuilder.DescribeFiles(directory) }, Keys.Alice, Keys.Bob);
                break;
            case "latency budget missed":
                Packages.Make(directory, v2 with { LatencyBudgetMs = 0.0001 }, Keys.Alice, Keys.Bob);
                break;
            case "model not run by this device":
                Packages.Make(directory, Packages.Options("scale_add_v2.onnx", "pilotnet", 2), Keys.Alice, Keys.Bob);
                break;
            default:
                throw new ArgumentException(attack);
        }

        return Archive(directory, "attack");
    }

    /// <summary>A device: one loop running scale_add v1 (the profile's model) at 200 Hz, its store, journal and agent.</summary>
    private sealed class Device : IDisposable
    {
        private readonly BlockingCollection<UpdateProgress> _reports = new();

        public Device(string stateDirectory, UpdateAgentOptions? options = null, IFrameSink? sink = null)
        {
            // Pinned at SCHED_FIFO as a board profile runs a loop, watched by a witness above it on the same CPU.
            int cpu = Environment.ProcessorCount - 1;
            Witness = StallWitness.Start(cpu, priority: 60);
            var loopOptions = new LoopOptions { Name = "drive", RateHz = 200, Priority = 50, CpuAffinity = [cpu] };
            Host = new TestHost();
            Store = new ModelStore(Path.Combine(stateDirectory, "store"), keepOlder: 1);
            Journal = new UpdateJournal(Path.Combine(stateDirectory, "updates"));
            Agent = new UpdateAgent(
                (options ?? new UpdateAgentOptions()) with
                {
                    HealthWindow = options?.HealthWindow ?? TimeSpan.FromMilliseconds(500),
                    // The shared machine's stalls can miss several percent of a window's ticks (19 ms stalls were seen
                    // in a CI run); the tests hold Kairo to none of its own with AssertNoMissOfKairos, so the window
                    // here only guards against a loop that stops. A ratio a test sets (a window that must fail) is kept.
                    MaxMissRatio = options is { } set && set.MaxMissRatio != new UpdateAgentOptions().MaxMissRatio ? set.MaxMissRatio : 0.25,
                    Download = new DownloadOptions { Attempts = 2, RetryDelay = TimeSpan.FromMilliseconds(50) },
                },
                Packages.Verifier(threshold: 2),
                Store,
                Journal,
                Host,
                p =>
                {
                    Reports.Enqueue(p);
                    _reports.Add(p);
                },
                NullLogger.Instance);
            Agent.Recover();
            ModelSource source = Agent.ActiveModel("scale_add") is var (path, version)
                ? Host.Source("scale_add", path, version.Version, version.Release)
                : Host.ProfileSource("scale_add");
            Loop = new ControlLoop(loopOptions, ModelInstance.Load(source, loopOptions), new SyntheticSource(SyntheticPattern.Constant, 0f), sink is null ? [] : [sink]);
            Host.Loop = Loop;
            Loop.Start();
            WarmUp();
            Agent.ResumeInterrupted();
        }

        public TestHost Host { get; }

        public StallWitness Witness { get; }

        public ModelStore Store { get; }

        public UpdateJournal Journal { get; }

        public UpdateAgent Agent { get; }

        public ControlLoop Loop { get; }

        public ConcurrentQueue<UpdateProgress> Reports { get; } = new();

        public IEnumerable<UpdateStep> Steps => Reports.Select(r => r.Step);

        public ConcurrentQueue<string> Changes => Host.Changes;

        public UpdateProgress Run(Uri url)
        {
            while (_reports.TryTake(out _))
            {
            }

            Reports.Clear();
            Agent.Start(url);
            return WaitForEnd();
        }

        public UpdateProgress WaitForEnd() => WaitFor(p => p.Finished);

        public UpdateProgress WaitFor(Func<UpdateProgress, bool> match)
        {
            var seen = new List<string>();
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (_reports.TryTake(out UpdateProgress? progress, until - DateTime.UtcNow is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero))
            {
                if (match(progress))
                {
                    return progress;
                }

                seen.Add($"{progress.Step.ToName()}: {progress.Message}");
            }

            throw new TimeoutException($"no such progress within 60 s; saw: {string.Join(" | ", seen)}");
        }

        /// <summary>Asserts every tick missed since <paramref name="missesBefore"/> fell in a stall of the machine.</summary>
        public void AssertNoMissOfKairos(long missesBefore, ITestOutputHelper output)
        {
            Assert.Empty(Loop.Warnings);
            MissAudit.AssertOnlyMachineStalls(Loop.Metrics, missesBefore, Witness, output);
        }

        /// <summary>Lets the loop's first ticks (JIT, first runs) pass, so that misses counted from here are the update's.</summary>
        private void WarmUp() => WaitForTicks(40);

        public void WaitForTicks(long ticks)
        {
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (Loop.Metrics.Ticks < ticks && DateTime.UtcNow < until)
            {
                Thread.Sleep(5); // the loop has no tick event to wait on; polling its counter is the way to observe it
            }
        }

        public void Dispose()
        {
            Agent.Dispose();
            Loop.Dispose();
            Loop.Model.Dispose();
            Witness.Dispose();
        }
    }

    /// <summary>Holds the loop thread 12 ms on every 10th tick of one model version: ticks that end periods late.</summary>
    private sealed class SlowWhileVersion(long version) : IFrameSink
    {
        public string Description => "slow";

        public SinkCounters Counters { get; } = new();

        public void Open(FrameLayout layout)
        {
        }

        public void Write(in TickFrame tick, ReadOnlySpan<byte> outputs)
        {
            if (tick.ModelVersion == version && tick.Sequence % 10 == 0)
            {
                Thread.Sleep(12);
            }
        }

        public void Dispose()
        {
        }
    }

    private sealed class TestHost : IUpdateHost
    {
        public ControlLoop? Loop { get; set; }

        public long BaseVersion { get; set; } = 1;

        public ConcurrentQueue<string> Changes { get; } = new();

        public string Board => "generic-x64";

        public string KairoVersion => "0.1.0";

        public string OnnxRuntimeVersion => OnnxRuntimeLibrary.Version;

        public IReadOnlyList<ControlLoop> LoopsOf(string model) => model == "scale_add" && Loop is not null ? [Loop] : [];

        public long ProfileVersion(string model) => model == "scale_add" ? BaseVersion : 0;

        public SessionOptions SessionOptions(string model, long version) => new() { IntraOpThreads = 1, InterOpThreads = 1, LogSeverity = 4, AllowSpinning = false };

        public ModelSource Source(string model, string path, long version, string release) => new(model, path, null, SessionOptions(model, version), version, release);

        public ModelSource ProfileSource(string model) => Source(model, Repo.Model("scale_add_v1.onnx"), 1, "profile");

        public void ModelChanged(ControlLoop loop, string eventType, string previous) => Changes.Enqueue($"{eventType} {loop.Model.Name} v{loop.Model.Version} from {previous}");
    }
}

[CollectionDefinition(UpdateAgentTests.Alone, DisableParallelization = true)]
public sealed class UpdateAgentCollection;
