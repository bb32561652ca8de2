using System.Diagnostics;
using System.Runtime.InteropServices;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Sinks;

namespace Kairo.Runtime.Tests;

/// <summary>A directory of its own for one test (under /dev/shm when asked, for rings), removed afterwards.</summary>
internal sealed class ScratchDirectory : IDisposable
{
    public ScratchDirectory(bool sharedMemory = false)
    {
        string root = sharedMemory && Directory.Exists(FrameRing.DefaultDirectory) ? FrameRing.DefaultDirectory : System.IO.Path.GetTempPath();
        Path = System.IO.Path.Combine(root, $"kairo-test-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// A sink that keeps the whole float output frame of each tick (into memory allocated up front) and signals the first
/// time every element of an output equals a wanted value.
/// </summary>
internal sealed class FrameCaptureSink : IFrameSink
{
    private readonly float[][] _frames;
    private readonly FrameFlags[] _flags;
    private readonly float _wanted;
    private int _count;

    public FrameCaptureSink(int capacity, int floatsPerFrame, float wanted = float.NaN)
    {
        _frames = new float[capacity][];
        for (int i = 0; i < capacity; i++)
        {
            _frames[i] = new float[floatsPerFrame];
        }

        _flags = new FrameFlags[capacity];
        _wanted = wanted;
    }

    /// <summary>Set when a fresh output whose every element is the wanted value arrived.</summary>
    public ManualResetEventSlim SawWanted { get; } = new();

    public string Description => "capture";

    public SinkCounters Counters { get; } = new();

    public int Count => Volatile.Read(ref _count);

    public float[] Frame(int i) => _frames[i];

    public FrameFlags Flags(int i) => _flags[i];

    public void Open(FrameLayout layout)
    {
    }

    public void Write(in TickFrame tick, ReadOnlySpan<byte> outputs)
    {
        int i = _count;
        if (i >= _frames.Length)
        {
            return;
        }

        var values = MemoryMarshal.Cast<byte, float>(outputs);
        values[.._frames[i].Length].CopyTo(_frames[i]);
        _flags[i] = tick.Flags;
        Volatile.Write(ref _count, i + 1);
        if (tick.Flags == FrameFlags.None && values[.._frames[i].Length].IndexOfAnyExcept(_wanted) < 0)
        {
            SawWanted.Set();
        }
    }

    public void Dispose() => SawWanted.Dispose();
}

/// <summary>
/// Runs kairoctl as another process: the JIT build of the same configuration as these tests when it was built
/// together with them (dotnet build Kairo.sln), else the NativeAOT bundle (scripts/publish). A kairoctl built from
/// other sources than the runtime under test fails the test, telling how to rebuild, rather than test stale code.
/// </summary>
internal static class Kairoctl
{
    private static readonly Lazy<(string FileName, string[] Prefix)> s_program = new(Locate);

    public static CtlProcess Start(params string[] arguments)
    {
        var (fileName, prefix) = s_program.Value;
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = Repo.Root,
        };
        foreach (string argument in prefix.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        return new CtlProcess(start);
    }

    /// <summary>Runs kairoctl to its end and returns its exit code and output; fails the test when it outlives <paramref name="timeout"/>.</summary>
    public static (int ExitCode, string Output) Run(TimeSpan timeout, params string[] arguments)
    {
        using var process = Start(arguments);
        int exitCode = process.WaitForExit(timeout);
        return (exitCode, process.Output);
    }

    private static (string, string[]) Locate()
    {
        // tests/Kairo.Runtime.Tests/bin/<Configuration>/<tfm>/
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        string configuration = output.Parent!.Name;
        string jitDirectory = Path.Combine(Repo.Root, "src", "kairoctl", "bin", configuration, "net9.0");
        string jit = Path.Combine(jitDirectory, "kairoctl.dll");
        string runtimeUnderTest = Path.Combine(AppContext.BaseDirectory, "Kairo.Runtime.dll");
        string runtimeOfJit = Path.Combine(jitDirectory, "Kairo.Runtime.dll");
        if (File.Exists(jit) && File.Exists(runtimeOfJit) && File.ReadAllBytes(runtimeOfJit).AsSpan().SequenceEqual(File.ReadAllBytes(runtimeUnderTest)))
        {
            return ("dotnet", [jit]);
        }

        string? configured = Environment.GetEnvironmentVariable("KAIRO_BUNDLE_DIR");
        string bundle = Path.Combine(string.IsNullOrEmpty(configured) ? Path.Combine(Repo.Root, "out", "bundle", "linux-x64") : Path.GetFullPath(configured, Repo.Root), "kairoctl");
        if (File.Exists(bundle))
        {
            return (bundle, []);
        }

        Assert.Fail($"no kairoctl built from the runtime under test: {jit} is missing or was built from other sources, and there is no bundle at {bundle}. " +
            $"Build the whole solution (dotnet build Kairo.sln -c {configuration}) or run scripts/publish.");
        return default;
    }
}

/// <summary>A running kairoctl: its output lines as they come, and waits on them without sleeping.</summary>
internal sealed class CtlProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly Lock _gate = new();
    private readonly ManualResetEventSlim _newLine = new();

    public CtlProcess(ProcessStartInfo start)
    {
        CommandLine = $"{start.FileName} {string.Join(' ', start.ArgumentList)}";
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Add(e.Data);
        _process.ErrorDataReceived += (_, e) => Add(e.Data);
        _process.Start();
        _process.StandardInput.Close();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string CommandLine { get; }

    /// <summary>Everything printed so far, stdout and stderr interleaved as they arrived.</summary>
    public string Output
    {
        get
        {
            lock (_gate)
            {
                return $"{CommandLine}\n{string.Join('\n', _lines)}";
            }
        }
    }

    /// <summary>Waits for a line that passes <paramref name="match"/> and returns it; fails the test on timeout or exit.</summary>
    public string WaitForLine(Func<string, bool> match, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        int seen = 0;
        while (true)
        {
            _newLine.Reset();
            lock (_gate)
            {
                for (; seen < _lines.Count; seen++)
                {
                    if (match(_lines[seen]))
                    {
                        return _lines[seen];
                    }
                }
            }

            if (_process.HasExited && _process.WaitForExit(1000) && !HasUnread(seen))
            {
                Assert.Fail($"kairoctl exited ({_process.ExitCode}) before printing the line waited for:\n{Output}");
            }

            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                Assert.Fail($"kairoctl did not print the line waited for within {timeout.TotalSeconds} s:\n{Output}");
            }

            _newLine.Wait(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1)); // the 1 s cap notices an exit
        }
    }

    /// <summary>Waits for the process to end and returns its exit code; kills it and fails the test on timeout.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            _process.Kill();
            _process.WaitForExit();
            Assert.Fail($"kairoctl did not finish within {timeout.TotalSeconds} s and was killed:\n{Output}");
        }

        _process.WaitForExit(); // drains the redirected streams
        return _process.ExitCode;
    }

    private bool HasUnread(int seen)
    {
        lock (_gate)
        {
            return seen < _lines.Count;
        }
    }

    private void Add(string? line)
    {
        if (line == null)
        {
            return;
        }

        lock (_gate)
        {
            _lines.Add(line);
        }

        _newLine.Set();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
        _newLine.Dispose();
    }
}
