using System.Diagnostics;
using Kairo.Hardware.Gpio;
using Microsoft.Extensions.Logging;

namespace Kairo.Hardware.Tests;

public sealed class HeartbeatOutputTests
{
    [Fact]
    public void TogglesEveryPeriodWhileRunningAndStopsLow()
    {
        using var sim = new SimulatedGpioDriver();
        TimeSpan period = TimeSpan.FromMilliseconds(20);
        using var heartbeat = new HeartbeatOutput(sim, 4, period);
        var clock = Stopwatch.StartNew();
        heartbeat.Start();
        Assert.True(heartbeat.IsRunning);
        Assert.True(sim.WaitForOutputChanges(4, 8, Patience.Long), $"only {sim.GetOutputChangeCount(4)} toggles");
        TimeSpan took = clock.Elapsed;
        heartbeat.Stop();

        Assert.False(heartbeat.IsRunning);
        Assert.True(took >= period * 7, $"8 toggles took {took.TotalMilliseconds} ms: faster than one per {period.TotalMilliseconds} ms");
        Assert.True(heartbeat.Toggles >= 8);
        Assert.False(sim.GetOutput(4));
        Assert.False(sim.IsRequested(4));

        var history = sim.GetOutputHistory(4);
        for (int i = 0; i < history.Count; i++)
        {
            Assert.Equal(i % 2 == 0, history[i].Level); // high, low, high, ... ending low
        }

        Assert.False(history[^1].Level);
    }

    [Fact]
    public void AnActiveLowHeartbeatIdlesHigh()
    {
        using var sim = new SimulatedGpioDriver();
        using var heartbeat = new HeartbeatOutput(sim, 2, TimeSpan.FromMilliseconds(10), activeLow: true);
        heartbeat.Start();
        Assert.True(sim.WaitForOutputChanges(2, 3, Patience.Long));
        heartbeat.Stop();
        Assert.True(sim.GetOutput(2));
    }

    [Fact]
    public void AFailingLineIsLoggedOnceAndTheBeatResumes()
    {
        using var sim = new SimulatedGpioDriver();
        var log = new ListLogger();
        using var heartbeat = new HeartbeatOutput(sim, 6, TimeSpan.FromMilliseconds(10), logger: log);
        heartbeat.Start();
        Assert.True(sim.WaitForOutputChanges(6, 2, Patience.Long));

        sim.InjectFault(6);
        Assert.True(log.WaitFor(LogLevel.Error, Patience.Long));
        long during = heartbeat.Toggles;
        int changes = sim.GetOutputChangeCount(6);
        sim.ClearFault(6);
        Assert.True(sim.WaitForOutputChanges(6, changes + 3, Patience.Long));
        heartbeat.Stop();

        Assert.True(heartbeat.Toggles > during);
        Assert.Single(log.AtLeast(LogLevel.Error));
        Assert.Contains(log.Entries, e => e.Message == "heartbeat line 6 of simulated is toggling again");
    }

    [Fact]
    public void ALineThatCannotBeRequestedThrowsAtStart()
    {
        using var sim = new SimulatedGpioDriver();
        sim.RequestInput(1);
        using var heartbeat = new HeartbeatOutput(sim, 1, TimeSpan.FromMilliseconds(10));
        Assert.Throws<GpioException>(heartbeat.Start);
        Assert.False(heartbeat.IsRunning);
    }
}

public sealed class StatusOutputTests
{
    [Fact]
    public void StartsOffAndFollowsTheDaemon()
    {
        using var sim = new SimulatedGpioDriver();
        using (var status = new StatusOutput(sim, 3))
        {
            Assert.True(sim.IsRequested(3));
            Assert.False(status.IsOn);
            Assert.False(sim.GetOutput(3));
            Assert.True(status.Set(true));
            Assert.True(status.IsOn);
            Assert.True(sim.GetOutput(3));
        }

        Assert.False(sim.GetOutput(3)); // disposed: off, and the line given back
        Assert.False(sim.IsRequested(3));
    }

    [Fact]
    public void AnActiveLowStatusDrivesTheWireInverted()
    {
        using var sim = new SimulatedGpioDriver();
        using var status = new StatusOutput(sim, 3, activeLow: true);
        Assert.True(sim.GetOutput(3));
        status.Set(true);
        Assert.False(sim.GetOutput(3));
    }

    [Fact]
    public void AFailureIsReportedAndLoggedNotThrown()
    {
        using var sim = new SimulatedGpioDriver();
        var log = new ListLogger();
        using var status = new StatusOutput(sim, 5, logger: log);
        sim.InjectFault(5);
        Assert.False(status.Set(true));
        Assert.False(status.Set(true));
        Assert.False(status.IsOn);
        var warning = Assert.Single(log.AtLeast(LogLevel.Warning));
        Assert.Equal("status line 5 of simulated could not be set on", warning.Message);

        sim.ClearFault(5);
        Assert.True(status.Set(true));
        Assert.True(sim.GetOutput(5));
    }
}
