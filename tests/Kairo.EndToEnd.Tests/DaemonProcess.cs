using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Kairo.EndToEnd.Tests;

/// <summary>
/// The published AOT kairod as a child process: its output lines as they come, waits on a line (an event, not a
/// sleep), signals, and a kill on dispose so no test leaves a daemon behind.
/// </summary>
internal sealed partial class DaemonProcess : IDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = new();
    private readonly ConcurrentQueue<string> _all = new();

    private DaemonProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Add(e.Data);
        _process.ErrorDataReceived += (_, e) => Add(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public string Output => string.Join('\n', _all);

    public static DaemonProcess Start(params string[] arguments) => Start(new Dictionary<string, string>(), arguments);

    public static DaemonProcess Start(IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        StartProgram("kairod", environment, arguments);

    /// <summary>Another long-running program of the bundle, e.g. <c>kairoctl serve</c>.</summary>
    public static DaemonProcess StartProgram(string program, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var info = new ProcessStartInfo(Bundle.PathOf(program))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        foreach (string a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        return new DaemonProcess(Process.Start(info) ?? throw new InvalidOperationException("kairod did not start"));
    }

    /// <summary>Waits for an output line that satisfies <paramref name="match"/>; returns it, or fails with everything seen.</summary>
    public string WaitForLine(Func<string, bool> match, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            var left = until - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !_lines.TryTake(out string? line, left))
            {
                throw new TimeoutException($"no matching line from kairod within {timeout.TotalSeconds} s; output so far:\n{Output}");
            }

            if (match(line))
            {
                return line;
            }
        }
    }

    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed");
        }
    }

    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            throw new TimeoutException($"kairod did not exit within {timeout.TotalSeconds} s; output:\n{Output}");
        }

        _process.WaitForExit(); // drains the output readers
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
        _lines.Dispose();
    }

    private void Add(string? line)
    {
        if (line == null)
        {
            return;
        }

        _all.Enqueue(line);
        if (!_lines.IsAddingCompleted)
        {
            _lines.Add(line);
        }
    }

    public const int SIGHUP = 1;
    public const int SIGINT = 2;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
