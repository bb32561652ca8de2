using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Kairo.EndToEnd.Tests;

/// <summary>
/// scripts/deploy against a real sshd on 127.0.0.1 (the "board" is this machine, reached over SSH as root), with the
/// published bundle and --service-manager none: install, switch, a refused profile, a rollback, pruning, the scp upload
/// and the other readiness listeners, and a dry run that touches nothing.
/// </summary>
public sealed class DeployTests : IClassFixture<DeployTests.Board>, IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly Board _board;
    private readonly string _dir;

    public DeployTests(Board board)
    {
        _board = board;
        _dir = Directory.CreateTempSubdirectory("kairo-deploy-").FullName;
    }

    private string Prefix => Path.Combine(_dir, "opt", "kairo");

    private string StateDir => Path.Combine(_dir, "state");

    private string PidFile => Path.Combine(StateDir, "kairod.pid");

    private string LogFile => Path.Combine(StateDir, "kairod.log");

    public void Dispose()
    {
        // Whatever happened, no kairod (or listener) of this test outlives it.
        foreach (string file in new[] { PidFile, Path.Combine(StateDir, "kairod.listener.pid") })
        {
            if (File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), out int pid))
            {
                KillIfOurs(pid);
            }
        }

        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public void DeployInstallsSwitchesRefusesABadProfileRollsBackAFailedStartAndKeepsThreeReleases()
    {
        string profile = WriteProfile("e2e-deploy", """{ "type": "synthetic", "pattern": "wave" }""", "scale_add_v1");

        // 1. A first release: installed, current, and running with its log showing ticks.
        var first = Deploy("--profile", profile);
        Assert.True(first.ExitCode == 0, first.ToString());
        string release1 = CurrentRelease();
        string release1Dir = Path.Combine(Prefix, "releases", release1);
        foreach (string file in new[] { "kairod", "libonnxruntime.so.1", "models/scale_add_v1.onnx", "firmware-config/e2e-deploy.json" })
        {
            Assert.True(File.Exists(Path.Combine(release1Dir, file)), $"{file} is not in {release1Dir}\n{first}");
        }

        Assert.False(File.Exists(Path.Combine(Prefix, "previous")) || Directory.Exists(Path.Combine(Prefix, "previous")));
        int pid1 = RunningKairod(release1, first);
        Assert.Contains("READY=1", first.Stdout);

        // 2. A second release: current moves to it, previous to the first; the new kairod replaced the old one.
        var second = Deploy("--profile", profile);
        Assert.True(second.ExitCode == 0, second.ToString());
        string release2 = CurrentRelease();
        Assert.NotEqual(release1, release2);
        Assert.Equal(release1, PreviousRelease());
        int pid2 = RunningKairod(release2, second);
        Assert.False(IsAlive(pid1), $"the first kairod (pid {pid1}) still runs\n{second}");

        // 3. A profile whose model does not exist: refused on the board by kairod --check-config before anything
        //    changes; the running kairod is not even restarted.
        string missing = WriteProfile("e2e-missing", """{ "type": "synthetic", "pattern": "wave" }""", "no_such_model");
        var refused = Deploy("--profile", missing);
        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Contains("no_such_model.onnx' does not exist", refused.Stdout);
        Assert.Equal(release2, CurrentRelease());
        Assert.Equal(release1, PreviousRelease());
        Assert.Equal(pid2, ReadPid());
        Assert.True(IsAlive(pid2), refused.ToString());
        Assert.Equal(2, Releases().Length);

        // 4. A release that passes the check but cannot start (its UDP source port is taken): kairod exits 1 before
        //    READY=1, so the deploy switches back to the second release and starts it again.
        string busy;
        using (var taken = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0)))
        {
            int port = ((IPEndPoint)taken.Client.LocalEndPoint!).Port;
            busy = WriteProfile("e2e-busy", $$"""{ "type": "udp", "address": "127.0.0.1:{{port}}" }""", "scale_add_v1");
            var failed = Deploy("--profile", busy);
            Assert.True(failed.ExitCode == 1, failed.ToString());
            Assert.Contains("kairod exited with status 1 before it was ready", failed.Stdout);
            Assert.Contains("Address already in use", failed.Stdout); // the reason, from the failed kairod's log
            Assert.Contains($"rolled back to {release2}, which runs again", failed.Stderr);
        }

        Assert.Equal(release2, CurrentRelease());
        Assert.Equal(release1, PreviousRelease());
        int pid3 = RunningKairod(release2, null);
        Assert.NotEqual(pid2, pid3);
        Assert.Equal(3, Releases().Length); // the failed release stays for a post-mortem until it is pruned

        // 5. Another good release: the oldest release goes, three remain (the newest three hold current and previous).
        var fifth = Deploy("--profile", profile);
        Assert.True(fifth.ExitCode == 0, fifth.ToString());
        string release5 = CurrentRelease();
        Assert.Equal(release2, PreviousRelease());
        RunningKairod(release5, fifth);
        Assert.Contains($"removed old release {release1}", fifth.Stdout);
        Assert.Equal(3, Releases().Length);
        Assert.False(Directory.Exists(release1Dir));
    }

    [Fact]
    public void ScpUploadAndThePerlAndLogReadinessMethodsWorkToo()
    {
        string profile = WriteProfile("e2e-deploy", """{ "type": "synthetic", "pattern": "constant", "value": 0.5 }""", "scale_add_v2");

        var scp = DeployWith(new() { ["KAIRO_DEPLOY_UPLOAD"] = "scp", ["KAIRO_DEPLOY_READINESS"] = "perl" }, "--profile", profile);
        Assert.True(scp.ExitCode == 0, scp.ToString());
        Assert.Contains("(scp)", scp.Stdout);
        Assert.Contains("(perl listener", scp.Stdout);
        RunningKairod(CurrentRelease(), scp);

        var log = DeployWith(new() { ["KAIRO_DEPLOY_READINESS"] = "log" }, "--profile", profile);
        Assert.True(log.ExitCode == 0, log.ToString());
        Assert.Contains("its first tick is in the log", log.Stdout);
        RunningKairod(CurrentRelease(), log);
    }

    [Fact]
    public void DryRunPrintsTheCommandsAndTouchesNothing()
    {
        int accepted = _board.AcceptedLogins;
        var dry = Deploy("--dry-run", "--profile", WriteProfile("e2e-deploy", """{ "type": "synthetic" }""", "scale_add_v1"));
        Assert.True(dry.ExitCode == 0, dry.ToString());
        Assert.Contains("$ rsync ", dry.Stdout);
        Assert.Contains($"root@127.0.0.1:{Prefix}/releases/.incoming-", dry.Stdout);
        Assert.Contains("sh -c <script>", dry.Stdout);
        Assert.Contains("start_checked", dry.Stdout);
        Assert.False(Directory.Exists(Path.Combine(_dir, "opt")), dry.ToString());
        Assert.Equal(accepted, _board.AcceptedLogins);
    }

    /// <summary>A profile in the test directory: one loop at 50 Hz on a model found through ../models, a log sink.</summary>
    private string WriteProfile(string name, string source, string model)
    {
        string path = Path.Combine(_dir, name + ".json");
        File.WriteAllText(path, $$"""
            {
              "board": "e2e-deploy",
              "log": { "metricsIntervalSeconds": 0 },
              "models": [ { "name": "add", "path": "../models/{{model}}.onnx", "version": 1 } ],
              "loops": [ { "name": "e2e", "model": "add", "rateHz": 50,
                           "source": {{source}},
                           "sinks": [ { "type": "log", "everyTicks": 25 } ] } ]
            }
            """);
        return path;
    }

    private ProcessResult Deploy(params string[] arguments) => DeployWith([], arguments);

    private ProcessResult DeployWith(Dictionary<string, string> environment, params string[] arguments)
    {
        string script = Path.Combine(Bundle.RepoRoot, "scripts", "deploy");
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = _dir,
        };
        start.ArgumentList.Add(script);
        foreach (string a in new[]
        {
            "--service-manager", "none", "--port", _board.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--identity", _board.ClientKey, "--prefix", Prefix, "--state-dir", StateDir, "--bundle", Bundle.Directory,
            "--timeout", "60",
        }.Concat(arguments).Append("127.0.0.1"))
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["KAIRO_SSH_OPTS"] =
            "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o IdentitiesOnly=yes";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        string commandLine = $"scripts/deploy {string.Join(' ', start.ArgumentList.Skip(1))}";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {commandLine}");
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        TimeSpan limit = TimeSpan.FromMinutes(4);
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{commandLine} did not finish within {limit.TotalMinutes} min\nstdout:\n{stdout.Result}\nstderr:\n{stderr.Result}\nsshd:\n{_board.Output}");
        }

        process.WaitForExit();
        return new ProcessResult(commandLine, process.ExitCode, stdout.Result, stderr.Result);
    }

    private string CurrentRelease() => ReleaseOf("current");

    private string PreviousRelease() => ReleaseOf("previous");

    private string ReleaseOf(string link)
    {
        var info = new FileInfo(Path.Combine(Prefix, link));
        Assert.True(info.LinkTarget is not null, $"{info.FullName} is not a symbolic link");
        Assert.StartsWith("releases/", info.LinkTarget);
        return Path.GetFileName(info.LinkTarget);
    }

    private string[] Releases() =>
        Directory.GetDirectories(Path.Combine(Prefix, "releases")).Select(Path.GetFileName).Where(n => !n!.StartsWith('.')).ToArray()!;

    private int ReadPid()
    {
        Assert.True(File.Exists(PidFile), $"{PidFile} is missing");
        return int.Parse(File.ReadAllText(PidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The pid file names a live kairod whose binary is the given release's, and its log (started afresh by the
    /// deploy) shows ticks. Returns its pid.
    /// </summary>
    private int RunningKairod(string release, ProcessResult? deploy)
    {
        int pid = ReadPid();
        string context = deploy?.ToString() ?? "";
        Assert.True(IsAlive(pid), $"kairod (pid {pid}) does not run\n{context}");
        string? exe = new FileInfo($"/proc/{pid}/exe").LinkTarget;
        Assert.Equal(Path.Combine(Prefix, "releases", release, "kairod"), exe);

        var until = Stopwatch.StartNew();
        while (!File.ReadAllText(LogFile).Contains("loop e2e: tick", StringComparison.Ordinal))
        {
            Assert.True(until.Elapsed < Patience, $"no tick in {LogFile} within {Patience.TotalSeconds} s:\n{File.ReadAllText(LogFile)}\n{context}");
            Thread.Sleep(50);
        }

        return pid;
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            // A zombie is not alive: its /proc/PID/stat says Z.
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            char state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Kills a process started for this test: one whose command line names this test's directory.</summary>
    private void KillIfOurs(int pid)
    {
        try
        {
            if (!File.ReadAllText($"/proc/{pid}/cmdline").Contains(_dir, StringComparison.Ordinal))
            {
                return;
            }

            using var process = Process.GetProcessById(pid);
            process.Kill();
            process.WaitForExit(5000);
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
        }
    }

    /// <summary>
    /// The "board": /usr/sbin/sshd as root on a free 127.0.0.1 port, with a generated host key, a generated client key
    /// as the only authorized key, and a configuration in a temporary directory; ready once it accepts a connection.
    /// </summary>
    public sealed class Board : IDisposable
    {
        private const string Sshd = "/usr/sbin/sshd";
        private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);

        private readonly string _dir;
        private readonly ConcurrentQueue<string> _output = new();
        private Process? _process;

        public Board()
        {
            Assert.True(File.Exists(Sshd), $"{Sshd} is missing: scripts/setup installs openssh-server");
            Assert.True(Environment.UserName == "root", "the deploy tests run sshd as root and log in as root: run them as root (CI does)");
            _dir = Directory.CreateTempSubdirectory("kairo-sshd-").FullName;
            Directory.CreateDirectory("/run/sshd"); // sshd's privilege separation directory
            string hostKey = Path.Combine(_dir, "host_key");
            ClientKey = Path.Combine(_dir, "client_key");
            KeyGen(hostKey);
            KeyGen(ClientKey);
            string authorized = Path.Combine(_dir, "authorized_keys");
            File.Copy(ClientKey + ".pub", authorized);

            string failures = "";
            for (int attempt = 0; attempt < 5; attempt++)
            {
                Port = LoopbackPort.Free();
                string config = Path.Combine(_dir, "sshd_config");
                File.WriteAllText(config, $"""
                    ListenAddress 127.0.0.1
                    Port {Port}
                    HostKey {hostKey}
                    PidFile {Path.Combine(_dir, "sshd.pid")}
                    AuthorizedKeysFile {authorized}
                    PermitRootLogin prohibit-password
                    PasswordAuthentication no
                    KbdInteractiveAuthentication no
                    StrictModes no
                    UsePAM no
                    Subsystem sftp /usr/lib/openssh/sftp-server

                    """);
                var info = new ProcessStartInfo(Sshd, ["-D", "-e", "-f", config])
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                };
                _process = Process.Start(info) ?? throw new InvalidOperationException($"{Sshd} did not start");
                _process.OutputDataReceived += (_, e) => Add(e.Data);
                _process.ErrorDataReceived += (_, e) => Add(e.Data);
                _process.BeginOutputReadLine();
                _process.BeginErrorReadLine();
                if (WaitUntilListening())
                {
                    return;
                }

                failures += $"port {Port}:\n{Output}\n";
                Stop();
            }

            throw new InvalidOperationException($"sshd did not listen on 127.0.0.1 within {StartTimeout.TotalSeconds} s:\n{failures}");
        }

        public int Port { get; private set; }

        public string ClientKey { get; }

        public string Output => string.Join('\n', _output);

        /// <summary>How many logins sshd has accepted so far.</summary>
        public int AcceptedLogins => _output.Count(l => l.StartsWith("Accepted publickey", StringComparison.Ordinal));

        public void Dispose()
        {
            Stop();
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        private void Stop()
        {
            if (_process is { HasExited: false })
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }

            _process?.Dispose();
            _process = null;
        }

        private bool WaitUntilListening()
        {
            var until = Stopwatch.StartNew();
            while (until.Elapsed < StartTimeout)
            {
                using var client = new TcpClient();
                try
                {
                    client.Connect(IPAddress.Loopback, Port);
                    return true;
                }
                catch (SocketException)
                {
                }

                if (_process!.WaitForExit(20))
                {
                    _process.WaitForExit();
                    return false;
                }
            }

            return false;
        }

        private static void KeyGen(string path)
        {
            var info = new ProcessStartInfo("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "kairo-deploy-test", "-f", path])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using var process = Process.Start(info) ?? throw new InvalidOperationException("ssh-keygen did not start");
            string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"ssh-keygen -f {path} failed: {output}");
        }

        private void Add(string? line)
        {
            if (line != null)
            {
                _output.Enqueue(line);
            }
        }
    }
}
