using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Kairo.EndToEnd.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class UpdateCrashes
{
    /// <summary>Dozens of daemons started and killed on a small machine: run alone, so that no other class's timing suffers, nor theirs.</summary>
    public const string Name = "AOT kairod killed during updates";
}

/// <summary>
/// The crash safety of over-the-air updates on the published AOT kairod: at every journal step and in the middle of
/// the download and of the store write (KAIRO_UPDATE_PAUSE), the daemon is killed with SIGKILL, three times each. What
/// it left on disk is checked as the kill left it (the journal names the step, every package under store/packages is
/// whole), then it is restarted on the same state directory: it must start, run exactly one version of the model,
/// the one its journal decides (an update that had not gone live resumes and commits, an interrupted commit is
/// finished before the loop loads, a live but uncommitted one is rolled back as interrupted), and never a byte that
/// was half-written.
/// </summary>
[Collection(UpdateCrashes.Name)]
public sealed class UpdateCrashTests(UpdateCrashTests.Release release) : IClassFixture<UpdateCrashTests.Release>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>Every pause point: the steps, each just after the journal has it, and the middles of the download and of the store write.</summary>
    private static readonly string[] Points = ["download", "download.body", "verify", "stage", "stage.write", "validate", "activate", "health", "commit"];

    public static TheoryData<string, int> Crashes()
    {
        var cases = new TheoryData<string, int>();
        foreach (string point in Points)
        {
            for (int run = 1; run <= 3; run++)
            {
                cases.Add(point, run);
            }
        }

        return cases;
    }

    [Theory]
    [MemberData(nameof(Crashes))]
    public void KilledAtAPoint_RestartsOnOneWholeModel_AndTheUpdateEndsAsItsJournalSays(string point, int run)
    {
        var crash = new Crash(point);
        string id = $"crash-{point}-{run}"; // the device's id and the job's
        string path = $"{id}/add-v2.kpkg";
        using var device = new Device(release, id);

        // 1. The update pauses at the point; the daemon is killed there.
        using (var daemon = device.Start(pause: point))
        {
            device.WaitForOnline(seq: 1, daemon);
            JsonObject started = device.Command("ota.start", $"url={release.Server.Url(path)}", $"jobId={id}");
            Assert.Equal(id, (string?)started["jobId"]);
            daemon.WaitForLine(l => l.Contains($"update {id}: paused at {point} (KAIRO_UPDATE_PAUSE)", StringComparison.Ordinal), Patience);
            Assert.Equal(crash.LiveVersion, RunningVersion(device.Command("status")));
            daemon.Signal(DaemonProcess.SIGKILL);
            Assert.Equal(128 + DaemonProcess.SIGKILL, daemon.WaitForExit(Patience));
        }

        // 2. What the kill left: the journal at the step, the part file as far as it got, only whole packages stored.
        JsonObject journal = ReadJson(device.Updates("current.json"));
        Assert.Equal(id, (string?)journal["jobId"]);
        Assert.Equal(crash.Step, (string?)journal["step"]);
        Assert.Equal(point == "download" ? null : 2L, (long?)journal["version"]); // the manifest is judged before the body comes
        Assert.Equal(crash.Staged ? release.Digest : null, (string?)journal["digest"]);

        string part = device.Updates($"{id}.kpkg.part");
        long partLength = File.Exists(part) ? new FileInfo(part).Length : -1;
        switch (crash.Part)
        {
            case PartFile.None:
                Assert.False(File.Exists(part), $"{part} exists before the download started");
                break;
            case PartFile.Partial:
                Assert.True(partLength > 0 && partLength < release.Archive.Length, $"{part} holds {partLength} of {release.Archive.Length} bytes; the kill was meant to land mid-transfer");
                Assert.Equal(release.Archive[..(int)partLength], File.ReadAllBytes(part));
                break;
            case PartFile.Whole:
                Assert.Equal(release.Archive, File.ReadAllBytes(part));
                break;
        }

        string[] staged = crash.Staged ? [release.Digest] : [];
        Assert.Equal(staged, WholePackages(device.State));
        string[] tmp = Directory.GetFileSystemEntries(device.Store("tmp"));
        if (point == "stage.write")
        {
            Assert.True(tmp.Length > 0, "the kill at stage.write left no half-written copy in store/tmp: the pause is not inside the write");
        }
        else
        {
            Assert.Empty(tmp);
        }

        Assert.Null(ActiveVersion(device.State)); // nothing committed yet, not even at the commit step
        IReadOnlyList<PackageRequest> before = release.Server.RequestsFor(path);
        Assert.Equal(point == "download" ? 0 : 1, before.Count);
        Assert.All(before, r => Assert.True(r.Range is null && r.Status == 200, r.ToString()));

        // 3. The restart settles or resumes the update as the journal says.
        using (var daemon = device.Start(pause: null))
        {
            // A settled update ends before the loop loads, which then runs the journal's version; a resumed one starts
            // after the loop runs the old version. Lines are taken in order, but info goes to stdout and warnings (a
            // rollback) to stderr, read apart: only the committed line can be ordered against the loop's.
            string end, load;
            if (crash.SettledAtStart)
            {
                string first = daemon.WaitForLine(l => crash.IsEnd(l, id) || IsLoad(l), Patience);
                string second = daemon.WaitForLine(l => IsLoad(first) ? crash.IsEnd(l, id) : IsLoad(l), Patience);
                (end, load) = IsLoad(first) ? (second, first) : (first, second);
                Assert.True(crash.RolledBack || end == first, $"the commit was finished after the loop loaded; kairod:\n{daemon.Output}");
            }
            else
            {
                load = daemon.WaitForLine(IsLoad, Patience);
                daemon.WaitForLine(l => l.Contains($"update {id}: resuming", StringComparison.Ordinal), Patience);
                end = daemon.WaitForLine(l => crash.IsEnd(l, id), Patience);
            }

            Assert.True(end.Contains(crash.EndLine(id), StringComparison.Ordinal), $"expected '{crash.EndLine(id)}...'; kairod:\n{daemon.Output}");
            Assert.True(load.Contains($"loop drive: add v{(crash.SettledAtStart ? crash.Version : 1)} at 200 Hz", StringComparison.Ordinal), $"kairod:\n{daemon.Output}");
            int online = device.WaitForOnline(seq: 2, daemon);

            // Exactly one version of the model runs, the journal's, and it is the one installed.json names.
            Assert.Equal(crash.Version, RunningVersion(device.Command("status")));
            JsonObject status = device.Command("ota.status");
            Assert.Null(status["running"]);
            JsonNode last = status["history"]![0]!;
            Assert.Equal(id, (string?)last["jobId"]);
            Assert.Equal(crash.End, (string?)last["step"]);
            Assert.Equal(crash.RolledBack ? "interrupted" : null, (string?)last["failure"]);
            Assert.Equal(1, (int)last["resumes"]!);
            JsonNode model = status["models"]!.AsArray().Single()!;
            Assert.Equal(crash.Version, (long)model["active"]!["version"]!);
            Assert.Equal(crash.RolledBack ? "profile" : "store", (string?)model["active"]!["source"]);
            Assert.Equal(crash.RolledBack ? null : ((long, string)?)(crash.Version, release.Digest), ActiveVersion(device.State));
            device.CheckOutputs(online, crash.SettledAtStart ? [crash.Version] : [1, 2], crash.Version);

            // Nothing left over: no journal entry, no part file, no scratch, no half-written copy; every package whole.
            Assert.Equal(new[] { "history.jsonl" }, Directory.GetFileSystemEntries(device.Updates("")).Select(Path.GetFileName));
            Assert.Empty(Directory.GetFileSystemEntries(device.Store("tmp")));
            string[] kept = crash.RolledBack ? [] : [release.Digest]; // a rolled-back package leaves the store, as after a live rollback
            Assert.Equal(kept, WholePackages(device.State));

            // The restart fetched only what the part file lacked.
            List<PackageRequest> after = release.Server.RequestsFor(path).Skip(before.Count).ToList();
            switch (crash.Part)
            {
                case PartFile.None:
                    Assert.True(Assert.Single(after) is { Range: null, Status: 200 }, after[0].ToString());
                    break;
                case PartFile.Partial:
                    Assert.Equal(($"bytes={partLength}-", 206, partLength), (Assert.Single(after).Range, after[0].Status, after[0].From));
                    break;
                case PartFile.Whole when !crash.SettledAtStart:
                    Assert.Equal(($"bytes={release.Archive.Length}-", 416), (Assert.Single(after).Range, after[0].Status));
                    break;
                default:
                    Assert.Empty(after);
                    break;
            }

            Assert.DoesNotContain(daemon.Output.Split('\n'), l => l.Contains("not whole", StringComparison.Ordinal) || l.Contains("damaged", StringComparison.Ordinal));

            // Cleanly rolled back: the same package installs afterwards, and then runs.
            if (crash.RolledBack)
            {
                string again = $"{id}-again";
                device.Command("ota.start", $"url={release.Server.Url($"{again}/add-v2.kpkg")}", $"jobId={again}");
                string againEnd = daemon.WaitForLine(l => crash.IsEnd(l, again), Patience);
                Assert.True(againEnd.Contains($"update {again}: committed: ", StringComparison.Ordinal), $"kairod:\n{daemon.Output}");
                Assert.Equal(2L, RunningVersion(device.Command("status")));
                Assert.Equal(((long, string)?)(2L, release.Digest), ActiveVersion(device.State));
                Assert.Equal(new[] { release.Digest }, WholePackages(device.State));
                device.CheckOutputs(online, [1, 2], 2);
            }
        }
    }

    private static bool IsLoad(string line) => line.Contains("loop drive: add v", StringComparison.Ordinal);

    /// <summary>The version the one loop runs, from the reply to status: one loop, running, on model add.</summary>
    private static long RunningVersion(JsonObject status)
    {
        JsonNode loop = status["loops"]!.AsArray().Single()!;
        Assert.Equal("drive", (string?)loop["name"]);
        Assert.Equal("running", (string?)loop["state"]);
        Assert.Equal("add", (string?)loop["model"]!["name"]);
        return (long)loop["model"]!["version"]!;
    }

    /// <summary>installed.json's active version of add and its digest, or null when none (the profile's model runs).</summary>
    private static (long Version, string Digest)? ActiveVersion(string state)
    {
        string installed = Path.Combine(state, "store", "installed.json");
        if (!File.Exists(installed))
        {
            return null;
        }

        JsonNode? active = ReadJson(installed)["models"]?["add"]?["active"];
        return active is null ? null : ((long)active["version"]!, (string)active["digest"]!);
    }

    /// <summary>
    /// The digests under store/packages, in order; fails unless each package there is whole: named by its
    /// manifest.json's SHA-256, every listed file present with its signed length and SHA-256, nothing unlisted.
    /// </summary>
    private static List<string> WholePackages(string state)
    {
        string packages = Path.Combine(state, "store", "packages");
        var digests = new List<string>();
        foreach (string directory in Directory.GetFileSystemEntries(packages).Order(StringComparer.Ordinal))
        {
            Assert.True(Directory.Exists(directory), $"{directory} is not a directory");
            string manifest = Path.Combine(directory, "manifest.json");
            Assert.True(File.Exists(manifest), $"{directory} has no manifest.json: a half-written package under packages/");
            byte[] manifestBytes = File.ReadAllBytes(manifest);
            Assert.Equal(Path.GetFileName(directory), Convert.ToHexStringLower(SHA256.HashData(manifestBytes)));
            var listed = new HashSet<string>(StringComparer.Ordinal) { "manifest.json", "signatures.json" };
            foreach (JsonNode? file in JsonNode.Parse(manifestBytes)!["files"]!.AsArray())
            {
                string relative = (string)file!["path"]!;
                string full = Path.Combine(directory, relative);
                Assert.True(File.Exists(full), $"{full} is missing from a stored package");
                byte[] bytes = File.ReadAllBytes(full);
                Assert.True((long)file["length"]! == bytes.LongLength, $"{full} holds {bytes.LongLength} bytes; its manifest says {file["length"]}");
                Assert.True((string?)file["sha256"] == Convert.ToHexStringLower(SHA256.HashData(bytes)), $"{full} is not the bytes its manifest signed");
                listed.Add(relative);
            }

            string[] unlisted = Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(directory, f)).Where(f => !listed.Contains(f)).ToArray();
            Assert.True(unlisted.Length == 0, $"{directory} holds files its manifest does not list: {string.Join(", ", unlisted)}");
            digests.Add(Path.GetFileName(directory));
        }

        return digests;
    }

    private static JsonObject ReadJson(string path)
    {
        Assert.True(File.Exists(path), $"{path} is missing");
        return JsonNode.Parse(File.ReadAllText(path))!.AsObject();
    }

    private enum PartFile
    {
        None,
        Partial,
        Whole,
    }

    /// <summary>What a kill at a pause point leaves, and how the restart must end the update.</summary>
    private sealed class Crash(string point)
    {
        /// <summary>The step the journal holds at the point.</summary>
        public string Step { get; } = point switch
        {
            "download.body" => "download",
            "stage.write" => "stage",
            _ => point,
        };

        /// <summary>The journal's last word: the new version went live and was not committed, so it is given up.</summary>
        public bool RolledBack => Step is "activate" or "health";

        /// <summary>Ended by the restart before any loop loads (as opposed to resumed once the loop runs).</summary>
        public bool SettledAtStart => RolledBack || Step == "commit";

        public string End => RolledBack ? "rolled_back" : "committed";

        /// <summary>The version the device runs once the update ended.</summary>
        public long Version => RolledBack ? 1 : 2;

        /// <summary>The version running when the daemon is killed: the new one from the health window on.</summary>
        public long LiveVersion => Step is "health" or "commit" ? 2 : 1;

        /// <summary>The package is in store/packages (and its digest in the journal) from validate on.</summary>
        public bool Staged => Step is "validate" or "activate" or "health" or "commit";

        public PartFile Part => point switch
        {
            "download" => PartFile.None,
            "download.body" => PartFile.Partial,
            _ => PartFile.Whole,
        };

        public string EndLine(string id) => RolledBack ? $"update {id}: rolled_back [interrupted]: " : $"update {id}: committed: ";

        public bool IsEnd(string line, string id) =>
            line.Contains($"update {id}: committed", StringComparison.Ordinal)
            || line.Contains($"update {id}: failed", StringComparison.Ordinal)
            || line.Contains($"update {id}: rolled_back", StringComparison.Ordinal);
    }

    /// <summary>
    /// One device of a case: a temporary directory with its profile (loop drive on add, scale_add_v1 as version 1, at
    /// 200 Hz on a constant 0, safe output -1, its outputs on MQTT every 20 ticks; updates trusting the release key, a 1 s health
    /// window) and its state directory, and a watch on its topics from before its first start.
    /// </summary>
    private sealed class Device : IDisposable
    {
        private readonly Release _release;
        private readonly string _directory = Directory.CreateTempSubdirectory("kairo-crash-").FullName;
        private readonly string _profile;

        public Device(Release release, string id)
        {
            _release = release;
            Id = id;
            State = Path.Combine(_directory, "state");
            _profile = Path.Combine(_directory, "profile.json");
            File.Copy(release.PublicKey, Path.Combine(_directory, "rel.pub"));

            // The health window checks deadline misses, which this crowded test machine makes at will; they are not
            // what is tested here, so a miss ratio of 0.5 lets a slow second pass without hiding a dead model.
            File.WriteAllText(_profile, $$"""
                {
                  "board": "e2e-crash",
                  "log": { "metricsIntervalSeconds": 0 },
                  "models": [ { "name": "add", "path": "{{Path.Combine(Bundle.Directory, "models", "scale_add_v1.onnx")}}", "version": 1 } ],
                  "loops": [ { "name": "drive", "model": "add", "rateHz": 200,
                               "safeOutput": { "y": [-1] },
                               "source": { "type": "synthetic", "pattern": "constant", "value": 0 },
                               "sinks": [ { "type": "mqtt", "everyTicks": 20 } ] } ],
                  "updates": { "trustedKeys": [ "rel.pub" ], "healthWindowSeconds": 1, "maxMissRatio": 0.5 }
                }
                """);
            Watch = MosquittoWatch.Start(release.Broker, $"kairo/{id}/#");
        }

        public string Id { get; }

        public string State { get; }

        public MosquittoWatch Watch { get; }

        public string Updates(string name) => Path.Combine(State, "updates", name);

        public string Store(string name) => Path.Combine(State, "store", name);

        /// <summary>Starts the AOT kairod on this device's profile and state; <paramref name="pause"/> sets KAIRO_UPDATE_PAUSE (null: unset, empty).</summary>
        public DaemonProcess Start(string? pause) => DaemonProcess.Start(
            new Dictionary<string, string> { ["KAIRO_UPDATE_PAUSE"] = pause ?? "" },
            "--config", _profile, "--broker", _release.Broker.Url, "--device-id", Id, "--state-dir", State);

        /// <summary>Waits for the state online of the start with this birth sequence; returns its place in the watch.</summary>
        public int WaitForOnline(long seq, DaemonProcess daemon) => Watch.WaitFor(
            m => m.Topic == $"kairo/{Id}/state" && (string?)m.Json["state"] == "online" && (long?)m.Json["seq"] == seq,
            $"{Id} online with seq {seq}\nkairod:\n{daemon.Output}", Patience).Index;

        /// <summary>Runs <c>kairoctl cmd</c> against this device; it must succeed. Returns the reply's data.</summary>
        public JsonObject Command(string name, params string[] arguments)
        {
            ProcessResult result = Bundle.Run("kairoctl", ["cmd", "--device", Id, "--broker", _release.Broker.Url, "--timeout", "10", name, .. arguments], Patience);
            Assert.True(result.ExitCode == 0, result.ToString());
            JsonObject reply = JsonNode.Parse(result.Stdout)!.AsObject();
            Assert.True((bool)reply["ok"]!, result.ToString());
            return reply["data"]!.AsObject();
        }

        /// <summary>
        /// The outputs of the start whose online state is at <paramref name="from"/>: each fresh frame's values are its
        /// model version (scale_add vN adds N to 0), a safe one's -1, the versions come in the order <paramref name="allowed"/> gives, and the
        /// newest frame is from <paramref name="now"/>.
        /// </summary>
        public void CheckOutputs(int from, long[] allowed, long now)
        {
            string topic = $"kairo/{Id}/outputs/drive";
            MosquittoMessage newest = Watch.WaitFor(m => m.Topic == topic, $"an output of {Id}", Patience, Watch.Count);
            IReadOnlyList<MosquittoMessage> outputs = Watch.Between(from, newest.Index + 1).Where(m => m.Topic == topic).ToList();
            int step = 0;
            foreach (MosquittoMessage output in outputs)
            {
                long version = (long)output.Json["modelVersion"]!;
                float expected = (string?)output.Json["output"] == "safe" ? -1 : version; // a missed deadline emits the safe output
                float[] y = output.Json["outputs"]!["y"]!.AsArray().Select(v => (float)v!).ToArray();
                Assert.True(y.Length == 4 && y.All(v => v == expected), $"model version {version} gave [{string.Join(", ", y)}] for 0: {output}");
                while (step < allowed.Length && allowed[step] != version)
                {
                    step++;
                }

                Assert.True(step < allowed.Length, $"output of v{version} out of the expected order {string.Join(" then ", allowed.Select(v => $"v{v}"))}:\n{string.Join('\n', outputs)}");
            }

            Assert.Equal(now, (long)newest.Json["modelVersion"]!);
        }

        public void Dispose()
        {
            Watch.Dispose();
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>
    /// What the class shares: one broker, a release key, add v2 (scale_add_v2.onnx) packed with two golden sets and
    /// signed by kairoctl, and the throttled server that hands it out (512 bytes every 30 ms: about 0.7 s a download).
    /// </summary>
    public sealed class Release : IDisposable
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("kairo-crash-release-").FullName;

        public Release()
        {
            string key = Path.Combine(_directory, "rel");
            string package = Path.Combine(_directory, "add-v2");
            Kairoctl("keygen", "--out", key);
            Kairoctl("pack", Path.Combine(Bundle.Directory, "models", "scale_add_v2.onnx"), "--name", "add", "--version", "2", "--generate", "2", "--out", package, "--tar");
            Kairoctl("sign", package + ".kpkg", "--key", key + ".key");
            PublicKey = key + ".pub";
            Archive = File.ReadAllBytes(package + ".kpkg");
            Digest = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(package, "manifest.json"))));
            Broker = TestBroker.Start();
            Server = new ThrottledPackageServer(Archive, chunkBytes: 512, chunkDelay: TimeSpan.FromMilliseconds(30));
        }

        public string PublicKey { get; }

        public byte[] Archive { get; }

        /// <summary>The store's name for the package: the SHA-256 of its manifest.json.</summary>
        public string Digest { get; }

        internal TestBroker Broker { get; }

        internal ThrottledPackageServer Server { get; }

        public void Dispose()
        {
            Server.Dispose();
            Broker.Dispose();
            Directory.Delete(_directory, recursive: true);
        }

        private static void Kairoctl(params string[] arguments)
        {
            ProcessResult result = Bundle.Run("kairoctl", arguments, Patience);
            Assert.True(result.ExitCode == 0, result.ToString());
        }
    }
}
