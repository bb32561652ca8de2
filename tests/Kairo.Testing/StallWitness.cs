using System.Diagnostics;

namespace Kairo.Testing;

/// <summary>A stretch during which the witness thread was due but did not run: CLOCK_MONOTONIC nanoseconds.</summary>
public readonly record struct MachineStall(long Due, long Woke)
{
    public long Length => Woke - Due;

    public override string ToString() => $"{Length / 1e6:0.00} ms stall from {Due}";
}

/// <summary>
/// The <c>stall_witness</c> program of <c>bench/c</c>, run beside a loop under test: a C thread that only wakes on a
/// 0.5 ms grid, pinned to the loop's CPU at a SCHED_FIFO priority above the loop's, so nothing in the test process
/// can hold it up. The stretches it reports are the machine's stalls (interrupts, the kernel, the hypervisor).
/// </summary>
public sealed class StallWitness : IDisposable
{
    /// <summary>The witness's wake-up period: its reports can start up to this much after the stall did.</summary>
    public const long PeriodNanoseconds = 500_000;

    private static readonly Lazy<string> Program = new(Build);

    private readonly Process _process;
    private readonly object _gate = new();
    private readonly List<MachineStall> _stalls = [];
    private readonly TaskCompletionSource<(bool Fifo, bool Cpu)> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _heard;
    private bool _ended;

    private StallWitness(int cpu, int priority)
    {
        Cpu = cpu;
        Priority = priority;
        var start = new ProcessStartInfo(Program.Value)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "--rate", (1_000_000_000 / PeriodNanoseconds).ToString(), "--threshold-us", "250", "--fifo", priority.ToString(), "--cpu", cpu.ToString() })
        {
            start.ArgumentList.Add(arg);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {Program.Value}");
        _process.OutputDataReceived += (_, e) => Hear(e.Data);
        _process.ErrorDataReceived += (_, e) => { if (e.Data != null) { Warnings.Add(e.Data); } };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        if (!_ready.Task.Wait(TimeSpan.FromSeconds(10)))
        {
            Dispose();
            throw new TimeoutException($"{Program.Value} did not report ready within 10 s");
        }

        (FifoApplied, CpuApplied) = _ready.Task.Result;
    }

    public int Cpu { get; }

    public int Priority { get; }

    public bool FifoApplied { get; }

    public bool CpuApplied { get; }

    /// <summary>True when the witness runs as asked: pinned, and above the loop it watches.</summary>
    public bool Privileged => FifoApplied && CpuApplied;

    public List<string> Warnings { get; } = [];

    /// <summary>Starts a witness on <paramref name="cpu"/> at SCHED_FIFO <paramref name="priority"/> (above the loop's).</summary>
    public static StallWitness Start(int cpu, int priority) => new(cpu, priority);

    /// <summary>
    /// The stalls the witness saw up to <paramref name="until"/> (CLOCK_MONOTONIC ns), once it has said every stall
    /// before that instant has been printed.
    /// </summary>
    public IReadOnlyList<MachineStall> StallsUntil(long until)
    {
        lock (_gate)
        {
            var patience = Stopwatch.StartNew();
            while (_heard < until && !_ended)
            {
                var left = TimeSpan.FromSeconds(10) - patience.Elapsed;
                if (left <= TimeSpan.Zero)
                {
                    throw new TimeoutException($"the stall witness said nothing past {_heard} ns for 10 s; waited for {until} ns");
                }

                Monitor.Wait(_gate, left);
            }

            if (_heard < until)
            {
                throw new InvalidOperationException($"the stall witness ended (exit code {(_process.HasExited ? _process.ExitCode : -1)}) before {until} ns: {string.Join("; ", Warnings)}");
            }

            return _stalls.ToArray();
        }
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(2000))
            {
                _process.Kill();
                _process.WaitForExit();
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    private void Hear(string? line)
    {
        lock (_gate)
        {
            if (line == null)
            {
                _ended = true;
                _ready.TrySetException(new InvalidOperationException($"the stall witness ended before it was ready: {string.Join("; ", Warnings)}"));
            }
            else
            {
                string[] f = line.Split(' ');
                switch (f[0])
                {
                    case "ready":
                        _heard = long.Parse(f[1]);
                        _ready.TrySetResult((f[2] == "1", f[3] == "1"));
                        break;
                    case "stall":
                        _stalls.Add(new MachineStall(long.Parse(f[1]), long.Parse(f[2])));
                        _heard = long.Parse(f[2]);
                        break;
                    case "at":
                        _heard = long.Parse(f[1]);
                        break;
                }
            }

            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Builds the witness from bench/c with make (idempotent), once per test process.</summary>
    private static string Build()
    {
        string root = RepoRoot();
        string output = Path.Combine(root, "out", "bench", "c");
        var make = new ProcessStartInfo("make") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { "-s", "-C", Path.Combine(root, "bench", "c"), $"OUT={output}", Path.Combine(output, "stall_witness") })
        {
            make.ArgumentList.Add(arg);
        }

        using var process = Process.Start(make) ?? throw new InvalidOperationException("could not run make");
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"building bench/c/stall_witness failed (make exit {process.ExitCode}; scripts/setup installs gcc and make): {errors}");
        }

        return Path.Combine(output, "stall_witness");
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kairo.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Kairo.sln above {AppContext.BaseDirectory}");
    }
}
