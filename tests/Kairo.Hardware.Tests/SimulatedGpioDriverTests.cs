using System.Diagnostics;
using Kairo.Hardware.Gpio;

namespace Kairo.Hardware.Tests;

public sealed class SimulatedGpioDriverTests
{
    [Fact]
    public void TheSimulatedChipOpensByName()
    {
        using IGpioDriver driver = IGpioDriver.Open("simulated");
        Assert.IsType<SimulatedGpioDriver>(driver);
        Assert.Equal("simulated", driver.ChipName);
        Assert.Equal(64, driver.LineCount);
    }

    [Theory]
    [InlineData(GpioBias.PullUp, true)]
    [InlineData(GpioBias.PullDown, false)]
    [InlineData(GpioBias.AsIs, false)]
    public void AnUndrivenInputFollowsItsBias(GpioBias bias, bool expected)
    {
        using var sim = new SimulatedGpioDriver();
        sim.RequestInput(3, bias: bias);
        Assert.Equal(expected, sim.Read(3));
    }

    [Fact]
    public void ActiveLowInvertsReadsAndEdges()
    {
        using var sim = new SimulatedGpioDriver();
        sim.SetInput(5, true); // idle high, as a pulled-up button
        sim.RequestEdgeEvents(5, activeLow: true);
        Assert.False(sim.Read(5));

        sim.SetInput(5, false); // pressed: the wire goes low
        Assert.True(sim.Read(5));
        Assert.True(sim.WaitForEdge(5, TimeSpan.Zero, out GpioEdgeEvent pressed));
        Assert.Equal(GpioEdge.Rising, pressed.Edge);

        sim.SetInput(5, true);
        Assert.True(sim.WaitForEdge(5, TimeSpan.Zero, out GpioEdgeEvent let));
        Assert.Equal(GpioEdge.Falling, let.Edge);
        Assert.True(let.TimestampNanoseconds >= pressed.TimestampNanoseconds);
    }

    [Fact]
    public void ALevelThatDoesNotChangeMakesNoEdge()
    {
        using var sim = new SimulatedGpioDriver();
        sim.RequestEdgeEvents(1);
        sim.SetInput(1, false);
        Assert.False(sim.WaitForEdge(1, TimeSpan.Zero, out _));
    }

    [Fact]
    public void AWaiterWakesOnTheEdge()
    {
        using var sim = new SimulatedGpioDriver();
        sim.RequestEdgeEvents(2);
        var waiter = new Waiter<(bool, GpioEdgeEvent)>(() =>
        {
            bool got = sim.WaitForEdge(2, TimeSpan.FromSeconds(30), out GpioEdgeEvent edge);
            return (got, edge);
        });

        waiter.UntilBlocked();
        var clock = Stopwatch.StartNew();
        sim.SetInput(2, true);
        var (got, edge) = waiter.Result();
        Assert.True(got);
        Assert.Equal(GpioEdge.Rising, edge.Edge);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the waiter took {clock.Elapsed} to wake");
    }

    [Fact]
    public void AWaitWithoutAnEdgeTimesOut()
    {
        using var sim = new SimulatedGpioDriver();
        sim.RequestEdgeEvents(0);
        var clock = Stopwatch.StartNew();
        Assert.False(sim.WaitForEdge(0, TimeSpan.FromMilliseconds(60), out _));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(55), $"returned after {clock.Elapsed}");
        Assert.Throws<ArgumentOutOfRangeException>(() => sim.WaitForEdge(0, Timeout.InfiniteTimeSpan, out _));
    }

    [Fact]
    public void EdgesQueueInOrderAndOverflowIsDropped()
    {
        using var sim = new SimulatedGpioDriver();
        sim.RequestEdgeEvents(4);
        for (int i = 0; i < SimulatedGpioDriver.EdgeQueueCapacity + 4; i++)
        {
            sim.SetInput(4, i % 2 == 0);
        }

        for (int i = 0; i < SimulatedGpioDriver.EdgeQueueCapacity; i++)
        {
            Assert.True(sim.WaitForEdge(4, TimeSpan.Zero, out GpioEdgeEvent edge));
            Assert.Equal(i % 2 == 0 ? GpioEdge.Rising : GpioEdge.Falling, edge.Edge);
        }

        Assert.False(sim.WaitForEdge(4, TimeSpan.Zero, out _));
        Assert.False(sim.Read(4)); // the level is the last one driven even though its edge was dropped
    }

    [Fact]
    public void OutputsRecordEveryChangeOfTheirLevel()
    {
        using var sim = new SimulatedGpioDriver();
        sim.RequestOutput(7, initialValue: true);
        Assert.True(sim.GetOutput(7));
        sim.Write(7, true); // no change
        sim.Write(7, false);
        sim.Write(7, true);
        Assert.Equal(3, sim.GetOutputChangeCount(7));
        Assert.Equal([true, false, true], sim.GetOutputHistory(7).Select(c => c.Level));
        Assert.True(sim.Read(7));
        Assert.True(sim.WaitForOutputChanges(7, 3, TimeSpan.Zero));
        Assert.False(sim.WaitForOutputChanges(7, 4, TimeSpan.FromMilliseconds(20)));
    }

    [Fact]
    public void OutputHistoryKeepsTheLatestChangesAndCountsAll()
    {
        using var sim = new SimulatedGpioDriver();
        sim.RequestOutput(0);
        int writes = SimulatedGpioDriver.HistoryCapacity + 10;
        for (int i = 1; i <= writes; i++)
        {
            sim.Write(0, i % 2 == 1);
        }

        Assert.Equal(writes, sim.GetOutputChangeCount(0));
        var history = sim.GetOutputHistory(0);
        Assert.Equal(SimulatedGpioDriver.HistoryCapacity, history.Count);
        Assert.Equal(writes % 2 == 1, history[^1].Level);
    }

    [Fact]
    public void AnActiveLowOutputDrivesTheWireInverted()
    {
        using var sim = new SimulatedGpioDriver();
        sim.RequestOutput(8, initialValue: false, activeLow: true);
        Assert.True(sim.GetOutput(8));
        sim.Write(8, true);
        Assert.False(sim.GetOutput(8));
    }

    [Fact]
    public void ALineIsRequestedOnceAndReleasedForReuse()
    {
        using var sim = new SimulatedGpioDriver();
        sim.RequestInput(9);
        var busy = Assert.Throws<GpioException>(() => sim.RequestOutput(9));
        Assert.Equal(16, busy.ErrorCode); // EBUSY
        Assert.Contains("already requested by kairod as an input", busy.Message);

        sim.Release(9);
        Assert.False(sim.IsRequested(9));
        sim.RequestOutput(9);
        Assert.True(sim.IsRequested(9));
    }

    [Fact]
    public void MisuseIsRefusedWithAClearMessage()
    {
        using var sim = new SimulatedGpioDriver(lineCount: 8);
        var range = Assert.Throws<GpioException>(() => sim.RequestInput(8));
        Assert.Equal(22, range.ErrorCode); // EINVAL
        Assert.Equal("GPIO line 8 does not exist: chip 'simulated' has 8 lines (0-7)", range.Message);

        Assert.Contains("not requested", Assert.Throws<InvalidOperationException>(() => sim.Read(1)).Message);
        sim.RequestInput(1);
        Assert.Contains("needs an output", Assert.Throws<InvalidOperationException>(() => sim.Write(1, true)).Message);
        Assert.Throws<InvalidOperationException>(() => sim.WaitForEdge(1, TimeSpan.Zero, out _));
        sim.RequestOutput(2);
        Assert.Throws<InvalidOperationException>(() => sim.SetInput(2, true));
    }

    [Fact]
    public void AFaultFailsTheLineAndWakesItsWaiter()
    {
        using var sim = new SimulatedGpioDriver();
        sim.RequestEdgeEvents(3);
        var waiter = new Waiter<bool>(() => sim.WaitForEdge(3, TimeSpan.FromSeconds(30), out _));
        waiter.UntilBlocked();
        sim.InjectFault(3);
        var gpio = Assert.Throws<GpioException>(() => waiter.Result());
        Assert.Equal(5, gpio.ErrorCode); // EIO
        Assert.Equal("Input/output error", gpio.NativeMessage);
        Assert.Throws<GpioException>(() => sim.Read(3));

        sim.ClearFault(3);
        Assert.False(sim.Read(3));
    }

    [Fact]
    public void AClosedChipRefusesWork()
    {
        var sim = new SimulatedGpioDriver();
        sim.RequestInput(0);
        sim.Dispose();
        Assert.Throws<ObjectDisposedException>(() => sim.Read(0));
        Assert.False(sim.IsRequested(0));
    }
}
