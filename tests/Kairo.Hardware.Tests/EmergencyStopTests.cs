using System.Diagnostics;
using Kairo.Hardware.Gpio;
using Microsoft.Extensions.Logging;

namespace Kairo.Hardware.Tests;

public sealed class EmergencyStopTests
{
    private const int Line = 17;

    /// <summary>The wire level that means "stop" for an active level.</summary>
    private static bool Active(GpioActiveLevel level) => level == GpioActiveLevel.High;

    private static (SimulatedGpioDriver Sim, EmergencyStop Stop, StopRecorder Recorder, ListLogger Log) Create(
        GpioActiveLevel level, TimeSpan debounce, TimeSpan? recheck = null, TimeSpan? chatterLimit = null, bool startEngaged = false)
    {
        var sim = new SimulatedGpioDriver();
        sim.SetInput(Line, startEngaged ? Active(level) : !Active(level));
        var log = new ListLogger();
        var stop = new EmergencyStop(sim, new EmergencyStopOptions
        {
            Line = Line,
            ActiveLevel = level,
            Debounce = debounce,
            RecheckInterval = recheck ?? TimeSpan.FromMilliseconds(100),
            ChatterLimit = chatterLimit ?? TimeSpan.FromMilliseconds(500),
            RetryInterval = TimeSpan.FromMilliseconds(50),
        }, log);
        var recorder = new StopRecorder();
        stop.Changed += recorder.OnChanged;
        return (sim, stop, recorder, log);
    }

    [Theory]
    [InlineData(GpioActiveLevel.High, false)]
    [InlineData(GpioActiveLevel.High, true)]
    [InlineData(GpioActiveLevel.Low, false)]
    [InlineData(GpioActiveLevel.Low, true)]
    public void StartReportsTheInitialState(GpioActiveLevel level, bool engaged)
    {
        var (sim, stop, recorder, _) = Create(level, TimeSpan.FromMilliseconds(20), startEngaged: engaged);
        using (sim)
        using (stop)
        {
            Assert.False(stop.IsEngaged);
            stop.Start();
            Assert.Equal(1, recorder.Pending); // reported before Start returned
            Assert.Equal(engaged, recorder.Next().Engaged);
            Assert.Equal(engaged, stop.IsEngaged);
            Assert.False(stop.IsFaulted);
            Assert.True(sim.IsRequested(Line));
        }

        Assert.False(sim.IsRequested(Line));
    }

    [Theory]
    [InlineData(GpioActiveLevel.High)]
    [InlineData(GpioActiveLevel.Low)]
    public void ALevelHeldForTheDebounceTimeEngagesAndReleases(GpioActiveLevel level)
    {
        TimeSpan debounce = TimeSpan.FromMilliseconds(80);
        var (sim, stop, recorder, log) = Create(level, debounce);
        using (sim)
        using (stop)
        {
            stop.Start();
            Assert.False(recorder.Next().Engaged);

            long pressed = Stopwatch.GetTimestamp();
            sim.SetInput(Line, Active(level));
            var engage = recorder.Next();
            Assert.True(engage.Engaged);
            Assert.True(stop.IsEngaged);
            TimeSpan took = Stopwatch.GetElapsedTime(pressed, engage.Timestamp);
            Assert.True(took >= debounce, $"engaged after {took.TotalMilliseconds} ms, before the {debounce.TotalMilliseconds} ms debounce");

            long let = Stopwatch.GetTimestamp();
            sim.SetInput(Line, !Active(level));
            var release = recorder.Next();
            Assert.False(release.Engaged);
            Assert.False(stop.IsEngaged);
            took = Stopwatch.GetElapsedTime(let, release.Timestamp);
            Assert.True(took >= debounce, $"released after {took.TotalMilliseconds} ms, before the debounce");

            Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Message == $"emergency stop engaged (line {Line} of simulated)");
            Assert.Contains(log.Entries, e => e.Level == LogLevel.Information && e.Message == $"emergency stop released (line {Line} of simulated)");
        }
    }

    [Theory]
    [InlineData(GpioActiveLevel.High)]
    [InlineData(GpioActiveLevel.Low)]
    public void GlitchesShorterThanTheDebounceAreIgnored(GpioActiveLevel level)
    {
        TimeSpan debounce = TimeSpan.FromMilliseconds(300);
        var (sim, stop, recorder, _) = Create(level, debounce);
        using (sim)
        using (stop)
        {
            stop.Start();
            Assert.False(recorder.Next().Engaged);

            // Pulses far shorter than the debounce time: one back to back, then three of about 10 ms. The sleeps shape
            // the stimulus; nothing waits on them for a result.
            sim.SetInput(Line, Active(level));
            sim.SetInput(Line, !Active(level));
            for (int i = 0; i < 3; i++)
            {
                sim.SetInput(Line, Active(level));
                Thread.Sleep(10);
                sim.SetInput(Line, !Active(level));
                Thread.Sleep(10);
            }

            recorder.AssertNone(debounce * 3);
            Assert.False(stop.IsEngaged);

            // The monitor is alive: a held level still counts.
            sim.SetInput(Line, Active(level));
            Assert.True(recorder.Next().Engaged);
        }
    }

    [Fact]
    public void ReactionComesFromTheEdgeNotFromARecheck()
    {
        // Rechecks every 2 s; a monitor that only polled at that rate could not answer three edges in 250 ms each.
        var (sim, stop, recorder, _) = Create(GpioActiveLevel.High, TimeSpan.Zero, recheck: TimeSpan.FromSeconds(2));
        using (sim)
        using (stop)
        {
            stop.Start();
            Assert.False(recorder.Next().Engaged);
            for (int i = 0; i < 3; i++)
            {
                foreach (bool level in new[] { true, false })
                {
                    long edge = Stopwatch.GetTimestamp();
                    sim.SetInput(Line, level);
                    var change = recorder.Next();
                    Assert.Equal(level, change.Engaged);
                    TimeSpan took = Stopwatch.GetElapsedTime(edge, change.Timestamp);
                    Assert.True(took < TimeSpan.FromMilliseconds(250), $"reacted after {took.TotalMilliseconds} ms");
                }
            }
        }
    }

    [Fact]
    public void ADriverFailureEngagesAndIsLogged()
    {
        var (sim, stop, recorder, log) = Create(GpioActiveLevel.High, TimeSpan.FromMilliseconds(20));
        using (sim)
        using (stop)
        {
            stop.Start();
            Assert.False(recorder.Next().Engaged);

            sim.InjectFault(Line);
            Assert.True(recorder.Next().Engaged);
            Assert.True(stop.IsEngaged);
            Assert.True(stop.IsFaulted);
            var error = Assert.Single(log.AtLeast(LogLevel.Error));
            Assert.Contains($"emergency stop line {Line} of simulated failed", error.Message);
            Assert.Equal(5, Assert.IsType<GpioException>(error.Exception).ErrorCode);

            // Once the line can be read again and reads released for the debounce time, the stop releases.
            sim.ClearFault(Line);
            Assert.False(recorder.Next().Engaged);
            Assert.False(stop.IsFaulted);
            Assert.Contains(log.Entries, e => e.Message == $"emergency stop line {Line} of simulated can be read again");
        }
    }

    [Fact]
    public void ALineThatCannotBeRequestedAtStartEngages()
    {
        var (sim, stop, recorder, log) = Create(GpioActiveLevel.High, TimeSpan.FromMilliseconds(20));
        using (sim)
        using (stop)
        {
            sim.RequestInput(Line); // someone else holds it
            stop.Start();
            Assert.True(recorder.Next().Engaged);
            Assert.True(stop.IsFaulted);
            var error = Assert.Single(log.AtLeast(LogLevel.Error));
            Assert.Contains("already requested", error.Exception!.Message);

            sim.Release(Line);
            Assert.False(recorder.Next().Engaged);
            Assert.True(sim.IsRequested(Line));
        }
    }

    [Fact]
    public void ALineThatKeepsBouncingEngages()
    {
        var (sim, stop, recorder, log) = Create(GpioActiveLevel.High, TimeSpan.FromMilliseconds(100), chatterLimit: TimeSpan.FromMilliseconds(150));
        using (sim)
        using (stop)
        {
            stop.Start();
            Assert.False(recorder.Next().Engaged);

            // A broken contact: an edge every few milliseconds, never quiet for the debounce time.
            var clock = Stopwatch.StartNew();
            bool level = false;
            while (!stop.IsEngaged && clock.Elapsed < Patience.Long)
            {
                level = !level;
                sim.SetInput(Line, level);
                Thread.Sleep(5);
            }

            sim.SetInput(Line, false);
            Assert.True(recorder.Next().Engaged);
            Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("has bounced for over 150 ms"));

            // Quiet and released again: it settles and releases.
            Assert.False(recorder.Next().Engaged);
        }
    }

    [Fact]
    public void AThrowingHandlerDoesNotKeepTheStopFromOthers()
    {
        var (sim, stop, recorder, log) = Create(GpioActiveLevel.High, TimeSpan.Zero);
        using (sim)
        using (stop)
        {
            stop.Changed += _ => throw new InvalidOperationException("handler bug");
            var second = new StopRecorder();
            stop.Changed += second.OnChanged;
            stop.Start();
            Assert.False(second.Next().Engaged);
            sim.SetInput(Line, true);
            Assert.True(second.Next().Engaged);
            Assert.False(recorder.Next().Engaged); // the handler before the throwing one saw both reports too
            Assert.True(recorder.Next().Engaged);
            Assert.Contains(log.AtLeast(LogLevel.Error), e => e.Exception is InvalidOperationException);
        }
    }

    [Fact]
    public void StopReleasesTheLineAndCannotRestart()
    {
        var (sim, stop, _, _) = Create(GpioActiveLevel.Low, TimeSpan.FromMilliseconds(20));
        using (sim)
        {
            stop.Start();
            Assert.True(sim.IsRequested(Line));
            var clock = Stopwatch.StartNew();
            stop.Dispose();
            Assert.False(sim.IsRequested(Line));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5));
            Assert.Throws<ObjectDisposedException>(stop.Start);
        }
    }

    [Fact]
    public void OptionsAreChecked()
    {
        using var sim = new SimulatedGpioDriver();
        Assert.Throws<ArgumentOutOfRangeException>(() => new EmergencyStop(sim, new EmergencyStopOptions { Line = 1, Debounce = TimeSpan.FromMilliseconds(-1) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EmergencyStop(sim, new EmergencyStopOptions { Line = 1, RecheckInterval = TimeSpan.Zero }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EmergencyStop(sim, new EmergencyStopOptions { Line = 1, Debounce = TimeSpan.FromSeconds(1), ChatterLimit = TimeSpan.FromMilliseconds(10) }));
    }
}
