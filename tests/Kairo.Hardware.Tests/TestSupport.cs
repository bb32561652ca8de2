using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Kairo.Hardware.Tests;

internal static class Patience
{
    /// <summary>How long a test waits for something that should happen (generous: CI machines are slow and shared).</summary>
    public static readonly TimeSpan Long = TimeSpan.FromSeconds(10);
}

/// <summary>A logger that keeps every entry and lets a test wait for one.</summary>
internal sealed class ListLogger : ILogger
{
    private readonly ConcurrentQueue<(LogLevel Level, string Message, Exception? Exception)> _entries = new();
    private readonly SemaphoreSlim _logged = new(0);

    public IReadOnlyList<(LogLevel Level, string Message, Exception? Exception)> Entries => _entries.ToArray();

    public IReadOnlyList<(LogLevel Level, string Message, Exception? Exception)> AtLeast(LogLevel level) =>
        _entries.Where(e => e.Level >= level).ToArray();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        _entries.Enqueue((logLevel, formatter(state, exception), exception));
        _logged.Release();
    }

    /// <summary>Waits until an entry at <paramref name="level"/> or above has been logged.</summary>
    public bool WaitFor(LogLevel level, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (AtLeast(level).Count == 0)
        {
            TimeSpan left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero || !_logged.Wait(left))
            {
                return AtLeast(level).Count > 0;
            }
        }

        return true;
    }
}

/// <summary>Records an emergency stop's reports, with when they came, for tests to wait on.</summary>
internal sealed class StopRecorder
{
    private readonly BlockingCollection<(bool Engaged, long Timestamp)> _changes = new();

    public void OnChanged(bool engaged) => _changes.Add((engaged, Stopwatch.GetTimestamp()));

    /// <summary>The next report, or fails the test when none comes in time.</summary>
    public (bool Engaged, long Timestamp) Next(TimeSpan? timeout = null)
    {
        Assert.True(_changes.TryTake(out var change, timeout ?? Patience.Long), "the emergency stop reported nothing in time");
        return change;
    }

    /// <summary>Fails the test when a report comes within <paramref name="window"/>.</summary>
    public void AssertNone(TimeSpan window)
    {
        if (_changes.TryTake(out var change, window))
        {
            Assert.Fail($"unexpected report: engaged = {change.Engaged}");
        }
    }

    public int Pending => _changes.Count;
}

/// <summary>Runs a blocking call on a thread of its own, so a test can block in it while the test drives the other side.</summary>
internal sealed class Waiter<T>
{
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _started = new();
    private T? _result;
    private Exception? _error;

    public Waiter(Func<T> call)
    {
        _thread = new Thread(() =>
        {
            _started.Set();
            try
            {
                _result = call();
            }
            catch (Exception e)
            {
                _error = e;
            }
        })
        { IsBackground = true };
        _thread.Start();
        Assert.True(_started.Wait(Patience.Long));
    }

    /// <summary>
    /// Waits until the thread is blocked (in the call under test: it does nothing else), so that what the test does
    /// next has to wake it. Nothing signals "now blocked", so this looks at the thread's state.
    /// </summary>
    public void UntilBlocked()
    {
        var clock = Stopwatch.StartNew();
        while ((_thread.ThreadState & System.Threading.ThreadState.WaitSleepJoin) == 0)
        {
            Assert.True(clock.Elapsed < Patience.Long, "the call never blocked");
            Thread.Yield();
        }
    }

    /// <summary>The call's result once it returns (or fails the test when it does not in time); rethrows what it threw.</summary>
    public T Result()
    {
        Assert.True(_thread.Join(Patience.Long), "the blocking call did not return in time");
        if (_error is not null)
        {
            throw _error;
        }

        return _result!;
    }
}
